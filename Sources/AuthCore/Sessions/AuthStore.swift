/// The state the token domain keeps outside the process, shared by every instance.
///
/// The domain states what it needs; the Redis store (module AuthStore) says how. Every method
/// throws ``StoreUnavailableError`` when the store cannot answer, never a guess.
public protocol AuthStore: Sendable {
    /// Creates a user. Returns `false` when the name is taken.
    func createUser(username: String, passwordHash: String, now: Int) async throws -> Bool
    /// The stored password hash (PHC string) of a user, or `nil` for an unknown user.
    func passwordHash(username: String) async throws -> String?
    /// Records a new session whose current refresh token is `session.refreshTokenID`.
    func createSession(_ session: SessionRecord, now: Int) async throws
    /// Atomically replaces the session's current refresh token id `presented` by `next`.
    func rotateSession(_ rotation: SessionRotation) async throws -> RotationResult
    /// Deletes a session; nothing happens when it is already gone.
    func endSession(username: String, sessionID: String) async throws
    /// Whether the session still exists (not logged out, not expired).
    func isSessionActive(username: String, sessionID: String) async throws -> Bool
    /// Throws unless the store answers and is ready.
    func checkHealth() async throws
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
}

public enum RotationResult: Sendable, Equatable {
    /// The presented token was current and has been replaced. The new token expires at
    /// `refreshExpiresAt` (capped at the session's absolute end), and so do the session's keys.
    case rotated(refreshExpiresAt: Int)
    /// No such session: logged out, revoked or expired.
    case unknownSession
    /// The presented token was already rotated away. The store has revoked the whole session,
    /// since an old refresh token in use means it may have been stolen (RFC 9700 §4.14.2).
    case reused
}
