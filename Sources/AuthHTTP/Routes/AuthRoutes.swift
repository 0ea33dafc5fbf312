import AuthCore
import NIOHTTP1

/// The token service's endpoints. The handlers are grouped by concern in extensions beside this
/// file; request and response bodies are in `Bodies.swift`.
public struct AuthRoutes: Sendable {
    let auth: AuthService
    /// Client id to secret, for resource servers calling `POST /introspect`.
    let introspectionClients: [String: String]
    /// The refresh token in a cookie for browsers on allowed origins; `nil`: bodies only.
    let refreshCookie: RefreshCookie?

    public init(
        auth: AuthService, introspectionClients: [String: String] = [:], refreshCookie: RefreshCookie? = nil
    ) {
        self.auth = auth
        self.introspectionClients = introspectionClients
        self.refreshCookie = refreshCookie
    }

    /// The token response: the refresh token in the body, or, for a browser on an allowed origin
    /// in cookie mode, in the cookie only.
    func tokenResponse(_ pair: TokenPair, to request: HTTPRequest) -> HTTPResponse {
        guard let cookie = self.refreshCookie, cookie.applies(to: request) else { return .tokens(TokenBody(pair)) }
        var response = HTTPResponse.tokens(TokenBody(pair, includingRefreshToken: false))
        cookie.set(pair.refreshToken, on: &response)
        return response
    }

    public func register(in router: inout Router) {
        router.add(.POST, "/users") { try await self.createUser($0) }
        router.add(.POST, "/login") { try await self.login($0) }
        router.add(.POST, "/token") { try await self.token($0) }
        router.add(.DELETE, "/logout") { try await self.logout($0) }
        router.add(.POST, "/logout") { try await self.logout($0) }
        router.add(.GET, "/me") { try await self.me($0) }
        router.add(.GET, "/posts") { try await self.posts($0) }
        router.add(.GET, "/sessions") { try await self.listSessions($0) }
        router.add(.DELETE, "/sessions/:id") { try await self.revokeSession($0) }
        router.add(.POST, "/password") { try await self.changePassword($0) }
        router.add(.POST, "/revoke") { try await self.revoke($0) }
        router.add(.POST, "/introspect") { try await self.introspect($0) }
        router.add(.GET, "/.well-known/oauth-authorization-server") { try await self.metadata($0) }
        router.add(.GET, "/healthz") { _ in Self.healthyResponse }
        router.add(.GET, "/readyz") { _ in try await self.ready() }
    }

    func createUser(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try request.decodeJSON(CredentialsBody.self)
        let name = try await self.auth.register(
            username: try body.requiredUsername(), password: body.password, client: Self.client(of: request))
        return .json(["username": name], status: .created)
    }

    func login(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try request.decodeJSON(CredentialsBody.self)
        let pair = try await self.auth.login(
            username: try body.requiredUsername(), password: body.password, client: Self.client(of: request)
        )
        return self.tokenResponse(pair, to: request)
    }

    func me(_ request: HTTPRequest) async throws -> HTTPResponse {
        let principal = try await self.authenticate(request)
        return .json(
            MeBody(username: principal.username, sessionId: principal.sessionID, expiresAt: principal.expiresAt))
    }

    /// The tutorial's example resource: the caller's posts.
    func posts(_ request: HTTPRequest) async throws -> HTTPResponse {
        let principal = try await self.authenticate(request)
        return .json(ExamplePosts.all.filter { $0.username == principal.username })
    }

    /// Ready when Redis answers and has every script loaded; 503 otherwise.
    func ready() async throws -> HTTPResponse {
        try await self.auth.checkReadiness()
        return Self.readyResponse
    }

    /// The probes' constant answers, encoded once: load balancers call them often.
    private static let healthyResponse = HTTPResponse.json(["status": "ok"])
    private static let readyResponse = HTTPResponse.json(["status": "ready"])

    /// The bearer token's principal, or 401 with a `WWW-Authenticate` challenge.
    func authenticate(_ request: HTTPRequest) async throws -> Principal {
        guard let token = try request.bearerToken() else {
            throw HTTPError.unauthorized(nil, "an access token is required")
        }
        return try await self.auth.authenticate(accessToken: token)
    }

    static func client(of request: HTTPRequest) -> ClientInfo {
        ClientInfo(userAgent: request.headers.first(name: "user-agent"), ip: request.clientIP)
    }
}
