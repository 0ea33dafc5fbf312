import Foundation
import Logging
import NIOCore
import NIOPosix
import RedisClient

/// The Redis that `scripts/test` starts from `redis/` for the whole suite.
public enum TestRedis {
    public static let url = ProcessInfo.processInfo.environment["AUTHD_TEST_REDIS_URL"] ?? "redis://127.0.0.1:6399"

    /// The suite's configuration for a Redis at `url` (the shared one by default, or a test's own
    /// server): generous timeouts, so that a loaded machine is not taken for a dead Redis.
    public static func configuration(url: String = Self.url) throws -> RedisConfiguration {
        var configuration = try RedisConfiguration(url: url)
        configuration.poolSize = 2
        // Generous: a loaded CI machine must not turn into spurious timeouts. Tests about
        // timeouts set their own.
        configuration.commandTimeout = .seconds(10)
        configuration.connectTimeout = .seconds(5)
        return configuration
    }

    /// The environment of an operator command (`Operator.with(environment:)`) against the shared
    /// Redis under `prefix`, with the suite's generous timeouts: at the suite's start, beside a CPU
    /// hog, the default 2 s command timeout was once exceeded.
    public static func operatorEnvironment(prefix: String) -> [String: String] {
        [
            "REDIS_URL": Self.url, "AUTHD_KEY_PREFIX": prefix, "AUTHD_REDIS_COMMAND_TIMEOUT_MS": "10000",
            "AUTHD_REDIS_CONNECT_TIMEOUT_MS": "5000",
        ]
    }

    /// A key prefix no other test uses, so tests can run in parallel against one Redis
    /// without flushing it.
    public static func uniquePrefix(_ name: String = "t") -> String {
        "authd-test:\(name):\(UUID().uuidString.prefix(8)):"
    }

    public static func makeClient(
        _ configuration: RedisConfiguration? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws -> RedisClient {
        RedisClient(
            configuration: try configuration ?? self.configuration(), eventLoopGroup: group, logger: quietLogger)
    }

    /// Waits until every connection of the client's pool is up and answers (connects are
    /// asynchronous). Waiting for one is not enough: commands go round the pool, and one sent on a
    /// connection still connecting fails fast as unavailable, which a loaded machine made happen.
    public static func waitUntilConnected(_ client: RedisClient, timeout: Duration = .seconds(15)) async throws {
        let clock = ContinuousClock()
        let end = clock.now + timeout
        while clock.now < end {
            if client.connectedCount() == client.configuration.poolSize, (try? await client.ping()) != nil { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await client.ping()
    }

    /// Waits until every connection of the pool is up, and says whether they all came up in time.
    /// It returns as soon as they are; the 15 s bound is only for a machine so loaded that a
    /// reconnect's back-off timer fires late (a tighter one failed the suite beside CPU hogs).
    public static func allConnected(_ client: RedisClient, timeout: Duration = .seconds(15)) async -> Bool {
        let clock = ContinuousClock()
        let end = clock.now + timeout
        while clock.now < end {
            if client.connectedCount() == client.configuration.poolSize { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }
}

public let quietLogger: Logger = {
    var logger = Logger(label: "authd-test")
    logger.logLevel =
        ProcessInfo.processInfo.environment["AUTHD_TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .critical
    return logger
}()
