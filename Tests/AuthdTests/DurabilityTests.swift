import TestSupport
import Testing

@Suite("Revocations acknowledged only once replicated (WAIT)")
struct DurabilityTests {
    @Test func aLogoutIsAcknowledgedWhileAReplicaHasItAnd503WhenNoneCan() async throws {
        let primary = try RedisServerProcess(extraArguments: ["--repl-diskless-sync-delay", "0"])
        try await primary.start()
        let replica = try RedisServerProcess(extraArguments: ["--replicaof", "127.0.0.1", String(primary.port)])
        try await replica.start()
        let app = try await TestApp.start(redisURL: primary.url) {
            $0.durability.replicas = 1
            $0.durability.timeoutMilliseconds = 1000
        }
        try await withTeardown({ await app.stop() }) {
            // The replica's first sync; a replica that never comes online fails the test here, not
            // as a puzzling 503 further on.
            try await waitUntil(within: .seconds(30), "the replica never came online") {
                try await primary.cli(["INFO", "replication"]).contains("state=online")
            }

            let first = try await app.signUpAndLogIn("durable")
            let rotated = try await app.client.json("POST", "/token", ["token": first["refreshToken"]!])
            #expect(rotated.status == 200)
            #expect(try await app.client.json("DELETE", "/logout", ["token": rotated["refreshToken"]!]).status == 204)

            replica.kill()
            let second = try await app.logIn("durable")
            #expect(second.status == 200, "creating sessions does not wait for replicas")
            let logout = try await app.client.json("DELETE", "/logout", ["token": second["refreshToken"]!])
            #expect(logout.status == 503, "a revocation no replica confirmed is not acknowledged")
            #expect(logout.headers["retry-after"] == "1")
        }
    }
}
