import AuthCore
import AuthdApp
import Foundation
import JOSE
import Logging
import Metrics
import NIOConcurrencyHelpers
import Prometheus
import RedisClient

/// A clock the test moves by hand. It starts at the real time, so that TTLs in Redis agree.
public final class TestClock: AuthClock {
    private let current = NIOLockedValueBox(Int(Date().timeIntervalSince1970))

    public init() {}

    public func now() -> Int { self.current.withLockedValue { $0 } }

    public func advance(by seconds: Int) {
        self.current.withLockedValue { $0 += seconds }
    }
}

/// Secrets made fresh for each test run: nothing secret is committed, not even for tests.
public struct TestSecrets: Sendable {
    public let access = RandomID.hexBytes(32)
    public let refresh = RandomID.hexBytes(32)

    public init() {}
}

/// The process-wide metrics registry: swift-metrics can be bootstrapped once per process, so every
/// test app shares it, and metric assertions look for increases, not totals.
public let testMetrics: PrometheusCollectorRegistry = {
    let registry = PrometheusCollectorRegistry()
    MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    return registry
}()

/// A real authd (the same `Application` the CLI runs) on a free port, with a key prefix of its own.
public final class TestApp: Sendable {
    public let application: Application
    public let port: Int
    public let client: TestHTTPClient
    public let prefix: String

    /// Starts an instance. Instances given the same `secrets` and `prefix` form one deployment.
    public static func start(
        secrets: TestSecrets = TestSecrets(),
        prefix: String = TestRedis.uniquePrefix("app"),
        redisURL: String = TestRedis.url,
        clock: any AuthClock = SystemClock(),
        logger: Logger = quietLogger,
        configure: (inout AppConfiguration) -> Void = { _ in }
    ) async throws -> TestApp {
        var configuration = AppConfiguration(
            accessTokenSecret: secrets.access,
            refreshTokenSecret: secrets.refresh,
            redis: try RedisConfiguration(url: redisURL)
        )
        configuration.redis.poolSize = 2
        // Generous, for loaded machines; outage tests set their own.
        configuration.redis.commandTimeout = .seconds(10)
        configuration.redis.connectTimeout = .seconds(5)
        configuration.keyPrefix = prefix
        configuration.http.port = 0
        // An issuer URL, as RFC 8414 wants, shared by the instances of a pair.
        configuration.auth.issuer = "https://authd.test"
        configuration.hashConcurrency = 2
        configure(&configuration)
        let application = try buildApplication(
            configuration: configuration, clock: clock, metrics: testMetrics, logger: logger
        )
        // The same service group the CLI runs, without its signal handlers.
        let running = Task { try await application.run(gracefulShutdownSignals: []) }
        do {
            let port = try await application.listeningPort
            return TestApp(application: application, running: running, port: port, prefix: prefix)
        } catch {
            _ = try? await running.value
            throw error
        }
    }

    private let running: Task<Void, any Error>

    private init(application: Application, running: Task<Void, any Error>, port: Int, prefix: String) {
        self.application = application
        self.running = running
        self.port = port
        self.client = TestHTTPClient(port: port)
        self.prefix = prefix
    }

    /// Two instances of one deployment (same secrets, Redis and key prefix) on different ports.
    public static func startPair(
        clock: any AuthClock = SystemClock(),
        configure: (inout AppConfiguration) -> Void = { _ in }
    ) async throws -> TestPair {
        let secrets = TestSecrets()
        let prefix = TestRedis.uniquePrefix("pair")
        let a = try await TestApp.start(secrets: secrets, prefix: prefix, clock: clock, configure: configure)
        let b = try await TestApp.start(secrets: secrets, prefix: prefix, clock: clock, configure: configure)
        return TestPair(a: a, b: b, prefix: prefix)
    }

