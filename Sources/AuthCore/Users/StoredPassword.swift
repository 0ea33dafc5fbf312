/// A user's password hash (PHC string) and its version, which every password change increments.
public struct StoredPassword: Sendable, Equatable {
    public var hash: String
    public var version: String

    public init(hash: String, version: String) {
        self.hash = hash
        self.version = version
    }
}
