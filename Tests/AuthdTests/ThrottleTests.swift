import AuthHTTP
import RedisClient
import RedisStore
import TestSupport
import Testing

@Suite("Login throttling, shared through Redis")
struct ThrottleTests {
    private func login(
        _ app: TestApp, _ user: String, _ password: String, from ip: String, device: String? = nil
    ) async throws -> TestResponse {
        var body = ["username": user, "password": password]
        if let device { body["deviceToken"] = device }
        return try await app.client.json("POST", "/login", body, headers: [("x-forwarded-for", ip)])
    }

    @Test func fiveFailuresFromOneAddressGet429ButTheUserStillLogsInFromElsewhere() async throws {
        let pair = try await TestApp.startPair() { $0.http.trustedProxies = TrustedProxies(list: "127.0.0.1")! }
        try await withTeardown({ await pair.stop() }) {
            let (a, b) = (pair.a, pair.b)
            try await a.signUpAndLogIn("victim", password: "the real password")
            // Failures spread over two instances count together.
            for attempt in 0..<5 {
                let app = attempt % 2 == 0 ? a : b
                #expect(try await self.login(app, "victim", "guess \(attempt)", from: "203.0.113.7").status == 401)
            }
            let blocked = try await self.login(a, "victim", "the real password", from: "203.0.113.7")
            #expect(blocked.status == 429)
            #expect(blocked["error"] == "too_many_requests")
            let retryAfter = try #require(blocked.headers["retry-after"].flatMap { Int($0) })
            #expect(retryAfter > 0 && retryAfter <= 300)
            #expect(try await self.login(b, "victim", "the real password", from: "203.0.113.7").status == 429)

            // The same user from another address is not locked out by the attacker.
            #expect(try await self.login(b, "victim", "the real password", from: "198.51.100.20").status == 200)

            // The counters expire on their own.
            let redis = try TestRedis.makeClient()
            let keys = RedisKeys(prefix: pair.prefix)
            let ttl = try await redis.ttl(keys.throttleUserFromAddress("victim", "203.0.113.7"))
            #expect(ttl > 0 && ttl <= 300)
            #expect(try await redis.ttl(keys.throttleAddress("203.0.113.7")) > 0)
        }
    }

    /// Issue 28, item 6: ten addresses × five wrong passwords reach the user's limit over all
    /// addresses (50), and a client that never logged in is locked out for 15 minutes, from any
    /// address. A client that did (it holds the device token of an earlier login) still logs in,
    /// from a fresh address too; its own guesses meet its device's tight limit; and the token is
    /// the user's only.
    @Test func guessesFromManyAddressesDoNotLockOutAClientThatLoggedInBefore() async throws {
        try await withTestApp(configure: { $0.http.trustedProxies = TrustedProxies(list: "127.0.0.1")! }) { app in
            let first = try await app.client.json(
                "POST", "/users", ["username": "regular", "password": "the real password"])
            #expect(first.status == 201)
            let earlier = try await self.login(app, "regular", "the real password", from: "192.0.2.1")
            let device = try #require(earlier["deviceToken"])
            _ = try await app.client.json("POST", "/users", ["username": "other", "password": "the real password"])
            let othersDevice = try #require(
                try await self.login(app, "other", "the real password", from: "192.0.2.2")["deviceToken"])

            for address in 0..<10 {
                for attempt in 0..<5 {
                    let guess = try await self.login(
                        app, "regular", "guess \(attempt)", from: "203.0.113.\(address + 10)")
                    #expect(guess.status == 401)
                }
            }
            // A client that never logged in, from a fresh address: locked out by the attacker.
            #expect(try await self.login(app, "regular", "the real password", from: "198.51.100.1").status == 429)
            // Another user's device token changes nothing.
            #expect(
                try await self.login(app, "regular", "the real password", from: "198.51.100.1", device: othersDevice)
                    .status
                    == 429)
            // The client that logged in before, from a fresh address: in, with a renewed token.
            let back = try await self.login(app, "regular", "the real password", from: "198.51.100.2", device: device)
            #expect(back.status == 200, "\(back.text)")
            let renewed = try #require(back["deviceToken"])
            // Guesses with a (stolen) device token meet the device's own limit: 5 in 5 minutes.
            for attempt in 0..<5 {
                #expect(
                    try await self.login(app, "regular", "wrong \(attempt)", from: "198.51.100.3", device: renewed)
                        .status
                        == 401)
            }
            #expect(
                try await self.login(app, "regular", "the real password", from: "198.51.100.4", device: renewed).status
                    == 429)
        }
    }

    @Test func oneAddressGuessingManyUsersIsThrottled() async throws {
        let app = try await TestApp.start {
            $0.http.trustedProxies = TrustedProxies(list: "127.0.0.1")!
            $0.auth.throttle.address = .init(failures: 8, windowSeconds: 60)
        }
        try await withTeardown({ await app.stop() }) {
            try await app.signUpAndLogIn("someone", password: "right password")
            for index in 0..<8 {
                #expect(try await self.login(app, "user\(index)", "nope nope", from: "192.0.2.55").status == 401)
            }
            #expect(try await self.login(app, "someone", "right password", from: "192.0.2.55").status == 429)
            #expect(try await self.login(app, "someone", "right password", from: "192.0.2.56").status == 200)
        }
    }

    /// Issue 13, item 17: `X-Forwarded-For` picks the throttle address only when a configured
    /// proxy sent it, and then its right-most entry that is not a trusted proxy.
    @Test func forwardedForIsBelievedOnlyFromTrustedProxies() async throws {
        try await withTestApp(configure: { $0.http.trustedProxies = TrustedProxies(list: "127.0.0.1,127.0.0.10/31")! })
        {
            app in
            try await app.signUpAndLogIn("proxied")
            func ipOfLogin(from source: String, forwardedFor: String) async throws -> String? {
                let login = try await app.client.from(source).json(
                    "POST", "/login", ["username": "proxied", "password": "correct horse battery"],
                    headers: [("x-forwarded-for", forwardedFor)])
                let sessions = try await app.client.get("/sessions", bearer: login["accessToken"])
                let list = sessions.json["sessions"] as? [[String: Any]] ?? []
                return list.first { $0["current"] as? Bool == true }?["ip"] as? String
            }
            // A client that reaches authd directly cannot choose its address.
            #expect(try await ipOfLogin(from: "127.0.0.9", forwardedFor: "198.51.100.1") == "127.0.0.9")
            // Through a trusted proxy: the right-most untrusted entry; what the client wrote to its
            // left is ignored, and trusted hops are skipped.
            #expect(try await ipOfLogin(from: "127.0.0.1", forwardedFor: "6.6.6.6, 198.51.100.2") == "198.51.100.2")
            #expect(
                try await ipOfLogin(from: "127.0.0.1", forwardedFor: "6.6.6.6, 198.51.100.3, 127.0.0.11")
                    == "198.51.100.3")
            #expect(try await ipOfLogin(from: "127.0.0.1", forwardedFor: "junk, 127.0.0.10") == "127.0.0.10")
        }
    }
}