    /// Waits until `/readyz` answers 200: Redis is connected and the scripts are loaded.
    public func waitUntilReady(timeout: Duration = .seconds(10)) async throws {
        let clock = ContinuousClock()
        let end = clock.now + timeout
        while clock.now < end {
            if (try? await self.client.get("/readyz"))?.status == 200 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("authd was not ready within \(timeout)")
    }

    /// Shuts the services down, as SIGTERM would, and waits until they have stopped.
    public func stop() async {
        await self.application.triggerGracefulShutdown()
        _ = try? await self.running.value
    }

    /// Registers a user (once) and logs in. Returns the login response.
    @discardableResult
    public func signUpAndLogIn(_ username: String, password: String = "correct horse battery") async throws
        -> TestResponse
    {
        let created = try await self.client.json("POST", "/users", ["username": username, "password": password])
        guard created.status == 201 || created.status == 409 else {
            throw TestFailure("POST /users answered \(created.status): \(created.text)")
        }
        return try await self.logIn(username, password: password)
    }

    public func logIn(_ username: String, password: String = "correct horse battery") async throws -> TestResponse {
        try await self.client.json("POST", "/login", ["username": username, "password": password])
    }

    /// Every key under this instance's prefix, with its TTL in seconds (-1: none).
    public func keysWithTTL(_ redis: RedisClient) async throws -> [String: Int] {
        var result: [String: Int] = [:]
        for key in try await redis.scanAll(match: self.prefix + "*") {
            result[key] = try await redis.ttl(key)
        }
        return result
    }
}

/// Two instances sharing one Redis, from ``TestApp/startPair(clock:configure:)``.
public struct TestPair: Sendable {
    public let a: TestApp
    public let b: TestApp
    public let prefix: String

    public init(a: TestApp, b: TestApp, prefix: String) {
        self.a = a
        self.b = b
        self.prefix = prefix
    }

    public func stop() async {
        await self.a.stop()
        await self.b.stop()
    }
}

/// Starts an instance, runs `body` with it, and stops it before returning, whether `body` threw
/// or not: no teardown is left running after the test.
public func withTestApp<T>(
    secrets: TestSecrets = TestSecrets(),
    clock: any AuthClock = SystemClock(),
    configure: (inout AppConfiguration) -> Void = { _ in },
    _ body: (TestApp) async throws -> T
) async throws -> T {
    let app = try await TestApp.start(secrets: secrets, clock: clock, configure: configure)
    do {
        let result = try await body(app)
        await app.stop()
        return result
    } catch {
        await app.stop()
        throw error
    }
}

/// Runs `body`, then `teardown`, and waits for the teardown whether `body` threw or not. A
/// `defer { Task { ... } }` is not awaited: its servers and connections outlive the test, and on a
/// loaded machine they pile up under the tests that follow.
@discardableResult
public func withTeardown<T>(
    _ teardown: () async -> Void,
    _ body: () async throws -> T
) async throws -> T {
    do {
        let result = try await body()
        await teardown()
        return result
    } catch {
        await teardown()
        throw error
    }
}

/// Runs `count` copies of `body` at once, each with its index, and returns their results in
/// order: real parallel requests, for the race tests.
public func inParallel<T: Sendable>(
    _ count: Int,
    _ body: @escaping @Sendable (Int) async throws -> T
) async throws -> [T] {
    try await withThrowingTaskGroup(of: (Int, T).self) { group in
        for index in 0..<count {
            group.addTask { (index, try await body(index)) }
        }
        var results = [T?](repeating: nil, count: count)
        for try await (index, result) in group { results[index] = result }
        return results.map { $0! }
    }
}

/// Polls `condition` every `interval` until it holds, and fails with `failure()` after `limit`:
/// tests wait for events, not fixed times. A ``TestFailure`` thrown by the condition ends the wait
/// at once (say, a process that exited); any other error means "not yet" (a server still starting).
public func waitUntil(
    within limit: Duration,
    every interval: Duration = .milliseconds(20),
    _ failure: @autoclosure () -> String = "condition not met",
    _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let end = clock.now + limit
    while true {
        do {
            if try await condition() { return }
        } catch let error as TestFailure {
            throw error
        } catch {}
        guard clock.now < end else { throw TestFailure("\(failure()) within \(limit)") }
        try await Task.sleep(for: interval)
    }
}

/// Runs `load` in the background while `body` stages its events (traffic seen, a kill, a recovery):
/// the load loops while `running()` holds, which stops once `body` ends, however it ends, so that no
/// worker outlives the test. Returns both results; the load's error is thrown once it has stopped.
public func whileRunning<Load: Sendable, T>(
    _ load: @escaping @Sendable (_ running: @escaping @Sendable () -> Bool) async throws -> Load,
    _ body: () async throws -> T
) async throws -> (load: Load, body: T) {
    let stop = NIOLockedValueBox(false)
    let task = Task { try await load { !stop.withLockedValue { $0 } } }
    let result = try await withTeardown({
        stop.withLockedValue { $0 = true }
        _ = try? await task.value
    }) {
        try await body()
    }
    return (try await task.value, result)
}
