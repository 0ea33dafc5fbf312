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
    /// Carries the request id in its metadata.
    public var logger: Logger

    public init(method: HTTPMethod, uri: String, headers: HTTPHeaders, body: ByteBuffer?, logger: Logger) {
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
        self.logger = logger
    }

    /// The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1), or `nil` when the
    /// header is absent. A header with another scheme or no token is an invalid request.
    public func bearerToken() throws(HTTPError) -> String? {
        guard let value = self.headers.first(name: "authorization") else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw .unauthorized("invalid_request", "use Authorization: Bearer <access token>")
        }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }
}
