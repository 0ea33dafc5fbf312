/// Which sessions a logout ends.
public enum LogoutScope: String, Sendable, CaseIterable {
    /// The caller's session (the default).
    case local
    /// Every session of the user but the caller's ("log out my other devices").
    case others
    /// Every session of the user.
    case global
}

extension AuthService {
    /// Ends sessions of the user of `session`, as `scope` says. Returns how many were ended.
    @discardableResult
    public func logout(_ session: SessionReference, scope: LogoutScope) async throws -> Int {
        let ended: Int
        switch scope {
        case .local:
            ended = try await self.store.endSession(username: session.username, sessionID: session.sessionID) ? 1 : 0
        case .others:
            ended = try await self.store.endSessions(username: session.username, keeping: session.sessionID)
        case .global:
            ended = try await self.store.endSessions(username: session.username, keeping: nil)
        }
        AuthMetrics.revoked(.logout, count: ended)
        return ended
    }

    /// The session a refresh token belongs to (expired tokens included), for logout.
    public func session(ofRefreshToken token: String) async throws -> SessionReference {
        let claims = try self.verifyRefreshToken(token)
        return SessionReference(username: claims.sub, sessionID: claims.sid)
    }

    /// The caller's live sessions, oldest first.
    public func sessions(of principal: Principal) async throws -> [SessionInfo] {
        try await self.store.listSessions(username: principal.username, now: self.clock.now())
    }

    /// Ends one of the caller's sessions.
    public func revokeSession(_ sessionID: String, of principal: Principal) async throws {
        guard try await self.store.endSession(username: principal.username, sessionID: sessionID) else {
            throw AuthError.sessionNotFound
        }
        AuthMetrics.revoked(.session)
    }

    /// Changes the caller's password after checking the current one, then ends every session of
    /// the user: every refresh and access token issued so far stops working on every instance.
    public func changePassword(of principal: Principal, current: String, new: String) async throws {
        do {
            _ = try await self.checkPassword(username: principal.username, password: current)
        } catch AuthError.invalidCredentials {
            throw AuthError.invalidRequest("the current password is wrong")
        }
        try Credentials.validateNewPassword(new)
        let hash = try await self.passwords.hash(new)
        try await self.store.setPasswordHash(username: principal.username, passwordHash: hash)
        let ended = try await self.store.endSessions(username: principal.username, keeping: nil)
        AuthMetrics.revoked(.password, count: ended)
        self.logger.info(
            "password changed; sessions ended", metadata: ["user": "\(principal.username)", "sessions": "\(ended)"])
    }
}

/// A session, named by its user and id.
public struct SessionReference: Sendable, Equatable {
    public var username: String
    public var sessionID: String

    public init(username: String, sessionID: String) {
        self.username = username
        self.sessionID = sessionID
    }
}
