import CoreMetrics
import JOSE
import Logging
import Synchronization

/// The token service: sign-up, login, refresh with rotation, logout, and access-token checks.
///
/// Knows nothing of HTTP or Redis: it speaks in ``AuthError``s and keeps its state in an
/// ``AuthStore``. Session management and the OAuth endpoints are in extensions beside this file.
public final class AuthService: Sendable {
    public let settings: AuthSettings
    let tokens: TokenCodec
    let passwords: any PasswordHashing
    let store: any AuthStore
    let clock: any AuthClock
    let logger: Logger
    /// Device tokens for the login throttle (``DeviceTokens``); nil: none are issued or honoured.
    let devices: DeviceTokens?
    /// Addresses whose client credentials passed in the last second (``authenticateClient(id:secret:for:ip:)``).
    let recentClients = RecentAddresses(window: .seconds(1))
    /// Addresses whose throttled logins were recorded in the last 10 s: a refused login costs the
    /// attacker nothing, so its events are sampled, or a flood of them would trim the audit trail
    /// away.
    let recentlyThrottled = RecentAddresses(window: .seconds(10))
    /// Clients from the environment (`AUTHD_INTROSPECTION_CLIENTS`): a bootstrap, allowed to
    /// introspect only, and changed only by a restart. Registered clients are in the store.
    let bootstrapClients: [String: RegisteredClient]
    /// Where security events go (``SecurityEvent``); nil: none are recorded.
    let events: (any EventLog)?
    /// The revocation feed the events feed (``RevocationFeed``); nil: there is none.
    let feed: (any RevocationFeed)?
    /// The key of second factors' secrets and recovery codes; nil: enrolment is off (a user who has
    /// a factor still cannot log in without it).
    let factors: FactorVault?

    public init(
        settings: AuthSettings,
        tokens: TokenCodec,
        passwords: any PasswordHashing,
        store: any AuthStore,
        clock: any AuthClock = SystemClock(),
        devices: DeviceTokens? = nil,
        bootstrapClients: [String: String] = [:],
        events: (any EventLog)? = nil,
        feed: (any RevocationFeed)? = nil,
        factors: FactorVault? = nil,
        logger: Logger
    ) {
        self.factors = factors
        self.events = events
        self.feed = feed
        self.bootstrapClients = Dictionary(
            uniqueKeysWithValues: bootstrapClients.map { ($0.key, RegisteredClient(id: $0.key, bootstrap: $0.value)) })
        self.devices = devices
        self.settings = settings
        self.tokens = tokens
        self.passwords = passwords
        self.store = store
        self.clock = clock
        self.logger = logger
    }

    /// Creates a user and returns the canonical (lowercased) name. Sign-ups are counted per address
    /// before any hashing, and a taken name is answered without hashing.
    public func register(username: String, password: String, client: ClientInfo = ClientInfo()) async throws
        -> String
    {
        guard self.settings.signupEnabled else { throw AuthError.signupDisabled }
        let name = try Credentials.canonicalUsername(username)
        try Credentials.validateNewPassword(password)
        // Every sign-up counts, whatever its outcome.
        let scope = ThrottleScope.signUp(ip: client.ip)
        try await self.takeAttempt(scope)
        var created = false
        do {
            // A taken name is answered without hashing; create_user.lua still refuses a race.
            if try await !self.store.userExists(username: name) {
                let hash = try await self.passwords.hash(password)
                created = try await self.store.createUser(username: name, passwordHash: hash, now: self.clock.now())
            }
        } catch {
            try await self.finishAttempt(scope, failed: true)
            throw error
        }
        try await self.finishAttempt(scope, failed: true)
        guard created else { throw AuthError.usernameTaken }
        self.logger.info("user registered", metadata: ["user": "\(name)"])
        try await self.record(SecurityEvent(.signUp, subject: name))
        return name
    }

