import JOSE

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
    /// Logout with a refresh token: `local` ends the token's own session (idempotent; an expired or
    /// stale token may end what is left of it). `others` and `global` reach beyond that session,
    /// so they need a live session whose current refresh token this is (or its predecessor within
    /// the grace window); a stale token ends nothing and fails with `invalid_grant`.
    @discardableResult
    public func logout(refreshToken: String, scope: LogoutScope, proofKey: String? = nil) async throws -> Int {
        let claims = try self.verifyRefreshToken(refreshToken)
        try Self.checkBinding(of: claims, proofKey: proofKey, token: "refresh token")
        let proof = SessionProof.refreshToken(
            sessionID: claims.sid, tokenID: claims.jti, now: self.clock.now(),
            graceSeconds: self.settings.refreshGraceWindow)
        return try await self.endSessions(of: claims.sub, from: claims.sid, scope: scope, proof: proof)
    }

    /// Logout with an access token already authenticated: the same scopes, checked against its
    /// session in the same atomic step as the ending.
    @discardableResult
    public func logout(_ principal: Principal, scope: LogoutScope) async throws -> Int {
        let proof = SessionProof.accessToken(sessionID: principal.sessionID, tokenID: principal.tokenID)
        return try await self.endSessions(of: principal.username, from: principal.sessionID, scope: scope, proof: proof)
    }

    private func endSessions(of username: String, from sessionID: String, scope: LogoutScope, proof: SessionProof)
        async throws -> Int
    {
        let ended: Int
        switch scope {
        case .local:
            ended = try await self.store.endSession(username: username, sessionID: sessionID) ? 1 : 0
        case .others, .global:
            let keeping = scope == .others ? sessionID : nil
            guard let count = try await self.store.endSessions(username: username, keeping: keeping, proof: proof)
            else { throw AuthError.invalidGrant("this token's session has ended; log in again") }
            ended = count
        }
        AuthMetrics.revoked(.logout, count: ended)
        // Recorded whatever was ended: a retry of a logout whose first answer was lost (or whose
        // event was) records the session's end again, so that an acknowledged logout is never
        // missing from the log, and the feed.
        let logout = SecurityEvent(
            .logout, subject: username, sessionID: sessionID, details: [("scope", scope.rawValue)], isRevocation: true)
        let sessions: SecurityEvent =
            switch scope {
            case .local: .sessionsEnded(.logout, subject: username, sessionID: sessionID)
            case .others: .sessionsEnded(.logout, subject: username, count: ended, details: [("keeping", sessionID)])
            case .global: .sessionsEnded(.logout, subject: username, count: ended)
            }
        try await self.record(logout, sessions)
        return ended
    }

    /// The caller's live sessions, oldest first.
    public func sessions(of principal: Principal) async throws -> [SessionInfo] {
        try await self.store.listSessions(username: principal.username, now: self.clock.now())
    }

    /// Ends one of the caller's sessions.
    public func revokeSession(_ sessionID: String, of principal: Principal) async throws {
        guard RandomID.isValid(sessionID),
            try await self.store.endSession(username: principal.username, sessionID: sessionID)
        else {
            throw AuthError.sessionNotFound
        }
        AuthMetrics.revoked(.session)
        try await self.record(.sessionsEnded(.user, subject: principal.username, sessionID: sessionID))
    }

    /// Changes the caller's password after checking the current one (throttled like a login),
    /// then ends every session of the user in the same step: every refresh and access token
    /// issued so far stops working on every instance. The new password is validated first, so a
    /// request that could never succeed costs no hash.
    public func changePassword(of principal: Principal, current: String, new: String, client: ClientInfo) async throws {
        try Credentials.validateNewPassword(new)
        let stored: StoredPassword
        do {
            stored = try await self.checkPassword(username: principal.username, password: current, client: client)
                .stored
        } catch AuthError.invalidCredentials {
            throw AuthError.invalidRequest("the current password is wrong")
        }
        let hash = try await self.passwords.hash(new)
        guard
            let ended = try await self.store.changePassword(
                username: principal.username, expectedVersion: stored.version, newHash: hash)
        else {
            throw AuthError.invalidRequest("the password was changed meanwhile; log in again")
        }
        AuthMetrics.revoked(.password, count: ended)
        try await self.record(
            SecurityEvent(
                .passwordChanged, subject: principal.username, sessionID: principal.sessionID, isRevocation: true),
            .sessionsEnded(.password, subject: principal.username, count: ended))
        self.logger.info(
            "password changed; sessions ended", metadata: ["user": "\(principal.username)", "sessions": "\(ended)"])
    }
}
