import AuthCore

/// Logout with scopes, the caller's sessions, and password changes.
extension AuthRoutes {
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
        if let token = body.token {
            try await self.auth.logout(refreshToken: token, scope: scope)
        } else if request.headers.first(name: "authorization") != nil {
            try await self.auth.logout(try await self.authenticate(request), scope: scope)
        } else if cookie != nil, let token = RefreshCookie.token(in: request) {
            try await self.auth.logout(refreshToken: token, scope: scope)
        } else {
            throw HTTPError.badRequest("give the refresh token as 'token', or an access token as a bearer token")
        }
        var response = HTTPResponse.noContent
        cookie?.clear(on: &response)
        return response
    }

    func listSessions(_ request: HTTPRequest) async throws -> HTTPResponse {
        let principal = try await self.authenticate(request)
        let sessions = try await self.auth.sessions(of: principal).map { session in
            SessionBody(session, current: session.id == principal.sessionID)
        }
        return .json(["sessions": sessions])
    }

    func revokeSession(_ request: HTTPRequest) async throws -> HTTPResponse {
        let principal = try await self.authenticate(request)
        try await self.auth.revokeSession(request.parameters["id"] ?? "", of: principal)
        return .noContent
    }

    /// `POST /password {"oldPassword","newPassword"}`: ends every session of the user.
    func changePassword(_ request: HTTPRequest) async throws -> HTTPResponse {
        let principal = try await self.authenticate(request)
        let body = try request.decodeJSON(PasswordBody.self)
        try await self.auth.changePassword(
            of: principal, current: body.oldPassword, new: body.newPassword, client: Self.client(of: request))
        return .noContent
    }
}