    /// Checks the password and opens a session. An unknown user and a wrong password fail alike,
    /// after the same amount of hashing. The session opens only if the password is still the one
    /// checked: a login racing a password change fails rather than outlive it.
    /// Logs in and opens a session. `deviceToken`, from an earlier successful login of this user on
    /// this client, moves the attempt from the user's limit over all addresses to the device's own
    /// (``DeviceTokens``); the pair returned carries a renewed one. `boundKey`: the thumbprint of
    /// the DPoP key the request proved (RFC 9449), which both tokens are bound to.
    public func login(
        username: String, password: String, client: ClientInfo = ClientInfo(), deviceToken: String? = nil,
        boundKey: String? = nil
    ) async throws -> TokenPair {
        let canonical = try? Credentials.canonicalUsername(username)
        let device = deviceToken.flatMap { token in
            canonical.flatMap { self.devices?.device(of: token, username: $0, now: self.clock.now()) }
        }
        let (name, stored): (String, StoredPassword)
        do {
            (name, stored) = try await self.checkPassword(
                username: username, password: password, client: client, device: device)
        } catch let error as AuthError {
            try await self.recordLoginFailure(error, username: canonical ?? "")
            throw error
        }
        if self.passwords.needsRehash(stored.hash) {
            // Only over the hash that was verified: never over a password changed meanwhile.
            let upgraded = try await self.passwords.hash(password)
            if try await self.store.upgradePasswordHash(username: name, verified: stored.hash, upgraded: upgraded) {
                self.logger.info("password hash upgraded", metadata: ["user": "\(name)"])
            }
        }
        if stored.hasSecondFactor {
            // No tokens yet: a challenge, completed by a code (``completeLogin(challenge:with:)``).
            throw try await self.challenge(
                FactorChallenge(
                    id: RandomID.make(), username: name, passwordVersion: stored.version, client: client,
                    device: device))
        }
        return try await self.openSession(
            username: name, passwordVersion: stored.version, client: client, device: device,
            assurance: .passwordOnly(at: self.clock.now()), boundKey: boundKey)
    }

    /// Opens a session for a user who authenticated (`assurance`), and issues its pair. The
    /// session opens only if the password checked (`passwordVersion`) is still the user's, and, for
    /// a password alone, if the user has no second factor now.
    func openSession(
        username name: String, passwordVersion: String, client: ClientInfo, device: String?, assurance: Assurance,
        boundKey: String?, details: [(String, String)] = []
    ) async throws -> TokenPair {
        let now = self.clock.now()
        let session = SessionRecord(
            username: name,
            id: RandomID.make(),
            refreshTokenID: RandomID.make(),
            refreshExpiresAt: now + min(self.settings.refreshTokenTTL, self.settings.sessionMaxLifetime),
            absoluteExpiresAt: now + self.settings.sessionMaxLifetime,
            client: client,
            passwordVersion: passwordVersion,
            assurance: assurance
        )
        guard
            let opened = try await self.store.createSession(
                session, now: now, maxSessions: self.settings.maxSessionsPerUser)
        else {
            // The password checked is no longer the user's: it changed (or the user was removed)
            // between the check and the session; or a second factor was confirmed meanwhile.
            // RaceTests count this line to prove the race ran.
            self.logger.info("login refused: the password changed after it was checked", metadata: ["user": "\(name)"])
            AuthMetrics.loginFailed()
            try await self.recordLoginFailure(.invalidCredentials, username: name)
            throw AuthError.invalidCredentials
        }
        AuthMetrics.issued(.login)
        let evicted = opened.evicted.map { SecurityEvent.sessionsEnded(.cap, subject: name, sessionID: $0) }
        try await self.record(
            evicted + [
                SecurityEvent(
                    .login, subject: name, sessionID: session.id,
                    details: [("amr", assurance.storedMethods)] + details)
            ])
        var pair = try self.issue(
            username: name, sessionID: session.id, refreshTokenID: session.refreshTokenID,
            refreshExpiresAt: session.refreshExpiresAt, roles: opened.roles, assurance: assurance, now: now,
            boundKey: boundKey, refreshBoundKey: boundKey
        )
        pair.deviceToken = self.devices?.issue(username: name, device: device, now: now)
        return pair
    }

