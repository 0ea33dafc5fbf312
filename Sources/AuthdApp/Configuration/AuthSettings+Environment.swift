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
        auth.throttle.userFromAddress = try self.limit("AUTHD_THROTTLE_USER_ADDRESS") ?? auth.throttle.userFromAddress
        auth.throttle.user = try self.limit("AUTHD_THROTTLE_USER") ?? auth.throttle.user
        auth.throttle.address = try self.limit("AUTHD_THROTTLE_ADDRESS") ?? auth.throttle.address
        auth.throttle.signUpFromAddress = try self.limit("AUTHD_THROTTLE_SIGNUP") ?? auth.throttle.signUpFromAddress
        auth.throttle.clientSecretFromAddress =
            try self.limit("AUTHD_THROTTLE_CLIENT_SECRET") ?? auth.throttle.clientSecretFromAddress
        auth.maxSessionsPerUser = try self.int("AUTHD_MAX_SESSIONS_PER_USER", in: 1...10_000) ?? auth.maxSessionsPerUser
        if let issuer = self.nonEmpty("AUTHD_MFA_ISSUER") {
            guard issuer.utf8.count <= 64, !issuer.contains(":") else {
                throw ConfigurationError(
                    "AUTHD_MFA_ISSUER must be at most 64 bytes, without ':' (for example Example Inc)")
            }
            auth.secondFactor.issuer = issuer
        }
    }

    /// A throttle limit, `FAILURES/SECONDS`: so many in a window of so many seconds.
    func limit(_ name: String) throws -> ThrottlePolicy.Limit? {
        guard let raw = self.nonEmpty(name) else { return nil }
        let parts = raw.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let failures = Int(parts[0]), let seconds = Int(parts[1]),
            (1...1_000_000).contains(failures), (1...604_800).contains(seconds)
        else {
            throw ConfigurationError(
                "\(name) must be FAILURES/SECONDS, such as 20/3600 (1 to 1000000 in 1 to 604800 seconds)")
        }
        return ThrottlePolicy.Limit(failures: failures, windowSeconds: seconds)
    }
}
