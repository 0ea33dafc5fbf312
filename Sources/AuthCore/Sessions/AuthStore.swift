/// The state the token domain keeps outside the process, shared by every instance.
///
/// The domain states what it needs; the Redis store (module AuthStore) says how. Every method
/// throws ``StoreUnavailableError`` when the store cannot answer, never a guess.
public protocol AuthStore: Sendable {
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

    /// Records a new session whose current refresh token is `session.refreshTokenID`, if the user's
    /// password version is still `session.passwordVersion`; then ends the user's sessions closest
    /// to expiry beyond `maxSessions`. Returns `false` (and opens nothing) when the password changed.
    func createSession(_ session: SessionRecord, now: Int, maxSessions: Int) async throws -> Bool
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

    /// Whether an access token's session is live at `now` and the token not revoked, in one round
    /// trip (none, when the store keeps a cache that the server invalidates).
    func accessState(username: String, sessionID: String, tokenID: String, now: Int) async throws -> AccessState
    /// Revokes one access token until `expiresAt`. A session that would carry more than
    /// `maxDenied` live denials is ended instead.
    func denyAccessToken(
        username: String, sessionID: String, tokenID: String, expiresAt: Int, now: Int, maxDenied: Int
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
}

/// A user's password hash (PHC string) and its version, which every password change increments.
public struct StoredPassword: Sendable, Equatable {
    public var hash: String
    public var version: String

    public init(hash: String, version: String) {
        self.hash = hash
        self.version = version
    }
}

/// What a caller shows before ending sessions beyond its own.
public enum SessionProof: Sendable, Equatable {
    /// A refresh token: its session must live, and the token be the current one, or its
    /// predecessor within `graceSeconds` of the rotation.
    case refreshToken(sessionID: String, tokenID: String, now: Int, graceSeconds: Int)
    /// An access token: its session must live and the token not be revoked.
    case accessToken(sessionID: String, tokenID: String)
}

/// Which attempt counters apply.
public enum ThrottleScope: Sendable, Equatable {
    /// A password check for `username` (as given, unvalidated) from `ip`: login and password change.
    case password(username: String, ip: String)
    /// A sign-up from `ip`.
    case signUp(ip: String)
}

/// A session as stored when it is created.
public struct SessionRecord: Sendable, Equatable {
    public var username: String
    public var id: String
    /// The `jti` of the session's one valid refresh token.
    public var refreshTokenID: String
    /// When the current refresh token expires: the store's key lives exactly that long.
    public var refreshExpiresAt: Int
    /// The session's absolute end.
    public var absoluteExpiresAt: Int
    public var client: ClientInfo
    /// The version of the password the login checked.
    public var passwordVersion: String

    public init(
        username: String, id: String, refreshTokenID: String, refreshExpiresAt: Int, absoluteExpiresAt: Int,
        client: ClientInfo, passwordVersion: String
    ) {
        self.passwordVersion = passwordVersion
        self.username = username
        self.id = id
        self.refreshTokenID = refreshTokenID
        self.refreshExpiresAt = refreshExpiresAt
        self.absoluteExpiresAt = absoluteExpiresAt
        self.client = client
    }
}

/// What the service knows of the client that opened a session, for the user's session list.
public struct ClientInfo: Sendable, Equatable {
    public static let maxUserAgentBytes = 256

    public var userAgent: String
    public var ip: String

    public init(userAgent: String? = nil, ip: String? = nil) {
        self.userAgent = String(decoding: (userAgent ?? "").utf8.prefix(Self.maxUserAgentBytes), as: UTF8.self)
        self.ip = ip ?? ""
    }
}

/// A live session, as listed to its user.
public struct SessionInfo: Sendable, Equatable {
    public var id: String
    public var createdAt: Int
    public var lastUsedAt: Int
    /// When the session ends unless refreshed before.
    public var expiresAt: Int
    /// When the session ends whatever happens.
    public var absoluteExpiresAt: Int
    public var client: ClientInfo

    public init(id: String, createdAt: Int, lastUsedAt: Int, expiresAt: Int, absoluteExpiresAt: Int, client: ClientInfo)
    {
        self.id = id
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.expiresAt = expiresAt
        self.absoluteExpiresAt = absoluteExpiresAt
        self.client = client
    }
}

/// One refresh-token rotation.
public struct SessionRotation: Sendable, Equatable {
    public var username: String
    public var sessionID: String
    public var presentedTokenID: String
    public var nextTokenID: String
    public var now: Int
    /// When the new refresh token should expire. The store caps it at the session's absolute end.
    public var refreshExpiresAt: Int
    /// How long after a rotation the previous token may still be presented without counting as
    /// reuse (two refreshes at once from the same client).
    public var graceSeconds: Int
}

public enum RotationResult: Sendable, Equatable {
    /// The presented token was current and has been replaced. The new token expires at
    /// `refreshExpiresAt` (capped at the session's absolute end), and so do the session's keys.
    case rotated(refreshExpiresAt: Int)
    /// The presented token was replaced within the grace window: nothing changed, and the current
    /// token (`currentTokenID`, expiring at `refreshExpiresAt`) is to be issued again.
    case duplicate(currentTokenID: String, refreshExpiresAt: Int)
    /// No such session: logged out, revoked or expired.
    case unknownSession
    /// The presented token was already rotated away. The store has revoked the whole session,
    /// since an old refresh token in use means it may have been stolen (RFC 9700 §4.14.2).
    case reused
}

public enum AccessState: Sendable, Equatable {
    case active
    /// Logged out, revoked or expired.
    case sessionEnded
    /// This access token was revoked on its own (RFC 7009).
    case tokenRevoked
}

/// How many attempts are tolerated before `429 Too Many Requests`. An attempt is counted before
/// the password hash it would cost, and given back when it succeeds, so the limits bound the
/// failures. Three counters for password checks, so that an attacker cannot lock a user out for
/// long: the tight limit applies to one user *from one address*; the user's limit over all
/// addresses is much looser; and one address has a limit over all users. One counter for sign-ups.
public struct ThrottlePolicy: Sendable, Equatable {
    public struct Limit: Sendable, Equatable {
        public var failures: Int
        public var windowSeconds: Int

        public init(failures: Int, windowSeconds: Int) {
            self.failures = failures
            self.windowSeconds = windowSeconds
        }
    }

    /// One user from one address: 5 failures in 5 minutes.
    public var userFromAddress = Limit(failures: 5, windowSeconds: 300)
    /// One user from anywhere (a distributed guess): 50 failures in 15 minutes.
    public var user = Limit(failures: 50, windowSeconds: 900)
    /// One address, any users (credential stuffing): 100 failures in 15 minutes.
    public var address = Limit(failures: 100, windowSeconds: 900)
    /// Sign-ups from one address: 20 an hour (each costs a password hash, and an account). Enough
    /// for a room of people behind one NAT, and for the 16 users of the shared load scenarios.
    public var signUpFromAddress = Limit(failures: 20, windowSeconds: 3600)
    public var enabled = true

    public init() {}
}
