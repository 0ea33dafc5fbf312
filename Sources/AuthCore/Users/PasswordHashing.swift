/// How passwords are hashed and checked; the `Passwords` module's Argon2id is the one in use.
///
/// The domain only asks three questions of it; how long a hash takes, and on which threads, is
/// the implementation's business (never an event loop's).
public protocol PasswordHashing: Sendable {
    /// A new hash of `password`, in a self-describing form (PHC string format) stored as it is.
    func hash(_ password: String) async throws -> String

    /// Whether `password` matches `encoded`. With `encoded == nil` (an unknown user) it must take
    /// as long as a real check and return `false`, so that unknown names cannot be told apart.
    func verify(_ password: String, against encoded: String?) async throws -> Bool

    /// Whether a stored hash was made with other parameters than the current ones, and should be
    /// replaced at the next successful login.
    func needsRehash(_ encoded: String) -> Bool
}
