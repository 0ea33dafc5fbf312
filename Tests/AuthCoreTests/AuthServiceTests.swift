import AuthCore
import JOSE
import Logging
import Passwords
import RedisClient
import RedisStore
import TestSupport
import Testing

/// ``AuthService``'s rules, with no HTTP: over the real ``RedisStore/RedisAuthStore`` and the
/// suite's real Redis (the atomicity the rules rely on lives in its scripts, so nothing stands in
/// for it), real Argon2 at its cheapest, and a ``TestSupport/TestClock`` for time. When one of
/// these fails, the domain broke; the end-to-end suite (`AuthdTests`) is for the HTTP contract.
///
/// Run alone: `swift test --filter AuthCoreTests` (with the suite's Redis up, as scripts/test
/// starts it; see docs/DEVELOPMENT.md).
@Suite("Domain: AuthService's rules over the real store")
struct AuthServiceTests {
    struct Fixture {
        let auth: AuthService
        let clock: TestClock
        let store: RedisAuthStore
        let redis: RedisClient
        let settings: AuthSettings
        let tokens: TokenCodec

        /// The `jti` of a refresh token.
        func tokenID(_ refreshToken: String) throws -> String {
            try self.tokens.verify(refreshToken, as: .refresh, now: self.clock.now(), checkTimes: false).jti
        }

        /// A user with a password, logged in once.
        func signedIn(_ name: String = "ann", _ password: String = "correct horse") async throws -> TokenPair {
            _ = try await self.auth.register(username: name, password: password)
            return try await self.auth.login(username: name, password: password)
        }
    }

    /// Argon2 at the smallest cost libargon2 accepts: the domain's rules, not the hash, are tested.
    static let cheapArgon2: Argon2Parameters = {
        var parameters = Argon2Parameters()
        parameters.iterations = 1
        parameters.memoryKiB = 64
        return parameters
    }()

