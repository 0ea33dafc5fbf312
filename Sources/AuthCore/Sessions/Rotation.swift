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

    public init(
        username: String, sessionID: String, presentedTokenID: String, nextTokenID: String, now: Int,
        refreshExpiresAt: Int, graceSeconds: Int
    ) {
        self.username = username
        self.sessionID = sessionID
        self.presentedTokenID = presentedTokenID
        self.nextTokenID = nextTokenID
        self.now = now
        self.refreshExpiresAt = refreshExpiresAt
        self.graceSeconds = graceSeconds
    }
}

public enum RotationResult: Sendable, Equatable {
    /// The presented token was current and has been replaced. The new token expires at
    /// `refreshExpiresAt` (capped at the session's absolute end), and so do the session's keys.
    /// `roles` and `assurance`: the session's, for the new access token.
    case rotated(refreshExpiresAt: Int, roles: [String] = [], assurance: Assurance = .passwordOnly(at: 0))
    /// The presented token was replaced within the grace window: nothing changed, and the current
    /// token (`currentTokenID`, expiring at `refreshExpiresAt`) is to be issued again.
    case duplicate(
        currentTokenID: String, refreshExpiresAt: Int, roles: [String] = [], assurance: Assurance = .passwordOnly(at: 0)
    )
    /// No such session: logged out, revoked or expired.
    case unknownSession
    /// The presented token was already rotated away. The store has revoked the whole session,
    /// since an old refresh token in use means it may have been stolen (RFC 9700 §4.14.2).
    case reused
}

public enum AccessState: Sendable, Equatable {
    /// Live, with the session's roles as they are now.
    case active(roles: [String])
    /// Logged out, revoked or expired.
    case sessionEnded
    /// This access token was revoked on its own (RFC 7009).
    case tokenRevoked
}
