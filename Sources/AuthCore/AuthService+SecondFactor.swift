import JOSE

/// Second factors (docs/SECOND-FACTOR.md): TOTP (RFC 6238) with recovery codes.
///
/// - Enrolment asks for the password again, keeps a new secret (sealed) until a first valid code
///   confirms it, and then hands out recovery codes, once.
/// - A login whose password is right gets a challenge instead of tokens (``AuthError/secondFactorRequired(challenge:expiresIn:)``);
///   the challenge and a code, or a recovery code, give the pair.
/// - A code is accepted in its step and the steps either side (``SecondFactorSettings/drift``), and
///   only once: its step, and every earlier one, is spent in Redis, on every instance at once.
/// - Wrong codes are throttled per challenge (or session) and per user, atomically, as passwords are.
public struct SecondFactorSettings: Sendable {
    /// The issuer authenticator apps show (`otpauth://` label and `issuer`).
    public var issuer = "authd"
    /// Steps accepted either side of the current one: 1 accepts codes up to 30 s early or late
    /// (RFC 6238 §5.2 recommends at most one).
    public var drift = 1
    /// How long a login's challenge waits for its code, in seconds.
    public var challengeLifetime = 300
    /// How long an enrolment waits for its first code, in seconds.
    public var enrolmentLifetime = 600

    public init() {}
}

/// What a user gives as the second factor.
public enum FactorAnswer: Sendable, Equatable {
    /// The authenticator's 6 digits.
    case code(String)
    /// One of the recovery codes given at enrolment.
    case recoveryCode(String)

    var method: String {
        switch self {
        case .code: "totp"
        case .recoveryCode: "recovery_code"
        }
    }
}

/// The answer to the start of an enrolment: the secret, for the authenticator app.
public struct FactorEnrolment: Sendable, Equatable {
    /// Base32, for typing in.
    public var secret: String
    /// `otpauth://totp/...`, for a QR code.
    public var uri: String
    /// Seconds left to confirm it with a first code.
    public var expiresIn: Int
}

extension AuthService {
    /// Starts an enrolment for the caller, after checking the password again (throttled as a
    /// login is): someone holding only a session token cannot add a factor that locks the user out.
    public func beginEnrolment(of principal: Principal, password: String, client: ClientInfo) async throws
        -> FactorEnrolment
    {
        let vault = try self.factorVault()
        _ = try await self.checkPassword(username: principal.username, password: password, client: client)
        let secret = FactorVault.newSecret()
        let now = self.clock.now()
        let lifetime = self.settings.secondFactor.enrolmentLifetime
        let sealed = try vault.seal(secret, for: principal.username)
        switch try await self.store.beginFactor(
            username: principal.username, sealedSecret: sealed, expiresAt: now + lifetime, now: now)
        {
        case .done:
            return FactorEnrolment(
                secret: Base32.encode(secret),
                uri: TOTP.provisioningURI(
                    secret: secret, issuer: self.settings.secondFactor.issuer, account: principal.username),
                expiresIn: lifetime)
        case .active: throw AuthError.factorState("a second factor is active already: remove it first")
        case .noUser, .stale: throw AuthError.invalidToken("session ended")
        }
    }

    /// Confirms the caller's enrolment with a first code from the authenticator. Returns the
    /// recovery codes: shown once, kept only as digests.
    public func confirmEnrolment(of principal: Principal, code: String) async throws -> [String] {
        let vault = try self.factorVault()
        let name = principal.username
        return try await self.counted(name, attempt: principal.sessionID, session: principal.sessionID) {
            let now = self.clock.now()
            guard let factor = try await self.store.factor(username: name), factor.sealedSecret == nil,
                let pending = factor.pendingSecret, factor.pendingExpiresAt >= now,
                let secret = vault.open(pending, for: name)
            else {
                throw AuthError.factorState("no enrolment is waiting for a code: start one with POST /mfa/totp")
            }
            guard
                let step = TOTP.matchingStep(
                    of: code, secret: secret, around: TOTP.step(at: now), drift: self.settings.secondFactor.drift)
            else { throw AuthError.invalidCode }
            let codes = FactorVault.newRecoveryCodes()
            switch try await self.store.confirmFactor(
                username: name, sealedSecret: pending, step: step,
                recoveryDigests: codes.compactMap { vault.recoveryDigest(of: $0) }, now: now)
            {
            case .done: break
            case .active: throw AuthError.factorState("a second factor is active already")
            case .stale: throw AuthError.factorState("the enrolment lapsed or was started again: start it again")
            case .noUser: throw AuthError.invalidToken("session ended")
            }
            self.logger.info("second factor enrolled", metadata: ["user": "\(name)"])
            try await self.record(
                SecurityEvent(
                    .factorEnrolled, subject: name, sessionID: principal.sessionID, details: [("method", "totp")]))
            return codes
        }
    }

