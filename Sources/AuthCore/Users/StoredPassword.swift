/// A user's password hash (PHC string) and its version, which every password change increments.
public struct StoredPassword: Sendable, Equatable {
    public var hash: String
    public var version: String
    /// Whether the user has an active second factor: then a password alone opens no session.
    public var hasSecondFactor: Bool

    public init(hash: String, version: String, hasSecondFactor: Bool = false) {
        self.hash = hash
        self.version = version
        self.hasSecondFactor = hasSecondFactor
    }
}