    /// Trades a refresh token for a new access token and a new refresh token. The presented token
    /// is spent: presenting it again after the grace window revokes the session.
    ///
    /// `proofKey`: the thumbprint of the DPoP key the request proved. A token bound to a key is
    /// traded only with a proof of that key, checked before anything is spent (a thief's attempt
    /// rotates nothing). A session's binding is its login's, for good: an unbound refresh token
    /// traded with a proof gives an access token bound to that key and an unbound refresh token,
    /// so that no copy of the session's chain is ever bound and unbound at once (a trade within the
    /// grace window gets the same successor).
    public func refresh(refreshToken: String, proofKey: String? = nil) async throws -> TokenPair {
        let now = self.clock.now()
        let claims = try self.verifyRefreshToken(refreshToken, checkTimes: true)
        try Self.checkBinding(of: claims, proofKey: proofKey, token: "refresh token")
        let accessKey = claims.boundKey ?? proofKey
        let rotation = SessionRotation(
            username: claims.sub,
            sessionID: claims.sid,
            presentedTokenID: claims.jti,
            nextTokenID: RandomID.make(),
            now: now,
            refreshExpiresAt: now + self.settings.refreshTokenTTL,
            graceSeconds: self.settings.refreshGraceWindow
        )
        switch try await self.store.rotateSession(rotation) {
        case .rotated(let refreshExpiresAt, let roles, let assurance):
            AuthMetrics.issued(.refresh)
            try await self.record(SecurityEvent(.refresh, subject: claims.sub, sessionID: claims.sid))
            return try self.issue(
                username: claims.sub, sessionID: claims.sid, refreshTokenID: rotation.nextTokenID,
                refreshExpiresAt: refreshExpiresAt, roles: roles, assurance: assurance, now: now,
                clientID: claims.clientID, boundKey: accessKey, refreshBoundKey: claims.boundKey
            )
        case .duplicate(let current, let refreshExpiresAt, let roles, let assurance):
            AuthMetrics.issued(.refreshDuplicate)
            try await self.record(
                SecurityEvent(.refresh, subject: claims.sub, sessionID: claims.sid, details: [("duplicate", "1")]))
            return try self.issue(
                username: claims.sub, sessionID: claims.sid, refreshTokenID: current,
                refreshExpiresAt: refreshExpiresAt, roles: roles, assurance: assurance, now: now,
                clientID: claims.clientID, boundKey: accessKey, refreshBoundKey: claims.boundKey
            )
        case .unknownSession:
            throw AuthError.invalidGrant("refresh token revoked")
        case .reused:
            AuthMetrics.reuseDetected()
            self.logger.warning(
                "refresh token reuse detected; session revoked",
                metadata: ["user": "\(claims.sub)", "session": "\(claims.sid)"]
            )
            try await self.record(
                SecurityEvent(.refreshReuse, subject: claims.sub, sessionID: claims.sid, isRevocation: true),
                .sessionsEnded(.reuse, subject: claims.sub, sessionID: claims.sid))
            throw AuthError.invalidGrant("refresh token already used")
        }
    }

    /// A token bound to a key (`cnf.jkt`) is good only with a proof of that key.
    static func checkBinding(of claims: TokenClaims, proofKey: String?, token: String) throws(AuthError) {
        guard let bound = claims.boundKey else { return }
        guard let proofKey else {
            throw AuthError.invalidDPoPProof("this \(token) is bound to a key (DPoP): send a proof made with it")
        }
        guard ConstantTime.equal(Array(proofKey.utf8), Array(bound.utf8)) else {
            throw AuthError.invalidDPoPProof("the DPoP proof's key is not the one this \(token) is bound to")
        }
    }