    /// Completes a login that answered with a challenge: a code or a recovery code gives the pair.
    /// `boundKey`: the DPoP key the request proved, as for ``login(username:password:client:deviceToken:boundKey:)``.
    public func completeLogin(challenge token: String, with answer: FactorAnswer, boundKey: String? = nil)
        async throws -> TokenPair
    {
        guard let (id, name) = FactorChallenge.parse(token) else {
            throw AuthError.invalidGrant("invalid mfa_token")
        }
        // Only a challenge still waiting counts attempts: made-up ones cannot lock the user out.
        guard try await self.store.challengeExists(username: name, id: id) else {
            throw AuthError.invalidGrant("the mfa_token expired or was used: log in again")
        }
        let (challenge, left) = try await self.counted(name, attempt: id, session: nil) {
            try await self.spend(answer, of: name, for: .challenge(id: id))
        }
        guard let challenge else { throw AuthError.invalidGrant("the mfa_token expired or was used: log in again") }
        return try await self.openSession(
            username: name, passwordVersion: challenge.passwordVersion, client: challenge.client,
            device: challenge.device, assurance: .secondFactor(at: self.clock.now()), boundKey: boundKey,
            details: Self.factorDetails(answer, left: left))
    }

    /// Step-up: the caller's session proves the second factor now. Its next tokens (this access
    /// token, and every refresh's) carry `amr` `pwd otp` and this `auth_time`.
    public func stepUp(_ principal: Principal, with answer: FactorAnswer) async throws -> (
        accessToken: String, expiresIn: Int
    ) {
        let now = self.clock.now()
        let assurance = Assurance.secondFactor(at: now)
        let name = principal.username
        let (_, left) = try await self.counted(name, attempt: principal.sessionID, session: principal.sessionID) {
            try await self.spend(answer, of: name, for: .stepUp(sessionID: principal.sessionID, assurance))
        }
        try await self.record(
            SecurityEvent(
                .stepUp, subject: name, sessionID: principal.sessionID, details: Self.factorDetails(answer, left: left))
        )
        let token = try self.issueAccessToken(
            username: name, sessionID: principal.sessionID, roles: principal.roles, assurance: assurance, now: now,
            clientID: principal.clientID.isEmpty ? self.settings.defaultClientID : principal.clientID,
            boundKey: principal.boundKey)
        return (token, self.settings.accessTokenTTL)
    }

    /// Removes the caller's factor, proven by a code or a recovery code, and ends the user's other
    /// sessions (one of them may be why the factor goes). Returns how many ended.
    @discardableResult
    public func removeFactor(of principal: Principal, with answer: FactorAnswer) async throws -> Int {
        let name = principal.username
        _ = try await self.counted(name, attempt: principal.sessionID, session: principal.sessionID) {
            try await self.spend(answer, of: name, for: .check)
        }
        _ = try await self.store.removeFactor(username: name)
        let ended =
            try await self.store.endSessions(
                username: name, keeping: principal.sessionID,
                proof: .accessToken(sessionID: principal.sessionID, tokenID: principal.tokenID)) ?? 0
        AuthMetrics.revoked(.logout, count: ended)
        self.logger.info("second factor removed", metadata: ["user": "\(name)"])
        try await self.record(
            SecurityEvent(
                .factorRemoved, subject: name, sessionID: principal.sessionID, details: [("method", answer.method)],
                isRevocation: true),
            .sessionsEnded(.factor, subject: name, count: ended, details: [("keeping", principal.sessionID)]))
        return ended
    }