    static func withService(
        _ configure: (inout AuthSettings) -> Void = { _ in }, _ body: (Fixture) async throws -> Void
    ) async throws {
        var settings = AuthSettings()
        configure(&settings)
        let redis = try TestRedis.makeClient()
        let hasher = try Argon2PasswordHasher(parameters: Self.cheapArgon2, concurrency: 2)
        try await withTeardown({
            await redis.shutdown()
            try? await hasher.shutdown()
        }) {
            try await TestRedis.waitUntilConnected(redis)
            let clock = TestClock()
            let store = RedisAuthStore(redis: redis, keyPrefix: TestRedis.uniquePrefix("domain"))
            let tokens = try TokenCodec(
                accessSecret: RandomID.hexBytes(32), refreshSecret: RandomID.hexBytes(32),
                settings: settings.tokenSettings, now: clock.now())
            let auth = AuthService(
                settings: settings, tokens: tokens, passwords: hasher, store: store, clock: clock,
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            try await body(
                Fixture(auth: auth, clock: clock, store: store, redis: redis, settings: settings, tokens: tokens))
        }
    }

    // MARK: Sign-up and login

    @Test func registrationCanonicalisesTheNameAndRefusesATakenOne() async throws {
        try await Self.withService { (f) async throws in
            #expect(try await f.auth.register(username: "Ann", password: "correct horse") == "ann")
            await #expect(throws: AuthError.usernameTaken) {
                try await f.auth.register(username: "ANN", password: "another horse")
            }
            await #expect(throws: AuthError.self) {
                try await f.auth.register(username: "a b", password: "correct horse")
            }
            await #expect(throws: AuthError.self) { try await f.auth.register(username: "bob", password: "short") }
            #expect(try await f.store.userExists(username: "bob") == false)
        }
    }

    @Test func signUpCanBeTurnedOff() async throws {
        try await Self.withService({ $0.signupEnabled = false }) { (f) async throws in
            await #expect(throws: AuthError.signupDisabled) {
                try await f.auth.register(username: "ann", password: "correct horse")
            }
        }
    }

    @Test func aWrongPasswordAndAnUnknownUserFailAlike() async throws {
        try await Self.withService { (f) async throws in
            _ = try await f.auth.register(username: "ann", password: "correct horse")
            await #expect(throws: AuthError.invalidCredentials) {
                try await f.auth.login(username: "ann", password: "wrong horse")
            }
            await #expect(throws: AuthError.invalidCredentials) {
                try await f.auth.login(username: "nobody", password: "correct horse")
            }
            let pair = try await f.auth.login(username: "ANN", password: "correct horse")
            let principal = try await f.auth.authenticate(accessToken: pair.accessToken)
            #expect(principal.username == "ann")
            #expect(pair.expiresIn == f.settings.accessTokenTTL)
        }
    }

    /// Five failures of one user from one address, then every attempt is refused for the window,
    /// the right password too; another address is not locked out.
    @Test func failedLoginsAreThrottledPerUserAndAddress() async throws {
        try await Self.withService { (f) async throws in
            _ = try await f.auth.register(username: "ann", password: "correct horse")
            let attacker = ClientInfo(ip: "198.51.100.9")
            for _ in 0..<f.settings.throttle.userFromAddress.failures {
                await #expect(throws: AuthError.invalidCredentials) {
                    try await f.auth.login(username: "ann", password: "guess", client: attacker)
                }
            }
            do {
                _ = try await f.auth.login(username: "ann", password: "correct horse", client: attacker)
                Issue.record("a throttled login passed")
            } catch AuthError.throttled(let retryAfter, let attempts) {
                #expect(attempts == "failed logins")
                #expect((1...f.settings.throttle.userFromAddress.windowSeconds).contains(retryAfter))
            }
            _ = try await f.auth.login(username: "ann", password: "correct horse", client: ClientInfo(ip: "192.0.2.1"))
        }
    }

    // MARK: Access tokens

    @Test func anAccessTokenExpiresByTheClock() async throws {
        try await Self.withService { (f) async throws in
            let pair = try await f.signedIn()
            // Valid while `exp + leeway` is still ahead.
            f.clock.advance(by: f.settings.accessTokenTTL + f.settings.clockLeeway - 1)
            _ = try await f.auth.authenticate(accessToken: pair.accessToken)
            f.clock.advance(by: 1)
            await #expect(throws: AuthError.invalidToken("access token expired")) {
                try await f.auth.authenticate(accessToken: pair.accessToken)
            }
        }
    }

    @Test func aRefreshTokenIsNoAccessToken() async throws {
        try await Self.withService { (f) async throws in
            let pair = try await f.signedIn()
            await #expect(throws: AuthError.invalidToken("invalid access token")) {
                try await f.auth.authenticate(accessToken: pair.refreshToken)
            }
            await #expect(throws: AuthError.invalidGrant("invalid refresh token")) {
                try await f.auth.refresh(refreshToken: pair.accessToken)
            }
        }
    }

    /// RFC 7009: a revoked access token fails on its own; its session and its siblings live on.
    @Test func aRevokedAccessTokenFailsAloneAndItsSessionLives() async throws {
        try await Self.withService { (f) async throws in
            let pair = try await f.signedIn()
            let sibling = try await f.auth.refresh(refreshToken: pair.refreshToken)
            try await f.auth.revoke(token: pair.accessToken, hint: .access)
            await #expect(throws: AuthError.invalidToken("access token revoked")) {
                try await f.auth.authenticate(accessToken: pair.accessToken)
            }
            _ = try await f.auth.authenticate(accessToken: sibling.accessToken)
            #expect(try await f.auth.introspect(token: pair.accessToken, hint: nil) == nil)
            #expect(try await f.auth.introspect(token: sibling.accessToken, hint: nil)?.sub == "ann")
            // Revoking the refresh token ends the session: every access token of it fails.
            try await f.auth.revoke(token: sibling.refreshToken, hint: nil)
            await #expect(throws: AuthError.invalidToken("session ended")) {
                try await f.auth.authenticate(accessToken: sibling.accessToken)
            }
            // Anything else is ignored, as the RFC asks.
            try await f.auth.revoke(token: "not a token", hint: nil)
        }
    }

    // MARK: Refresh rotation

    @Test func refreshRotatesAndTheSpentTokenIsADuplicateWithinGrace() async throws {
        try await Self.withService { (f) async throws in
            let first = try await f.signedIn()
            let second = try await f.auth.refresh(refreshToken: first.refreshToken)
            #expect(second.refreshToken != first.refreshToken)
            f.clock.advance(by: f.settings.refreshGraceWindow)
            // Two tabs refreshing at once: the late one gets the current refresh token again.
            let again = try await f.auth.refresh(refreshToken: first.refreshToken)
            #expect(
                try f.tokenID(again.refreshToken) == f.tokenID(second.refreshToken),
                "the same refresh token id, issued again")
            _ = try await f.auth.authenticate(accessToken: second.accessToken)
        }
    }

    /// RFC 9700 §4.14.2: a spent refresh token presented after the grace window ends the session.
    @Test func reuseAfterTheGraceWindowEndsTheSession() async throws {
        try await Self.withService { (f) async throws in
            let first = try await f.signedIn()
            let second = try await f.auth.refresh(refreshToken: first.refreshToken)
            f.clock.advance(by: f.settings.refreshGraceWindow + 1)
            await #expect(throws: AuthError.invalidGrant("refresh token already used")) {
                try await f.auth.refresh(refreshToken: first.refreshToken)
            }
            await #expect(throws: AuthError.invalidGrant("refresh token revoked")) {
                try await f.auth.refresh(refreshToken: second.refreshToken)
            }
            await #expect(throws: AuthError.invalidToken("session ended")) {
                try await f.auth.authenticate(accessToken: second.accessToken)
            }
        }
    }

    /// No rotation outlives the session's absolute lifetime.
    @Test func theSessionEndsAtItsAbsoluteLifetime() async throws {
        try await Self.withService({
            $0.refreshTokenTTL = 600
            $0.sessionMaxLifetime = 1000
        }) { (f) async throws in
            var pair = try await f.signedIn()
            f.clock.advance(by: 500)
            pair = try await f.auth.refresh(refreshToken: pair.refreshToken)
            f.clock.advance(by: 500)
            await #expect(throws: AuthError.self) { try await f.auth.refresh(refreshToken: pair.refreshToken) }
        }
    }

    // MARK: Sessions

    @Test func logoutScopesEndTheirSessions() async throws {
        try await Self.withService { (f) async throws in
            let a = try await f.signedIn()
            let b = try await f.auth.login(username: "ann", password: "correct horse")
            let c = try await f.auth.login(username: "ann", password: "correct horse")
            let principalB = try await f.auth.authenticate(accessToken: b.accessToken)
            #expect(try await f.auth.sessions(of: principalB).count == 3)
            // `others`: every session but the caller's.
            #expect(try await f.auth.logout(principalB, scope: .others) == 2)
            for ended in [a, c] {
                await #expect(throws: AuthError.invalidToken("session ended")) {
                    try await f.auth.authenticate(accessToken: ended.accessToken)
                }
            }
            _ = try await f.auth.authenticate(accessToken: b.accessToken)
            // A stale refresh token reaches no further than its own session.
            await #expect(throws: AuthError.invalidGrant("this token's session has ended; log in again")) {
                try await f.auth.logout(refreshToken: a.refreshToken, scope: .global)
            }
            #expect(try await f.auth.logout(refreshToken: b.refreshToken, scope: .local) == 1)
            #expect(try await f.auth.logout(refreshToken: b.refreshToken, scope: .local) == 0, "idempotent")
            await #expect(throws: AuthError.invalidToken("session ended")) {
                try await f.auth.authenticate(accessToken: b.accessToken)
            }
        }
    }

    @Test func aLoginBeyondTheCapEndsTheSessionClosestToExpiry() async throws {
        try await Self.withService({ $0.maxSessionsPerUser = 2 }) { (f) async throws in
            let oldest = try await f.signedIn()
            f.clock.advance(by: 1)
            let middle = try await f.auth.login(username: "ann", password: "correct horse")
            f.clock.advance(by: 1)
            let newest = try await f.auth.login(username: "ann", password: "correct horse")
            await #expect(throws: AuthError.invalidToken("session ended")) {
                try await f.auth.authenticate(accessToken: oldest.accessToken)
            }
            _ = try await f.auth.authenticate(accessToken: middle.accessToken)
            _ = try await f.auth.authenticate(accessToken: newest.accessToken)
        }
    }

    @Test func revokingASessionOfOnesOwn() async throws {
        try await Self.withService { (f) async throws in
            let a = try await f.signedIn()
            let b = try await f.auth.login(username: "ann", password: "correct horse")
            let principalA = try await f.auth.authenticate(accessToken: a.accessToken)
            let principalB = try await f.auth.authenticate(accessToken: b.accessToken)
            try await f.auth.revokeSession(principalB.sessionID, of: principalA)
            await #expect(throws: AuthError.sessionNotFound) {
                try await f.auth.revokeSession(principalB.sessionID, of: principalA)
            }
            await #expect(throws: AuthError.sessionNotFound) { try await f.auth.revokeSession("../x", of: principalA) }
            #expect(try await f.auth.sessions(of: principalA).map(\.id) == [principalA.sessionID])
        }
    }

    /// A password change ends every session of the user, the caller's too; the old password stops
    /// working and the new one works.
    @Test func aPasswordChangeEndsEverySession() async throws {
        try await Self.withService { (f) async throws in
            let a = try await f.signedIn()
            let b = try await f.auth.login(username: "ann", password: "correct horse")
            let principal = try await f.auth.authenticate(accessToken: a.accessToken)
            await #expect(throws: AuthError.invalidRequest("the current password is wrong")) {
                try await f.auth.changePassword(
                    of: principal, current: "wrong horse", new: "battery staple", client: ClientInfo())
            }
            try await f.auth.changePassword(
                of: principal, current: "correct horse", new: "battery staple", client: ClientInfo())
            for ended in [a, b] {
                await #expect(throws: AuthError.invalidToken("session ended")) {
                    try await f.auth.authenticate(accessToken: ended.accessToken)
                }
                await #expect(throws: AuthError.invalidGrant("refresh token revoked")) {
                    try await f.auth.refresh(refreshToken: ended.refreshToken)
                }
            }
            await #expect(throws: AuthError.invalidCredentials) {
                try await f.auth.login(username: "ann", password: "correct horse")
            }
            _ = try await f.auth.login(username: "ann", password: "battery staple")
        }
    }
}
