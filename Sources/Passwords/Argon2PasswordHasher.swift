import AuthCore
import CArgon2
import NIOPosix

/// Argon2id cost parameters. The defaults are OWASP's minimum: 19 MiB, 2 passes, 1 lane.
public struct Argon2Parameters: Sendable, Equatable {
    public var iterations: UInt32 = 2
    public var memoryKiB: UInt32 = 19 * 1024
    public var parallelism: UInt32 = 1
    public var saltBytes = 16
    public var hashBytes = 32

    public init() {}
}

/// Hashes and verifies passwords with Argon2id (libargon2), in PHC string format.
///
/// Hashing is slow and memory-hard on purpose, so it runs on a thread pool of its own, never on
/// an event loop, with at most `concurrency` hashes at once: memory stays bounded at about
/// `concurrency × memoryKiB` however many logins arrive together; the rest wait their turn.
public final class Argon2PasswordHasher: PasswordHashing {
    public let parameters: Argon2Parameters
    private let pool: NIOThreadPool
    /// A hash of a random password, verified against for unknown users so that they cost the same
    /// time as known ones.
    private let dummyHash: String

    public init(parameters: Argon2Parameters = .init(), concurrency: Int) throws {
        self.parameters = parameters
        self.pool = NIOThreadPool(numberOfThreads: max(1, concurrency))
        self.pool.start()
        var generator = SystemRandomNumberGenerator()
        let random = (0..<32).map { _ in Character(Unicode.Scalar(UInt8.random(in: 0x21...0x7E, using: &generator))) }
        self.dummyHash = try Self.hashNow(String(random), parameters: parameters)
    }

    /// Stops the hashing threads. Hashes still queued fail.
    public func shutdown() async throws {
        try await self.pool.shutdownGracefully()
    }

    /// Whether a stored hash was made with other parameters (or another algorithm) than the
    /// current ones, and should be replaced at the next successful login.
    public func needsRehash(_ encoded: String) -> Bool {
        let p = self.parameters
        return !encoded.hasPrefix("$argon2id$v=19$m=\(p.memoryKiB),t=\(p.iterations),p=\(p.parallelism)$")
    }

    public func hash(_ password: String) async throws -> String {
        let parameters = self.parameters
        return try await self.pool.runIfActive { try Self.hashNow(password, parameters: parameters) }
    }

    /// Whether `password` matches `encoded`. With `encoded == nil` (an unknown user) it verifies
    /// against a dummy hash and returns `false`, taking the same time as a real check.
    public func verify(_ password: String, against encoded: String?) async throws -> Bool {
        let target = encoded ?? self.dummyHash
        let matches = try await self.pool.runIfActive {
            argon2id_verify(target, password, password.utf8.count) == ARGON2_OK.rawValue
        }
        return matches && encoded != nil
    }

    private static func hashNow(_ password: String, parameters: Argon2Parameters) throws -> String {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<parameters.saltBytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let length = argon2_encodedlen(
            parameters.iterations, parameters.memoryKiB, parameters.parallelism,
            UInt32(parameters.saltBytes), UInt32(parameters.hashBytes), Argon2_id
        )
        var encoded = [CChar](repeating: 0, count: length)
        let status = argon2id_hash_encoded(
            parameters.iterations, parameters.memoryKiB, parameters.parallelism,
            password, password.utf8.count, salt, salt.count, parameters.hashBytes,
            &encoded, length
        )
        guard status == ARGON2_OK.rawValue else {
            throw PasswordHashingError(message: String(cString: argon2_error_message(status)))
        }
        return String(decoding: encoded.prefix(while: { $0 != 0 }).map(UInt8.init(bitPattern:)), as: UTF8.self)
    }
}

public struct PasswordHashingError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { "argon2: \(self.message)" }
}