    /// The digits of the caller's factor are checked, and spent, for `use`.
    private func spend(_ answer: FactorAnswer, of name: String, for use: FactorUse) async throws -> (
        FactorChallenge?, Int
    ) {
        let vault = try self.factorVault()
        let now = self.clock.now()
        guard let factor = try await self.store.factor(username: name), let sealed = factor.sealedSecret else {
            throw AuthError.factorState("no second factor is active")
        }
        let proof: FactorProof
        switch answer {
        case .code(let code):
            guard let secret = vault.open(sealed, for: name) else {
                // Sealed under another key (AUTHD_FACTOR_KEY changed): recovery codes still work.
                self.logger.error(
                    "second factor secret does not open: was AUTHD_FACTOR_KEY changed?", metadata: ["user": "\(name)"])
                throw AuthError.invalidCode
            }
            guard
                let step = TOTP.matchingStep(
                    of: code, secret: secret, around: TOTP.step(at: now), drift: self.settings.secondFactor.drift)
            else { throw AuthError.invalidCode }
            proof = .code(step: step)
        case .recoveryCode(let code):
            guard let digest = vault.recoveryDigest(of: code) else { throw AuthError.invalidCode }
            proof = .recovery(digest: digest)
        }
        switch try await self.store.spendFactor(username: name, proof: proof, for: use, now: now) {
        case .spent(let challenge, let left): return (challenge, left)
        case .refused: throw AuthError.invalidCode
        case .noFactor: throw AuthError.factorState("no second factor is active")
        case .gone:
            if case .challenge = use { throw AuthError.invalidGrant("the mfa_token expired or was used: log in again") }
            throw AuthError.invalidToken("session ended")
        }
    }

    /// Runs `body` as one counted attempt at `username`'s second factor, in the login challenge or
    /// the session `attempt`: refused over the limits before anything is checked; a wrong code
    /// (``AuthError/invalidCode``) counts as a failure, and is recorded (with `session`, if any).
    private func counted<T: Sendable>(
        _ username: String, attempt: String, session sessionID: String?, _ body: () async throws -> T
    ) async throws -> T {
        let scope = ThrottleScope.secondFactor(username: username, attempt: attempt)
        try await self.takeAttempt(scope)
        let result: T
        do {
            result = try await body()
        } catch AuthError.invalidCode {
            try await self.finishAttempt(scope, failed: true)
            AuthMetrics.loginFailed()
            try await self.record(SecurityEvent(.factorFailed, subject: username, sessionID: sessionID))
            throw AuthError.invalidCode
        } catch {
            try? await self.finishAttempt(scope, failed: false)
            throw error
        }
        try await self.finishAttempt(scope, failed: false)
        return result
    }

    /// Opens the challenge of a login whose password was right, and returns the error that
    /// answers it.
    func challenge(_ challenge: FactorChallenge) async throws -> AuthError {
        let now = self.clock.now()
        let lifetime = self.settings.secondFactor.challengeLifetime
        try await self.store.createChallenge(challenge, expiresAt: now + lifetime, now: now)
        return AuthError.secondFactorRequired(challenge: challenge.token, expiresIn: lifetime)
    }

    private func factorVault() throws -> FactorVault {
        guard let vault = self.factors else { throw AuthError.featureOff("second factors are off") }
        return vault
    }

    private static func factorDetails(_ answer: FactorAnswer, left: Int) -> [(String, String)] {
        switch answer {
        case .code: [("method", "totp")]
        case .recoveryCode: [("method", "recovery_code"), ("recovery_codes_left", String(left))]
        }
    }
}

/// Whether a user has a factor, as `GET /mfa` shows it.
public struct FactorStatus: Sendable, Equatable {
    public enum State: String, Sendable {
        case none
        /// Enrolment started, waiting for its first code.
        case pending
        case active
    }

    public var state: State
    public var recoveryCodesLeft: Int
}

extension AuthService {
    public func factorStatus(of principal: Principal) async throws -> FactorStatus {
        guard let factor = try await self.store.factor(username: principal.username) else {
            return FactorStatus(state: .none, recoveryCodesLeft: 0)
        }
        if factor.sealedSecret != nil {
            return FactorStatus(state: .active, recoveryCodesLeft: factor.recoveryCodesLeft)
        }
        let waiting = factor.pendingSecret != nil && factor.pendingExpiresAt >= self.clock.now()
        return FactorStatus(state: waiting ? .pending : .none, recoveryCodesLeft: 0)
    }
}
