import NIOHTTP1

/// The refresh token in an `HttpOnly` cookie, for single-page apps (`AUTHD_REFRESH_COOKIE`), as
/// OAuth 2.0 for Browser-Based Apps and OWASP advise: JavaScript (so an XSS) cannot read it, and
/// the page keeps only the short-lived access token, in memory.
///
/// It applies to requests from an allowed browser origin (`Origin` in `AUTHD_CORS_ORIGINS`) only;
/// other clients (servers, mobile apps, OAuth libraries) keep getting and sending the refresh token
/// in bodies, as before. The cookie is `Secure; HttpOnly; SameSite=Strict` and set twice, once for
/// each path that reads it (`/token` and `/logout`), so no other request ever carries it. A
/// request that authenticates with the cookie must come from an allowed origin: that is the CSRF
/// guard (a form or `fetch` from elsewhere is refused before it runs, see ``CORSPolicy``).
public struct RefreshCookie: Sendable {
    public static let name = "authd_refresh"
    static let paths = ["/token", "/logout"]

    let cors: CORSPolicy
    /// The cookie's lifetime: the refresh token's, renewed at every rotation.
    let maxAge: Int

    public init(cors: CORSPolicy, maxAge: Int) {
        self.cors = cors
        self.maxAge = maxAge
    }

    /// Whether this request is a browser's on an allowed origin: its refresh token travels in the
    /// cookie.
    func applies(to request: HTTPRequest) -> Bool {
        request.headers.first(name: "origin").map(self.cors.allows) ?? false
    }

    func set(_ token: String, on response: inout HTTPResponse) {
        for path in Self.paths {
            response.headers.add(
                name: "set-cookie",
                value: "\(Self.name)=\(token); Path=\(path); Max-Age=\(self.maxAge); HttpOnly; Secure; SameSite=Strict")
        }
    }

    func clear(on response: inout HTTPResponse) {
        for path in Self.paths {
            response.headers.add(
                name: "set-cookie", value: "\(Self.name)=; Path=\(path); Max-Age=0; HttpOnly; Secure; SameSite=Strict")
        }
    }

    /// The refresh token of the request's cookie, if any. A request that carries more than one is
    /// refused: the cookie authd set is the one with the most specific path, so a second one was
    /// planted, by a sibling subdomain with `Domain=` (cookie tossing), and whichever one the
    /// browser sent first, the page would renew into a session that may be the attacker's.
    static func token(in request: HTTPRequest) throws(HTTPError) -> String? {
        var found: String?
        var count = 0
        for header in request.headers[canonicalForm: "cookie"] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == Self.name else { continue }
                count += 1
                let value = parts[1].trimmingCharacters(in: .whitespaces)
                if !value.isEmpty { found = value }
            }
        }
        guard count <= 1 else {
            throw .badRequest(
                "more than one \(Self.name) cookie: one was set by another site; clear this site's cookies and log in again"
            )
        }
        return found
    }
}
