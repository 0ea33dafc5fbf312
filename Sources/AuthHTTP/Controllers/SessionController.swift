import AuthCore
import WireJSON

/// The caller's sessions: logout with scopes, `GET /me`, the sessions and their revocation,
/// password changes, and the tutorial's `GET /posts`. Every route but logout (which may name its
/// session by a refresh token instead) goes through the authenticator first.
struct SessionController: Sendable {
    let auth: AuthService
    let authenticator: BearerAuthenticator
    let refreshCookie: RefreshCookie?

    func register(in router: inout Router) {
        let authenticated = self.authenticator
        router.add(.DELETE, "/logout") { try await self.logout($0) }
        router.add(.POST, "/logout") { try await self.logout($0) }
        router.add(.GET, "/me", authenticated { try await self.me($0, $1) })
        router.add(.GET, "/posts", authenticated { try await self.posts($0, $1) })
        router.add(.GET, "/sessions", authenticated { try await self.listSessions($0, $1) })
        router.add(.DELETE, "/sessions/:id", authenticated { try await self.revokeSession($0, $1) })
        router.add(.POST, "/password", authenticated { try await self.changePassword($0, $1) })
    }

    /// `DELETE /logout` (the tutorial's) and `POST /logout`. The session is named by a refresh
    /// token in the body, or else by the bearer access token. `scope`: local (default), others,
    /// global.
    func logout(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body =
            request.body.map { $0.readableBytes > 0 } == true ? try request.decodeJSON(LogoutBody.self) : LogoutBody()
        let scope =
            try body.scope.map { raw throws(HTTPError) in
                guard let scope = LogoutScope(rawValue: raw) else {
                    throw .badRequest("scope must be one of local, others, global")
                }
                return scope
            } ?? .local
        let cookie = self.refreshCookie.flatMap { $0.applies(to: request) ? $0 : nil }
        // A refresh token bound to a key (DPoP) ends its session only with a proof of that key.
        if let token = body.token {
            let key = try await self.authenticator.dpop.tokenRequestKey(request)
            try await self.auth.logout(refreshToken: token, scope: scope, proofKey: key)
        } else if request.headers.first(name: "authorization") != nil {
            try await self.auth.logout(try await self.authenticator.userPrincipal(of: request), scope: scope)
        } else if cookie != nil, let token = try RefreshCookie.token(in: request) {
            let key = try await self.authenticator.dpop.tokenRequestKey(request)
            try await self.auth.logout(refreshToken: token, scope: scope, proofKey: key)
        } else {
            throw HTTPError.badRequest("give the refresh token as 'token', or an access token as a bearer token")
        }
        var response = HTTPResponse.noContent
        cookie?.clear(on: &response)
        return response
    }

    func me(_ request: HTTPRequest, _ principal: Principal) async throws -> HTTPResponse {
        .json(
            MeBody(
                username: principal.username, sessionId: principal.sessionID, expiresAt: principal.expiresAt,
                roles: principal.roles))
    }

    /// The tutorial's example resource: the caller's posts.
    func posts(_ request: HTTPRequest, _ principal: Principal) async throws -> HTTPResponse {
        .json(
            PrewrittenJSON(
                json: JSONArray.of(ExamplePosts.all.filter { $0.username == principal.username }.map(\.json))))
    }

    func listSessions(_ request: HTTPRequest, _ principal: Principal) async throws -> HTTPResponse {
        let sessions = try await self.auth.sessions(of: principal).map { session in
            SessionBody(session, current: session.id == principal.sessionID).json
        }
        var writer = JSONObjectWriter()
        writer.add("sessions", json: JSONArray.of(sessions))
        return .json(PrewrittenJSON(json: writer.finish()))
    }

    func revokeSession(_ request: HTTPRequest, _ principal: Principal) async throws -> HTTPResponse {
        try await self.auth.revokeSession(request.parameters["id"] ?? "", of: principal)
        return .noContent
    }

    /// `POST /password {"oldPassword","newPassword"}`: ends every session of the user.
    func changePassword(_ request: HTTPRequest, _ principal: Principal) async throws -> HTTPResponse {
        let body = try request.decodeJSON(PasswordBody.self)
        try await self.auth.changePassword(
            of: principal, current: body.oldPassword, new: body.newPassword, client: .init(request))
        return .noContent
    }
}

extension SessionController {
    /// `{"token"?, "scope"?}` for `POST /logout`.
    struct LogoutBody: JSONRequestBody {
        var token: String?
        var scope: String?

        init() {}

        init(fields: JSONFields) throws(HTTPError) {
            self.token = try fields.string("token")
            self.scope = try fields.string("scope")
        }
    }

    struct PasswordBody: JSONRequestBody {
        var oldPassword: String
        var newPassword: String

        init(fields: JSONFields) throws(HTTPError) {
            self.oldPassword = try fields.requiredString("oldPassword")
            self.newPassword = try fields.requiredString("newPassword")
        }
    }

    struct MeBody: JSONResponseBody {
        var username: String
        var sessionId: String
        /// Seconds since 1970.
        var expiresAt: Int
        /// The session's roles as they are now.
        var roles: [String]

        var json: [UInt8] {
            var writer = JSONObjectWriter()
            writer.add("expiresAt", self.expiresAt)
            writer.add("roles", self.roles)
            writer.add("sessionId", self.sessionId)
            writer.add("username", self.username)
            return writer.finish()
        }
    }

    struct SessionBody: JSONResponseBody {
        var id: String
        var current: Bool
        var createdAt: Int
        var lastUsedAt: Int
        var expiresAt: Int
        var absoluteExpiresAt: Int
        var userAgent: String
        var ip: String

        init(_ session: SessionInfo, current: Bool) {
            self.id = session.id
            self.current = current
            self.createdAt = session.createdAt
            self.lastUsedAt = session.lastUsedAt
            self.expiresAt = session.expiresAt
            self.absoluteExpiresAt = session.absoluteExpiresAt
            self.userAgent = session.client.userAgent
            self.ip = session.client.ip
        }

        var json: [UInt8] {
            var writer = JSONObjectWriter(capacity: 192 + self.userAgent.utf8.count)
            writer.add("absoluteExpiresAt", self.absoluteExpiresAt)
            writer.add("createdAt", self.createdAt)
            writer.add("current", self.current)
            writer.add("expiresAt", self.expiresAt)
            writer.add("id", self.id)
            writer.add("ip", self.ip)
            writer.add("lastUsedAt", self.lastUsedAt)
            writer.add("userAgent", self.userAgent)
            return writer.finish()
        }
    }

    struct ExamplePost {
        var username: String
        var title: String

        var json: [UInt8] {
            var writer = JSONObjectWriter()
            writer.add("title", self.title)
            writer.add("username", self.username)
            return writer.finish()
        }
    }

    enum ExamplePosts {
        static let all = [
            ExamplePost(username: "kyle", title: "Post 1"),
            ExamplePost(username: "jim", title: "Post 2"),
        ]
    }
}
