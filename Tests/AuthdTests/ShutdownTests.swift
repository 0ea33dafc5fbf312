import TestSupport
import Testing

@Suite("Graceful shutdown")
struct ShutdownTests {
    @Test func requestsInFlightFinishBeforeRedisCloses() async throws {
        // One hashing thread and a slow hash (a few hundred ms): the six logins queue behind the
        // first one's hash, so all six are in flight together even when a loaded machine spreads
        // their arrival. A long grace period lets the queue drain however slow the machine is.
        let app = try await TestApp.start {
            $0.hashConcurrency = 1
            $0.argon2.iterations = 25
            $0.http.shutdownGracePeriod = .seconds(60)
            // Six logins of one user from one address at once are over the throttle's limit of
            // five attempts in flight; this test is about shutdown, not throttling.
            $0.auth.throttle.enabled = false
        }
        try await app.signUpAndLogIn("drain")
        let logins = Task {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<6 { group.addTask { try await app.logIn("drain").status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
        }
        let clock = ContinuousClock()
        let end = clock.now + .seconds(10)
        while app.application.server.requestsInFlight < 6, clock.now < end {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(app.application.server.requestsInFlight == 6)
        await app.stop()
        // Every request already received got its answer, and Redis was still there for it.
        #expect(try await logins.value == Array(repeating: 200, count: 6))
    }
}
