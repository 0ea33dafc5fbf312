import AuthCore

/// The token domain's settings: lifetimes, the audience, sign-up, the throttle and the session
/// cap. The issuer depends on where the server listens, so ``AppConfiguration`` reads it.
extension EnvironmentReader {
    func auth(into auth: inout AuthSettings) throws {
        auth.audience = self["AUTHD_AUDIENCE"] ?? auth.audience
        auth.clockLeeway = try self.int("AUTHD_CLOCK_LEEWAY", in: 0...300) ?? auth.clockLeeway
        auth.accessTokenTTL = try self.int("AUTHD_ACCESS_TOKEN_TTL", in: 10...86_400) ?? auth.accessTokenTTL
        auth.refreshTokenTTL = try self.int("AUTHD_REFRESH_TOKEN_TTL", in: 60...(365 * 86_400)) ?? auth.refreshTokenTTL
        auth.sessionMaxLifetime =
            try self.int("AUTHD_SESSION_MAX_LIFETIME", in: 60...(365 * 86_400)) ?? auth.sessionMaxLifetime
        auth.refreshGraceWindow = try self.int("AUTHD_REFRESH_GRACE_WINDOW", in: 0...300) ?? auth.refreshGraceWindow
        auth.signupEnabled = try self.bool("AUTHD_SIGNUP") ?? auth.signupEnabled
        auth.throttle.enabled = try self.bool("AUTHD_LOGIN_THROTTLE") ?? true
        auth.maxSessionsPerUser = try self.int("AUTHD_MAX_SESSIONS_PER_USER", in: 1...10_000) ?? auth.maxSessionsPerUser
    }
}
