import AuthCore

/// Authentication, done once for the routes that need it (hummingbird-examples'
/// `JWTAuthenticator` is the model): a route wrapped by it runs with the caller's principal, and
/// a request without a valid bearer access token never reaches the route.
struct BearerAuthenticator: Sendable {
    let auth: AuthService

    /// The bearer token's principal, a user's or a registered client's own (``Principal/isClient``),
    /// or 401 with a `WWW-Authenticate` challenge.
    func principal(of request: HTTPRequest) async throws -> Principal {
        guard let token = try request.bearerToken() else {
            throw HTTPError.unauthorized(nil, "an access token is required")
        }
        return try await self.auth.authenticate(accessToken: token)
    }

    /// A route of a user's that runs `handler` with the caller's principal. A client's own token
    /// has no user, no session and no password: 403 with `insufficient_scope`.
    func callAsFunction(
        _ handler: @escaping @Sendable (HTTPRequest, Principal) async throws -> HTTPResponse
    ) -> Router.Handler {
        { request in try await handler(request, try await self.userPrincipal(of: request)) }
    }

    /// The bearer token's principal when it is a user's; a client's own token gets 403.
    func userPrincipal(of request: HTTPRequest) async throws -> Principal {
        let principal = try await self.principal(of: request)
        guard !principal.isClient else {
            throw HTTPError.insufficientScope("this route needs a user's token, not a client's own")
        }
        return principal
    }
}

extension ClientInfo {
    /// The client as the request shows it, for sessions and throttles.
    init(_ request: HTTPRequest) {
        self.init(userAgent: request.headers.first(name: "user-agent"), ip: request.clientIP)
    }
}
