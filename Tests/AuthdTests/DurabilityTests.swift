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

    /// Issue 30, item 2: a refresh answered 503 because no replica confirmed it in time (the
    /// rotation did land on the primary) is safe to retry with the same token, after the grace
    /// window too: the retry gets the current pair, and the session lives. Before, the retry was
    /// judged reuse and the session ended.
    @Test func aRefreshAnswered503ForWantOfAReplicaIsSafeToRetry() async throws {
        let primary = try RedisServerProcess(extraArguments: ["--repl-diskless-sync-delay", "0"])
        try await primary.start()
        let replica = try RedisServerProcess(extraArguments: ["--replicaof", "127.0.0.1", String(primary.port)])
        try await replica.start()
        let clock = TestClock()
        let app = try await TestApp.start(redisURL: primary.url, clock: clock) {
            $0.durability.replicas = 1
            $0.durability.timeoutMilliseconds = 300
            $0.auth.refreshGraceWindow = 2
        }
        try await withTeardown({
            await app.stop()
            replica.kill()
            primary.kill()
        }) {
            func online() async throws -> Bool {
                try await primary.cli(["INFO", "replication"]).contains("state=online")
            }
            try await waitUntil(within: .seconds(30), "the replica never came online") { try await online() }
            let login = try await app.signUpAndLogIn("retrier")
            let token = try #require(login["refreshToken"])

            replica.kill()
            let failed = try await app.client.json("POST", "/token", ["token": token])
            #expect(failed.status == 503)
            #expect(failed["error_description"]?.contains("may be retried") == true, "\(failed.text)")
            // The client retries well after the grace window, once a replica is back.
            clock.advance(by: 30)
            try await replica.start()
            try await waitUntil(within: .seconds(30), "the replica never came back") { try await online() }
            // As a client does: again after each 503 (a replica still catching up on a loaded
            // machine may miss the 300 ms WAIT); a 400 would be the reuse this test is about.
            func refresh(_ token: String) async throws -> TestResponse {
                var response = try await app.client.json("POST", "/token", ["token": token])
                try await waitUntil(within: .seconds(30), "kept answering 503: \(response.text)") {
                    guard response.status == 503 else { return true }
                    response = try await app.client.json("POST", "/token", ["token": token])
                    return response.status != 503
                }
                return response
            }
            let retried = try await refresh(token)
            #expect(retried.status == 200, "\(retried.text)")
            #expect(try await app.client.get("/me", bearer: retried["accessToken"]).status == 200)
            let next = try await refresh(retried["refreshToken"]!)
            #expect(next.status == 200, "the session lives on: \(next.text)")
            // Once the chain has moved on, the old token is reuse as ever.
            clock.advance(by: 30)
            #expect(try await refresh(token).status == 400)
        }
    }
}
