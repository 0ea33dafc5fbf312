import AuthCore
import NIOHTTP1

/// The token service's endpoints: sign-up, login, refresh, logout, and the caller's identity.
/// Request and response bodies are the small types below.
public struct AuthRoutes: Sendable {
    let auth: AuthService

    public init(auth: AuthService) {
        self.auth = auth
    }

    public func register(in router: inout Router) {
        router.add(.POST, "/users") { try await self.createUser($0) }
        router.add(.POST, "/login") { try await self.login($0) }
        router.add(.POST, "/token") { try await self.token($0) }
        router.add(.DELETE, "/logout") { try await self.logout($0) }
        router.add(.GET, "/me") { try await self.me($0) }
        router.add(.GET, "/posts") { try await self.posts($0) }
        router.add(.GET, "/healthz") { _ in try await self.health() }
    }

    // MARK: - Handlers

    func createUser(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try request.decodeJSON(CredentialsBody.self)
        let name = try await self.auth.register(username: try body.requiredUsername(), password: body.password)
        return .json(["username": name], status: .created)
    }

    func login(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try request.decodeJSON(CredentialsBody.self)
        let pair = try await self.auth.login(username: try body.requiredUsername(), password: body.password)
        return .tokens(TokenBody(pair))
    }

    func token(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try request.decodeJSON(RefreshBody.self)
        return .tokens(TokenBody(try await self.auth.refresh(refreshToken: body.token)))
    }

    func logout(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try request.decodeJSON(RefreshBody.self)
        try await self.auth.logout(refreshToken: body.token)
        return .noContent
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

    func health() async throws -> HTTPResponse {
        try await self.auth.checkHealth()
        return .json(["status": "ok"])
    }

    /// The bearer token's principal, or 401 with a `WWW-Authenticate` challenge.
    func authenticate(_ request: HTTPRequest) async throws -> Principal {
        guard let token = try request.bearerToken() else {
            throw HTTPError.unauthorized(nil, "an access token is required")
        }
        return try await self.auth.authenticate(accessToken: token)
    }
}

// MARK: - Bodies

/// `{"username", "password"}`; `name` is accepted for `username`, as in the tutorial.
struct CredentialsBody: Decodable {
    var username: String?
    var name: String?
    var password: String

    func requiredUsername() throws(HTTPError) -> String {
        guard let username = self.username ?? self.name else { throw .badRequest("missing field 'username'") }
        return username
    }
}

/// `{"token": refreshToken}`
struct RefreshBody: Decodable {
    var token: String
}

struct TokenBody: Encodable {
    var accessToken: String
    var refreshToken: String
    var tokenType = "Bearer"
    var expiresIn: Int

    init(_ pair: TokenPair) {
        self.accessToken = pair.accessToken
        self.refreshToken = pair.refreshToken
        self.expiresIn = pair.expiresIn
    }
}

struct MeBody: Encodable {
    var username: String
    var sessionId: String
    /// Seconds since 1970.
    var expiresAt: Int
}

struct ExamplePost: Encodable {
    var username: String
    var title: String
}

enum ExamplePosts {
    static let all = [
        ExamplePost(username: "kyle", title: "Post 1"),
        ExamplePost(username: "jim", title: "Post 2"),
    ]
}
