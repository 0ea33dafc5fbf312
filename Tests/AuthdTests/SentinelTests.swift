import Foundation
import RedisClient
import TestSupport
import Testing

@Suite("Redis Sentinel failover")
struct SentinelTests {
    /// Issue 19: the failover followed by the real binary, set up through REDIS_SENTINELS and
    /// REDIS_SENTINEL_PRIMARY as an operator would.
    @Test func authdFollowsAFailoverWithoutARestart() async throws {
        let name = "authd-test-primary"
        // No diskless-sync delay: the replica's first sync starts at once.
        let primary = try RedisServerProcess(extraArguments: ["--repl-diskless-sync-delay", "0"])
        try await primary.start()
        let replica = try RedisServerProcess(extraArguments: ["--replicaof", "127.0.0.1", String(primary.port)])
        try await replica.start()
        let clock = ContinuousClock()
        // Sentinels learn of replicas from the primary's INFO, which they read every 10 s: with the
        // replica attached before they start, their first INFO names it.
        try await Self.waitUntil(clock, within: .seconds(10)) {
            try await primary.cli(["INFO", "replication"]).contains("connected_slaves:1")
        }
        let sentinels = try (0..<3).map { _ in try RedisServerProcess(sentinelFor: name, primaryPort: primary.port) }
        for sentinel in sentinels { try await sentinel.start() }

        // The sentinels find each other and the replica through the primary, every 2 s or so.
        try await Self.waitUntil(clock, within: .seconds(15)) {
            for sentinel in sentinels {
                let known = try await sentinel.cli(["SENTINEL", "sentinels", name])
                let replicas = try await sentinel.cli(["SENTINEL", "replicas", name])
                guard known.components(separatedBy: "runid").count - 1 >= 2, replicas.contains(String(replica.port))
                else { return false }
            }
            return true
        }

        // The real binary, configured as the README says: the sentinels and the primary's name in
        // the environment, REDIS_URL naming no server at all.
        let secrets = TestSecrets()
        let app = try AuthdProcess.start(environment: [
            "ACCESS_TOKEN_SECRET": secrets.access, "REFRESH_TOKEN_SECRET": secrets.refresh,
            "REDIS_URL": "redis://127.0.0.1:1/0", "AUTHD_KEY_PREFIX": TestRedis.uniquePrefix("sentinel"),
            "REDIS_SENTINELS": sentinels.map { "127.0.0.1:\($0.port)" }.joined(separator: ","),
            "REDIS_SENTINEL_PRIMARY": name, "AUTHD_REDIS_CONNECT_TIMEOUT_MS": "500", "AUTHD_HASH_CONCURRENCY": "2",
        ])
        defer { app.stop() }
        try await app.waitUntilReady()
        #expect(app.log.contains("redis_mode=sentinel"))
        func logIn() async throws -> TestResponse {
            try await app.client.json(
                "POST", "/login", ["username": "sentinel-user", "password": "correct horse battery"])
        }
        #expect(
            try await app.client.json(
                "POST", "/users", ["username": "sentinel-user", "password": "correct horse battery"]
            ).status == 201)
        let before = try await logIn()
        #expect(before.status == 200)
        // Let the replica catch up, so the failover loses nothing of this test's.
        // (The sentinels keep writing too, so wait for the offset of now, not for equality.)
        let written = try await Self.field(
            primary.cli(["INFO", "replication"]), after: "master_repl_offset:", until: "\n"
        )
        .flatMap { Int($0) }
        try await Self.waitUntil(clock, within: .seconds(5)) {
            let acknowledged = try await Self.field(primary.cli(["INFO", "replication"]), after: "offset=", until: ",")
                .flatMap { Int($0) }
            return (acknowledged ?? -1) >= (written ?? .max)
        }

        primary.kill()
        let killed = clock.now
        try await Self.waitUntil(clock, within: .seconds(30)) {
            try await logIn().status == 200
        }
        let failedOverAfter = clock.now - killed
        let role = try await replica.cli(["ROLE"])
        #expect(role.hasPrefix("master"), "the replica was promoted")
        // Tokens from before the failover still work: the data moved with the primary role.
        #expect(try await app.client.get("/me", bearer: before["accessToken"]).status == 200)
        let refreshed = try await app.client.json("POST", "/token", ["token": before["refreshToken"]!])
        #expect(refreshed.status == 200)
        print("authd served again \(failedOverAfter) after the primary was killed")
    }

    /// The text between `marker` and `end` in `text`.
    private static func field(_ text: String, after marker: String, until end: Character) -> Substring? {
        guard let start = text.range(of: marker)?.upperBound else { return nil }
        // "\r\n" is one Character in Swift: stop at any newline.
        return text[start...].prefix { $0 != end && !$0.isNewline }
    }

    private static func waitUntil(
        _ clock: ContinuousClock,
        within limit: Duration,
        _ condition: () async throws -> Bool
    ) async throws {
        let end = clock.now + limit
        while clock.now < end {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("condition not met within \(limit)")
    }
}