    /// Verifies an access token (signature, kind, expiry), that its session is still live and that
    /// it was not revoked on its own. The principal's roles are the session's as they are now, not
    /// the token's claim: a role taken away is gone on the next request.
    ///
    /// `binding`, when given, is run once the token has verified and before the store is asked,
    /// with the key the token is bound to (`cnf.jkt`) or `nil`: the caller's DPoP check, which
    /// throws to refuse. A forged token thus costs no proof verification and no store call.
    public func authenticate(
        accessToken: String, binding: ((_ boundKey: String?) async throws -> Void)? = nil
    ) async throws -> Principal {
        let claims: TokenClaims
        do {
            claims = try self.tokens.verify(accessToken, as: .access, now: self.clock.now())
        } catch {
            throw AuthError.invalidToken(error.kind == .expired ? "access token expired" : "invalid access token")
        }
        if let binding { try await binding(claims.boundKey) }
        let state =
            claims.grantedToClient
            ? try await self.store.clientAccessState(clientID: claims.sub, secretID: claims.sid, tokenID: claims.jti)
            : try await self.store.accessState(
                username: claims.sub, sessionID: claims.sid, tokenID: claims.jti, now: self.clock.now())
        switch state {
        case .active(let roles):
            return Principal(
                username: claims.sub, sessionID: claims.sid, tokenID: claims.jti, expiresAt: claims.exp, roles: roles,
                isClient: claims.grantedToClient, clientID: claims.clientID,
                assurance: Assurance(methods: claims.amr, authTime: claims.authTime ?? 0), boundKey: claims.boundKey)
        case .sessionEnded where claims.grantedToClient:
            throw AuthError.invalidToken("client or client secret revoked")
        case .sessionEnded:
            throw AuthError.invalidToken("session ended")
        case .tokenRevoked:
            throw AuthError.invalidToken("access token revoked")
        }
    }

    /// Records a security event. One that reports a revocation must be stored before the
    /// revocation is acknowledged: when the log cannot take it, the request fails (503), and the
    /// client's retry, idempotent, records it again. Any other is dropped, and counted.
    public func record(_ batch: SecurityEvent...) async throws {
        try await self.record(batch)
    }

    /// Records the events, in order, as ``record(_:)-(SecurityEvent...)`` does one.
    public func record(_ batch: [SecurityEvent]) async throws {
        guard let events = self.events, !batch.isEmpty else { return }
        let durable = batch.contains(where: \.isRevocation)
        let logger = self.logger
        let lost: @Sendable (any Error) -> Void = { error in
            for event in batch { AuthMetrics.eventLost(revocation: event.isRevocation) }
            logger.warning(
                "security event not recorded",
                metadata: ["type": "\(batch.map(\.kind.rawValue).joined(separator: ","))", "error": "\(error)"])
        }
        do {
            // Only a revocation's events are waited for; any other's go with the next batch.
            try await events.record(batch, durable: durable, lost: lost)
        } catch {
            lost(error)
            throw error
        }
    }

    /// The service's time, in seconds since 1970.
    public var now: Int { self.clock.now() }

    public func checkReadiness() async throws {
        try await self.store.checkReadiness()
    }

    /// The canonical name and the stored password when the password is right;
    /// ``AuthError/invalidCredentials`` otherwise, after the same hashing work whether or not the
    /// user exists. The attempt is counted first, atomically, for the user, the address and both
    /// together: over a limit it fails with ``AuthError/throttled(retryAfter:attempts:)`` before any hashing.
    /// A success gives its attempt back.
    func checkPassword(username: String, password: String, client: ClientInfo, device: String? = nil) async throws
        -> (name: String, stored: StoredPassword)
    {
        let scope = ThrottleScope.password(username: username, ip: client.ip, device: device)
        try await self.takeAttempt(scope)
        let matched: (name: String, stored: StoredPassword)?
        do {
            // A name that could never exist still costs a hash, so it answers in the usual time.
            let name = try? Credentials.canonicalUsername(username)
            var stored: StoredPassword?
            if let name { stored = try await self.store.password(username: name) }
            let bounded = password.utf8.count <= Credentials.passwordMaxBytes ? password : ""
            let verified = try await self.passwords.verify(bounded, against: stored?.hash)
            matched = verified ? name.flatMap { name in stored.map { (name, $0) } } : nil
        } catch {
            // Not the client's failure (the store or the hash pool): it does not count.
            try await self.finishAttempt(scope, failed: false)
            throw error
        }
        try await self.finishAttempt(scope, failed: matched == nil)
        guard let matched else {
            AuthMetrics.loginFailed()
            throw AuthError.invalidCredentials
        }
        return matched
    }

