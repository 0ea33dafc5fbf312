import AuthCore
import Foundation
import JOSE
import Logging
import NIOPosix
import Passwords
import RedisClient
import RedisStore

/// What an operator command could not do, in words fit for the terminal: no Swift type names, no
/// secrets. The CLI prints it after `authd: ` and exits 1.
public struct OperatorError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// What the operator commands (`authd users ...`, `authd sessions ...`) do, against the same Redis
/// as the service. They need no token secrets.
public struct Operator: Sendable {
    public typealias UserRecord = RedisAuthStore.UserRecord

    private let redis: RedisClient
    private let store: RedisAuthStore
    /// Where Redis is, as an error may name it: the address only, never the URL's password.
    private let redisAddress: String

    public init(environment: [String: String], logger: Logger) throws {
        let (redis, prefix) = try AppConfiguration.store(environment: environment)
        self.redisAddress =
            switch redis.endpoint {
            case .tcp(let host, let port): "\(host.contains(":") ? "[\(host)]" : host):\(port)"
            case .unixSocket(let path): path
            }
        self.redis = RedisClient(
            configuration: redis, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
        self.store = RedisAuthStore(redis: self.redis, keyPrefix: prefix)
    }

    // MARK: Users

    /// Creates a user (when sign-up is off, the only way). The password follows the service's
    /// rules and is hashed as the service hashes it.
    public func addUser(username: String, password: String) async throws -> String {
        let name = try Self.name(username)
        let hash = try await Self.hash(validated: password)
        let created = try await self.withRedis {
            try await self.store.createUser(username: name, passwordHash: hash, now: Int(Date().timeIntervalSince1970))
        }
        guard created else { throw OperatorError("a user named \(name) exists already") }
        return name
    }

    public func users() async throws -> [UserRecord] {
        try await self.withRedis { try await self.store.listUsers(now: Int(Date().timeIntervalSince1970)) }
    }

    /// Sets a new password, whatever the old one was, and ends every session of the user.
    /// Returns how many sessions ended.
    public func resetPassword(username: String, password: String) async throws -> Int {
        let name = try Self.name(username)
        let hash = try await Self.hash(validated: password)
        guard
            let ended = try await self.withRedis({ try await self.store.resetPassword(username: name, newHash: hash) })
        else { throw Self.noSuchUser(name) }
        return ended
    }

    /// Disables the user and ends every session, or enables the user again. Returns how many
    /// sessions ended.
    public func setDisabled(username: String, _ disabled: Bool) async throws -> Int {
        let name = try Self.name(username)
        guard let ended = try await self.withRedis({ try await self.store.setDisabled(username: name, disabled) })
        else { throw Self.noSuchUser(name) }
        return ended
    }

    /// Deletes the user and every session of the user. Returns how many sessions ended.
    public func deleteUser(username: String) async throws -> Int {
        let name = try Self.name(username)
        guard let ended = try await self.withRedis({ try await self.store.deleteUser(username: name) }) else {
            throw Self.noSuchUser(name)
        }
        return ended
    }

    // MARK: Roles

    /// Grants `role` to the user (`add`) or takes it away, in every live session too: a role taken
    /// away is refused on the next request, on every instance. Returns the user's roles and how
    /// many sessions took the change.
    public func changeRole(username: String, role rawRole: String, add: Bool) async throws -> (
        roles: [String], sessions: Int
    ) {
        let name = try Self.name(username)
        let role: String
        do {
            role = try Roles.canonical(rawRole)
        } catch {
            throw OperatorError("'\(rawRole)': \(Self.words(error))")
        }
        switch try await self.withRedis({ try await self.store.changeRole(username: name, role, add: add) }) {
        case .changed(let roles, let sessions): return (roles, sessions)
        case .noSuchUser: throw Self.noSuchUser(name)
        case .tooManyRoles: throw OperatorError("\(name) holds \(Roles.maxPerUser) roles, the most a user may")
        }
    }

    // MARK: Sessions

    /// The user's live sessions, oldest first.
    public func sessions(username: String) async throws -> [SessionInfo] {
        let name = try Self.name(username)
        let now = Int(Date().timeIntervalSince1970)
        return try await self.withRedis {
            guard try await self.store.userExists(username: name) else { throw Self.noSuchUser(name) }
            return try await self.store.listSessions(username: name, now: now)
        }
    }

    /// Ends one session of the user, or all of them. Returns how many were ended.
    public func revoke(username: String, sessionID: String?) async throws -> Int {
        let name = try Self.name(username)
        return try await self.withRedis {
            guard try await self.store.userExists(username: name) else { throw Self.noSuchUser(name) }
            if let sessionID {
                guard RandomID.isValid(sessionID) else { throw OperatorError("\(sessionID) is no session id") }
                return try await self.store.endSession(username: name, sessionID: sessionID) ? 1 : 0
            }
            return try await self.store.endSessions(username: name, keeping: nil, proof: nil) ?? 0
        }
    }

    // MARK: -

    /// Runs `body` with an operator connected to the deployment's Redis, and closes the
    /// connections before returning or throwing: a process that exits first could cut a
    /// revocation's barrier short.
    public static func with<T>(
        environment: [String: String], logger: Logger = Operator.quietLogger,
        _ body: (Operator) async throws -> T
    ) async throws -> T {
        let tool = try Operator(environment: environment, logger: logger)
        do {
            let result = try await body(tool)
            await tool.redis.shutdown()
            return result
        } catch {
            await tool.redis.shutdown()
            throw error
        }
    }

    /// Errors only: the commands print their own results.
    public static var quietLogger: Logger {
        var logger = Logger(label: "authd")
        logger.logLevel = .error
        return logger
    }

    /// Waits for the first connection and for the barrier's acknowledgement channel (a command
    /// line tool starts cold; without the channel, a revocation would wait out every cache's
    /// lease), then runs the operation. Redis out of reach is said with its address.
    private func withRedis<T>(_ operation: () async throws -> T) async throws -> T {
        for _ in 0..<100 where self.redis.connectedCount() == 0 || self.redis.barrierReady() == false {
            try await Task.sleep(for: .milliseconds(20))
        }
        do {
            return try await operation()
        } catch let error as StoreUnavailableError {
            throw OperatorError(
                "cannot reach Redis at \(self.redisAddress) (\(error.reason)); "
                    + "set REDIS_URL in .env or the environment to the service's Redis")
        }
    }

    private static func name(_ raw: String) throws -> String {
        do {
            return try Credentials.canonicalUsername(raw)
        } catch {
            throw OperatorError("'\(raw)': \(Self.words(error))")
        }
    }

    private static func noSuchUser(_ name: String) -> OperatorError {
        OperatorError("there is no user \(name)")
    }

    /// A domain error as a sentence.
    private static func words(_ error: AuthError) -> String {
        switch error {
        case .invalidRequest(let reason), .invalidGrant(let reason), .invalidToken(let reason): reason
        case .usernameTaken: "the name is taken"
        case .signupDisabled: "sign-up is off"
        case .invalidCredentials: "wrong user name or password"
        case .sessionNotFound: "no such session"
        case .throttled(let seconds, let attempts): "too many \(attempts); try again in \(seconds) s"
        }
    }

    /// Checked against the sign-up rules, then hashed as the service hashes (Argon2id with its
    /// default cost), on a pool of one thread.
    private static func hash(validated password: String) async throws -> String {
        do {
            try Credentials.validateNewPassword(password)
        } catch {
            throw OperatorError(Self.words(error))
        }
        let hasher = try Argon2PasswordHasher(concurrency: 1)
        do {
            let hash = try await hasher.hash(password)
            try await hasher.shutdown()
            return hash
        } catch {
            try? await hasher.shutdown()
            throw error
        }
    }
}
