import Foundation
import NIOCore
import NIOHTTP1

/// A response to write: status, headers and an optional body.
public struct HTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer?

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: ByteBuffer? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    private static let jsonHeaders: HTTPHeaders = ["content-type": "application/json"]

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        // Sorted keys: the same response is the same bytes (login failures must not differ).
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }()

    /// A JSON response.
    public static func json(_ value: some Encodable, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        // Encoding our own response types cannot fail.
        let body = ByteBuffer(bytes: (try? Self.encoder.encode(value)) ?? Data("{}".utf8))
        return HTTPResponse(status: status, headers: Self.jsonHeaders, body: body)
    }

    /// A JSON response whose body writes itself; chosen over the `Encodable` one at compile time,
    /// with no dynamic cast or boxed value per response.
    static func json(_ value: some DirectJSONBody, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, headers: Self.jsonHeaders, body: ByteBuffer(bytes: value.json))
    }

    /// A response that carries tokens: never cached (RFC 6749 §5.1).
    public static func tokens(_ value: some Encodable) -> HTTPResponse {
        var response = Self.json(value)
        response.headers = Self.tokenHeaders
        return response
    }

    static func tokens(_ value: some DirectJSONBody) -> HTTPResponse {
        HTTPResponse(status: .ok, headers: Self.tokenHeaders, body: ByteBuffer(bytes: value.json))
    }

    private static let tokenHeaders: HTTPHeaders = [
        "content-type": "application/json", "cache-control": "no-store", "pragma": "no-cache",
    ]

    public static let noContent = HTTPResponse(status: .noContent)
}

/// A response body on a hot path (verify, refresh) that writes its own JSON: the same bytes as
/// `JSONEncoder` with sorted keys gives, without its cost (about 3 µs a response). A test holds
/// each such body to `JSONEncoder`'s output.
protocol DirectJSONBody: Encodable {
    var json: [UInt8] { get }
}
