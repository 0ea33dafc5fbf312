import Foundation
import TestSupport
import Testing

@Suite("Failing closed while Redis is away")
struct RedisOutageTests {
    @Test func every503WhileRedisIsDownThenServiceResumesByItself() async throws {
        let server = try RedisServerProcess()
        try await server.start()
        let app = try await TestApp.start(redisURL: server.url) {
            $0.redis.maxReconnectDelay = .milliseconds(200)
            $0.redis.commandTimeout = .seconds(1)
        }
        try await withTeardown({ await app.stop() }) {
            try await app.waitUntilReady()
            let login = try await app.signUpAndLogIn("olga")
            let access = try #require(login["accessToken"])
            let refresh = try #require(login["refreshToken"])
            // Log out one session while Redis is up: it must stay dead across the outage.
            let revoked = try await app.logIn("olga")
            #expect(try await app.client.json("DELETE", "/logout", ["token": revoked["refreshToken"]!]).status == 204)

            server.kill()
            let checks = [
                try await app.client.get("/me", bearer: access),
                try await app.client.get("/me", bearer: revoked["accessToken"]),
                try await app.logIn("olga"),
                try await app.client.json("POST", "/token", ["token": refresh]),
                try await app.client.json("DELETE", "/logout", ["token": refresh]),
                try await app.client.get("/readyz"),
            ]
            for response in checks {
                #expect(response.status == 503, "\(response.text)")
                #expect(response["error"] == "temporarily_unavailable")
                #expect(response.headers["retry-after"] == "1")
            }

            // The data is gone with this throwaway Redis (no AOF), but the service comes back.
            try await server.start()
            let clock = ContinuousClock()
            let restarted = clock.now
            #expect(try await app.client.get("/healthz").status == 200, "the process lives throughout")
            // About a second is the promise (back-off of at most 1 s); 10 s is for a loaded machine.
            try await waitUntil(within: .seconds(10), "not ready 10 s after Redis came back") {
                try await app.client.get("/readyz").status == 200
            }
            print("ready again \(clock.now - restarted) after Redis came back")
            #expect(try await app.client.get("/me", bearer: revoked["accessToken"]).status == 401)
        }
    }

    /// Issue 28, item 4: a client that follows authd's own `Retry-After` through a Redis stall is
    /// not logged out. The refresh it sent during the stall was answered 503; Redis ran it when it
    /// resumed, after the grace window, and the retry with the same token was judged reuse (the
    /// session revoked). Now the script has the caller's deadline, in Redis's clock, and past it
    /// does nothing.
    @Test func aRefreshAnswered503DoesNotCountAgainstTheRetry() async throws {
        let server = try RedisServerProcess()
        try await server.start()
        let app = try await TestApp.start(redisURL: server.url) {
            $0.redis.maxReconnectDelay = .milliseconds(200)
            $0.redis.commandTimeout = .seconds(1)
            $0.auth.refreshGraceWindow = 1
        }
        try await withTeardown({
            await app.stop()
            server.resume()
            server.kill()
        }) {
            try await app.waitUntilReady()
            let login = try await app.signUpAndLogIn("stalled")
            let refresh = try #require(login["refreshToken"])
            // A refresh first, so that the store's sample of Redis's clock is taken.
            let first = try await app.client.json("POST", "/token", ["token": refresh])
            let token = try #require(first["refreshToken"])

            server.pause()
            let during = try await app.client.json("POST", "/token", ["token": token])
            #expect(during.status == 503)
            // Longer than the grace window (1 s) past the attempt: the retry would be reuse. This
            // wait is the point of the test (time passing while Redis is stopped, which it cannot
            // be asked about); 3 s is three grace windows.
            try await Task.sleep(for: .seconds(3))
            server.resume()
            try await waitUntil(within: .seconds(20), "ready again") {
                try await app.client.get("/readyz").status == 200
            }
            let retry = try await app.client.json("POST", "/token", ["token": token])
            #expect(retry.status == 200, "\(retry.text)")
            #expect(try await app.client.get("/me", bearer: retry["accessToken"]).status == 200)
        }
    }
}
