import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// A complete request, body included, as the router sees it.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The path without the query string, such as `/login`.
    public var path: String
    public var query: String?
    public var headers: HTTPHeaders
    public var body: ByteBuffer?
    /// The client's address: the peer's, or the one a trusted proxy put in `X-Forwarded-For`.
    public var clientIP: String?
    /// Values of the route's `:name` segments.
    public var parameters: [String: String] = [:]
    /// Carries the request id in its metadata.
    public var logger: Logger

    public init(
        method: HTTPMethod,
        uri: String,
        headers: HTTPHeaders,
        body: ByteBuffer?,
        clientIP: String? = nil,
        logger: Logger
    ) {
        self.method = method
        if let mark = uri.firstIndex(of: "?") {
            self.path = String(uri[..<mark])
            self.query = String(uri[uri.index(after: mark)...])
        } else {
            self.path = uri
            self.query = nil
        }
        self.headers = headers
        self.body = body
        self.clientIP = clientIP
        self.logger = logger
    }

    /// The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1), or `nil` when the
    /// header is absent or of another scheme. A Bearer header with no token is an invalid request.
    public func bearerToken() throws(HTTPError) -> String? {
        guard let value = self.headers.first(name: "authorization") else { return nil }
        if let token = Self.credentials(in: value, scheme: "bearer") { return token }
        // Another scheme (Basic, say) is no token at all: the bare challenge (RFC 6750 §3.1).
        let scheme = value.drop(while: { $0 == " " || $0 == "\t" }).prefix(while: { $0 != " " && $0 != "\t" })
        guard scheme.lowercased() == "bearer" else { return nil }
        throw .unauthorized("invalid_request", "use Authorization: Bearer <access token>")
    }

    /// The credentials of the `Authorization` header when it uses `scheme` (case-insensitive),
    /// trimmed; `nil` when the header is absent, of another scheme, or empty.
    /// Works on the UTF-8 bytes: it runs on every authenticated request, and Foundation's
    /// trimming cost a tenth of the verify path's CPU.
    func authorization(scheme: String) -> String? {
        self.headers.first(name: "authorization").flatMap { Self.credentials(in: $0, scheme: scheme) }
    }

    /// `scheme` is lowercase.
    private static func credentials(in value: String, scheme: String) -> String? {
        let bytes = value.utf8
        let isSpace = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, isSpace(bytes[start]) { start = bytes.index(after: start) }
        while end > start, isSpace(bytes[bytes.index(before: end)]) { end = bytes.index(before: end) }
        // The scheme, case-insensitively, then at least one space.
        var index = start
        for expected in scheme.utf8 {
            guard index < end, Self.asciiLowercased(bytes[index]) == expected else { return nil }
            index = bytes.index(after: index)
        }
        guard index < end, bytes[index] == UInt8(ascii: " ") else { return nil }
        while index < end, isSpace(bytes[index]) { index = bytes.index(after: index) }
        guard index < end else { return nil }
        return String(Substring(bytes[index..<end]))
    }

    private static func asciiLowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
    }
}

extension HTTPRequest {
    /// Whether the body is `application/x-www-form-urlencoded` (the OAuth endpoints' format).
    public var isForm: Bool {
        guard let type = self.headers.first(name: "content-type") else { return false }
        let form = "application/x-www-form-urlencoded".utf8
        return type.utf8.count >= form.count
            && zip(type.utf8, form).allSatisfy { Self.asciiLowercased($0) == $1 }
    }

    /// The client id and secret of an `Authorization: Basic` header (RFC 7617), or `nil`.
    public func basicCredentials() -> (id: String, secret: String)? {
        guard let encoded = self.authorization(scheme: "basic"), let decoded = Data(base64Encoded: encoded),
            let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        // RFC 6749 §2.3.1: the id and secret are form-encoded before Basic encoding.
        return (
            FormBody.percentDecode(String(text[..<colon])) ?? "",
            FormBody.percentDecode(String(text[text.index(after: colon)...])) ?? ""
        )
    }
}