    /// `login_failed` for a wrong password or an unknown user, `login_throttled` for a login
    /// refused before any check; nothing for a failure of authd's (the store).
    private func recordLoginFailure(_ error: AuthError, username: String) async throws {
        switch error {
        case .invalidCredentials:
            try await self.record(SecurityEvent(.loginFailed, subject: username))
        case .throttled(let retryAfter, _):
            // One an address every 10 s on each instance: see ``recentlyThrottled``.
            guard self.recentlyThrottled.firstInWindow(EventOrigin.current?.ip ?? "") else { return }
            try await self.record(
                SecurityEvent(.loginThrottled, subject: username, details: [("retry_after", String(retryAfter))]))
        default: break
        }
    }

    /// Counts an attempt in flight, or throws ``AuthError/throttled(retryAfter:attempts:)`` when a limit is
    /// reached. While the limit is taken only by attempts still running (a burst of logins of one
    /// user from one address, say), it waits for them, up to 2 s, instead of refusing: they may
    /// succeed and leave room.
    func takeAttempt(_ scope: ThrottleScope) async throws {
        guard self.settings.throttle.enabled else { return }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(2)
        while true {
            let result = try await self.store.takeAttempt(scope, policy: self.settings.throttle)
            if result == 0 { return }
            guard result < 0, clock.now < deadline else {
                AuthMetrics.throttled()
                throw AuthError.throttled(retryAfter: max(result, 1), attempts: scope.attempts)
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 10...40)))
        }
    }

    /// Ends an attempt taken with ``takeAttempt(_:)``.
    func finishAttempt(_ scope: ThrottleScope, failed: Bool) async throws {
        guard self.settings.throttle.enabled else { return }
        try await self.store.finishAttempt(scope, policy: self.settings.throttle, failed: failed)
    }

    /// Signature, kind, issuer; and times only with `checkTimes` (an expired token still names
    /// its session, for logout).
    func verifyRefreshToken(_ token: String, checkTimes: Bool = false) throws -> TokenClaims {
        do {
            return try self.tokens.verify(token, as: .refresh, now: self.clock.now(), checkTimes: checkTimes)
        } catch {
            throw AuthError.invalidGrant(error.kind == .expired ? "refresh token expired" : "invalid refresh token")
        }
    }

    private func issue(
        username: String,
        sessionID: String,
        refreshTokenID: String,
        refreshExpiresAt: Int,
        roles: [String],
        assurance: Assurance,
        now: Int,
        clientID: String? = nil,
        boundKey: String?,
        refreshBoundKey: String?
    ) throws -> TokenPair {
        let client = clientID ?? self.settings.defaultClientID
        var refresh = TokenClaims(
            iss: self.settings.issuer, sub: username, aud: self.settings.issuer, clientID: client, iat: now,
            exp: refreshExpiresAt, jti: refreshTokenID, sid: sessionID, tokenUse: .refresh
        )
        // The refresh token's binding is the session's (its login's), the access token's also the
        // request's proof: see ``refresh(refreshToken:proofKey:)``.
        refresh.boundKey = refreshBoundKey
        return TokenPair(
            accessToken: try self.issueAccessToken(
                username: username, sessionID: sessionID, roles: roles, assurance: assurance, now: now,
                clientID: client, boundKey: boundKey),
            refreshToken: try self.tokens.sign(refresh),
            expiresIn: self.settings.accessTokenTTL,
            boundKey: boundKey
        )
    }

    /// An access token of the session's, with its roles and its user's assurance (`amr`, `auth_time`).
    func issueAccessToken(
        username: String, sessionID: String, roles: [String], assurance: Assurance, now: Int, clientID: String,
        boundKey: String?
    ) throws -> String {
        var access = TokenClaims(
            iss: self.settings.issuer, sub: username, aud: self.settings.audience, clientID: clientID, iat: now,
            exp: now + self.settings.accessTokenTTL, jti: RandomID.make(), sid: sessionID, tokenUse: .access,
            roles: roles
        )
        access.amr = assurance.methods
        access.authTime = assurance.authTime == 0 ? nil : assurance.authTime
        access.boundKey = boundKey
        return try self.tokens.sign(access)
    }
}

