import AuthCore
import Foundation
import JOSE
import Logging
import NIOPosix
import RedisClient
import RedisStore

/// What the operator commands (`authd sessions ...`) do, against the same
/// Redis as the service. They need no token secrets.
public struct Operator: Sendable {
    private let redis: RedisClient
    private let store: RedisAuthStore

    public init(environment: [String: String], logger: Logger) throws {
        let (redis, prefix) = try AppConfiguration.store(environment: environment)
        self.redis = RedisClient(
            configuration: redis, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
        self.store = RedisAuthStore(redis: self.redis, keyPrefix: prefix)
    }

    /// A readable table of the user's live sessions.
    public func listSessions(username: String) async throws -> String {
        let name = try Credentials.canonicalUsername(username)
        let now = Int(Date().timeIntervalSince1970)
        let sessions = try await self.withRedis { try await self.store.listSessions(username: name, now: now) }
        guard !sessions.isEmpty else { return "\(name) has no live sessions\n" }
        var lines = [
            "SESSION                           CREATED              LAST USED            EXPIRES              IP               USER AGENT"
        ]
        for session in sessions {
            lines.append(
                [
                    session.id, Self.date(session.createdAt), Self.date(session.lastUsedAt),
                    Self.date(session.expiresAt),
                    session.client.ip.padding(toLength: 16, withPad: " ", startingAt: 0), session.client.userAgent,
                ].joined(separator: " ")
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Ends one session of the user, or all of them. Returns how many were ended.
    public func revoke(username: String, sessionID: String?) async throws -> Int {
        let name = try Credentials.canonicalUsername(username)
        return try await self.withRedis {
            if let sessionID {
                guard RandomID.isValid(sessionID) else { return 0 }
                return try await self.store.endSession(username: name, sessionID: sessionID) ? 1 : 0
            }
            return try await self.store.endSessions(username: name, keeping: nil, proof: nil) ?? 0
        }
    }

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
    /// lease), then runs the operation.
    private func withRedis<T>(_ operation: () async throws -> T) async throws -> T {
        for _ in 0..<100 where self.redis.connectedCount() == 0 || self.redis.barrierReady() == false {
            try await Task.sleep(for: .milliseconds(20))
        }
        return try await operation()
    }

    private static func date(_ seconds: Int) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}
