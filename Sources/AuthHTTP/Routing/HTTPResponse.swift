import NIOCore
import NIOHTTP1

/// A response to write: status, headers and an optional body.
public struct HTTPResponse: Sendable, Equatable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer?

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: ByteBuffer? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    private static let jsonHeaders: HTTPHeaders = ["content-type": "application/json"]

    /// A JSON response.
    static func json(_ value: some JSONResponseBody, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, headers: Self.jsonHeaders, body: ByteBuffer(bytes: value.json))
    }

    /// A response that carries tokens: never cached (RFC 6749 §5.1).
    static func tokens(_ value: some JSONResponseBody) -> HTTPResponse {
        HTTPResponse(status: .ok, headers: Self.tokenHeaders, body: ByteBuffer(bytes: value.json))
    }

    private static let tokenHeaders: HTTPHeaders = [
        "content-type": "application/json", "cache-control": "no-store", "pragma": "no-cache",
    ]

    public static let noContent = HTTPResponse(status: .noContent)
}

/// A response body, written with ``WireJSON/JSONObjectWriter`` (the one JSON writer), members in
/// sorted order: the same response is the same bytes (login failures must not differ).
protocol JSONResponseBody {
    var json: [UInt8] { get }
}

/// A body written once, for the constant responses.
struct PrewrittenJSON: JSONResponseBody {
    let json: [UInt8]
}