/// Who an access token speaks for.
public struct Principal: Sendable, Equatable {
    public var username: String
    public var sessionID: String
    /// The access token's own id (`jti`).
    public var tokenID: String
    /// When the access token expires, in seconds since 1970.
    public var expiresAt: Int
    /// The session's roles, as they are now (``Roles``); a client's, for a client's own token.
    public var roles: [String] = []
    /// A registered client with a token of its own (``RegisteredClient``): `username` is then the
    /// client's id and `sessionID` the id of the secret the token was granted with. Routes of a
    /// user's (sessions, password) refuse it.
    public var isClient = false
    /// The OAuth client the token was issued to.
    public var clientID = ""
    /// How the user authenticated, as the token says (nothing for a client's own token).
    public var assurance = Assurance(methods: [], authTime: 0)
    /// The thumbprint of the DPoP key the access token is bound to (`cnf.jkt`); `nil`: a bearer token.
    public var boundKey: String?
}

/// What login and refresh return.
public struct TokenPair: Sendable, Equatable {
    public var accessToken: String
    public var refreshToken: String
    /// The access token's lifetime in seconds.
    public var expiresIn: Int
    /// After a login: this client's device token (``DeviceTokens``), to present at its next login.
    public var deviceToken: String?
    /// The thumbprint of the DPoP key the access token is bound to (the refresh token is bound to
    /// its session's, ``AuthService/refresh(refreshToken:proofKey:)``); `nil`: a bearer token.
    public var boundKey: String?

    /// RFC 9449 §5's `token_type`: `DPoP` for a bound access token, `Bearer` otherwise.
    public var tokenType: String { Self.tokenType(boundKey: self.boundKey) }

    /// The `token_type` of an access token bound to `boundKey` (`nil`: none).
    public static func tokenType(boundKey: String?) -> String { boundKey == nil ? "Bearer" : "DPoP" }
}

/// Addresses seen here within a window: those whose client credentials passed in the last second
/// (their next check skips the throttle's round trip), those whose throttled logins were recorded
/// lately. At most 4,096 are remembered (then all are forgotten).
final class RecentAddresses: Sendable {
    private let window: Duration
    private let seen = Mutex<[String: ContinuousClock.Instant]>([:])

    init(window: Duration) {
        self.window = window
    }

    func passedRecently(_ ip: String) -> Bool {
        let now = ContinuousClock.now
        return self.seen.withLock { seen in seen[ip].map { now - $0 < self.window } ?? false }
    }

    func passed(_ ip: String) {
        let now = ContinuousClock.now
        self.seen.withLock { seen in
            if seen.count >= 4096 { seen = [:] }
            seen[ip] = now
        }
    }

    /// Whether `ip` was not seen within the window; it is seen now, either way.
    func firstInWindow(_ ip: String) -> Bool {
        let now = ContinuousClock.now
        return self.seen.withLock { seen in
            if let last = seen[ip], now - last < self.window { return false }
            if seen.count >= 4096 { seen = [:] }
            seen[ip] = now
            return true
        }
    }
}
