/// The state the token domain keeps outside the process, shared by every instance.
///
/// The domain states what it needs; the Redis store (module RedisStore) says how. Every method
/// throws ``StoreUnavailableError`` when the store cannot answer, never a guess.
public protocol AuthStore: FactorStore {
    /// Creates a user. Returns `false` when the name is taken.
    func createUser(username: String, passwordHash: String, now: Int) async throws -> Bool
    /// Whether a user of that (canonical) name exists.
    func userExists(username: String) async throws -> Bool
    /// The stored password hash and its version, or `nil` for an unknown user.
    func password(username: String) async throws -> StoredPassword?
    /// Replaces the hash `verified` by `upgraded` (the same password, current parameters), only if
    /// `verified` is still the stored one. Returns whether it replaced it.
    func upgradePasswordHash(username: String, verified: String, upgraded: String) async throws -> Bool
    /// Sets a new password hash and ends every session of the user, in one step, if the password
    /// version is still `expectedVersion`. Returns how many sessions were ended, or `nil` when the
    /// password changed meanwhile (then nothing changes).
    func changePassword(username: String, expectedVersion: String, newHash: String) async throws -> Int?

    /// Records a new session whose current refresh token is `session.refreshTokenID`, with the
    /// user's roles, if the user's password version is still `session.passwordVersion`; then ends
    /// the user's sessions closest to expiry beyond `maxSessions`. Returns the roles the session
    /// took and the sessions the cap ended, or `nil` (and opens nothing) when the password changed.
    func createSession(_ session: SessionRecord, now: Int, maxSessions: Int) async throws -> OpenedSession?
    /// Atomically replaces the session's current refresh token id `presented` by `next`.
    func rotateSession(_ rotation: SessionRotation) async throws -> RotationResult
    /// Deletes a session. Returns whether it existed.
    @discardableResult
    func endSession(username: String, sessionID: String) async throws -> Bool
    /// Deletes every session of a user but `keeping`, if `proof` holds (checked in the same atomic
    /// step). Returns how many were ended, or `nil` when the proof failed (nothing ended).
    @discardableResult
    func endSessions(username: String, keeping: String?, proof: SessionProof?) async throws -> Int?
    /// The user's live sessions, oldest first.
    func listSessions(username: String, now: Int) async throws -> [SessionInfo]

    /// Whether an access token's session is live at `now` and the token not revoked, and the
    /// session's roles as they are now, in one round trip (none, when the store keeps a cache that
    /// the server invalidates).
    func accessState(username: String, sessionID: String, tokenID: String, now: Int) async throws -> AccessState
    /// Revokes one access token until `expiresAt`. A session that would carry more than
    /// `maxDenied` live denials is ended instead.
    func denyAccessToken(
        username: String, sessionID: String, tokenID: String, expiresAt: Int, now: Int, maxDenied: Int
    ) async throws

    /// A registered client (``RegisteredClient``), or nil. Read through the verify cache when
    /// there is one: a change to the client is a revocation, and reaches every instance at once.
    func client(id: String) async throws -> RegisteredClient?
    /// Whether a client's own token is live: the client still registered and allowed tokens, the
    /// secret the token was granted with still one of its secrets, the token not revoked on its
    /// own; with the client's roles as they are now. One round trip, like ``accessState(username:sessionID:tokenID:now:)``.
    func clientAccessState(clientID: String, secretID: String, tokenID: String) async throws -> AccessState
    /// Revokes one of a client's own tokens until `expiresAt`. A client that would carry more
    /// than `maxDenied` live denials loses the secret the token was granted with instead.
    func denyClientToken(
        clientID: String, secretID: String, tokenID: String, expiresAt: Int, now: Int, maxDenied: Int
    ) async throws

    /// Counts one attempt in flight on every counter of `scope`, atomically, unless one of them is
    /// at its limit. Returns 0 when the attempt was counted; the seconds until one may be when a
    /// counter's failures reach its limit; -1 when failures and attempts in flight together do
    /// (busy: some of those may still succeed, try again in a moment).
    func takeAttempt(_ scope: ThrottleScope, policy: ThrottlePolicy) async throws -> Int
    /// Ends an attempt taken with ``takeAttempt(_:policy:)``: a failure counts for the window.
    func finishAttempt(_ scope: ThrottleScope, policy: ThrottlePolicy, failed: Bool) async throws

    /// Throws unless the store answers and is ready to serve (in Redis: its scripts are loaded).
    func checkReadiness() async throws

    /// Marks a DPoP proof (by ``DPoPProof`` key and `jti`, digested into `id`) used for `ttl`
    /// seconds, on every instance at once. Returns `false` when it was used already.
    func spendProof(id: String, ttl: Int) async throws -> Bool
}

/// What changing a user's second factor did.
public enum FactorChange: Sendable, Equatable {
    case done
    /// The enrolment confirmed is not the one checked: it lapsed, or another began.
    case stale
    /// A factor is active already.
    case active
    case noUser
}

/// Second factors (docs/SECOND-FACTOR.md), beside the rest of the store: a user's factor, a
/// login's challenge and the spent codes are all under the user's hash tag, so that one script
/// checks and spends them together.
public protocol FactorStore: Sendable {
    /// Keeps a new TOTP secret (sealed) for the user until `expiresAt`, unless a factor is active.
    func beginFactor(username: String, sealedSecret: String, expiresAt: Int, now: Int) async throws -> FactorChange
    /// The user's factor, active or pending; nil when there is none.
    func factor(username: String) async throws -> StoredFactor?
    /// Makes the pending secret `sealedSecret` the user's factor, if it is still the pending one,
    /// with the step of its first code spent and the recovery codes' digests.
    func confirmFactor(username: String, sealedSecret: String, step: Int, recoveryDigests: [String], now: Int)
        async throws -> FactorChange
    /// Removes the user's factor, active or pending. Returns whether there was one.
    func removeFactor(username: String) async throws -> Bool
    /// Keeps a login's challenge until `expiresAt`.
    func createChallenge(_ challenge: FactorChallenge, expiresAt: Int, now: Int) async throws
    /// Whether the challenge is still waiting.
    func challengeExists(username: String, id: String) async throws -> Bool
    /// Spends `proof` for `use`, once over every instance (``FactorSpend``).
    func spendFactor(username: String, proof: FactorProof, for use: FactorUse, now: Int) async throws -> FactorSpend
}
