import RedisClient
import RedisStore
import TestSupport
import Testing

@Suite("Sessions: listing, scopes, revoking one")
struct SessionTests {
    @Test func sessionsAreListedWithTheirClientAndTheCurrentOneMarked() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            _ = try await app.signUpAndLogIn("pat")
            let phone = try await app.client.request(
                "POST", "/login", headers: [("content-type", "application/json"), ("user-agent", "PhoneApp/1.0")],
                body: Array(#"{"username":"pat","password":"correct horse battery"}"#.utf8)
            )
            let access = try #require(phone["accessToken"])
            let list = try await app.client.get("/sessions", bearer: access)
            #expect(list.status == 200)
            let sessions = try #require(list.json["sessions"] as? [[String: Any]])
            #expect(sessions.count == 2)
            let current = sessions.filter { $0["current"] as? Bool == true }
            #expect(current.count == 1)
            #expect(current.first?["userAgent"] as? String == "PhoneApp/1.0")
            #expect(current.first?["ip"] as? String == "127.0.0.1")
            #expect(current.first?["id"] as? String == (try await app.client.get("/me", bearer: access))["sessionId"])
            for session in sessions {
                #expect((session["expiresAt"] as? Int ?? 0) > (session["createdAt"] as? Int ?? .max))
            }
        }
    }

    @Test func scopesLocalOthersGlobal() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            let a = try await app.signUpAndLogIn("quinn")
            let b = try await app.logIn("quinn")
            let c = try await app.logIn("quinn")
            let d = try await app.logIn("quinn")
            func live(_ login: TestResponse) async throws -> Bool {
                try await app.client.get("/me", bearer: login["accessToken"]).status == 200
            }

            // local (the default), by refresh token: only that session ends.
            #expect(try await app.client.json("POST", "/logout", ["token": a["refreshToken"]!]).status == 204)
            #expect(try await !live(a))
            #expect(try await live(b))
            #expect(try await live(c))
            #expect(try await live(d))

            // others, by bearer access token: only the caller's survives.
            let others = try await app.client.json(
                "POST", "/logout", ["scope": "others"], headers: [("authorization", "Bearer \(b["accessToken"]!)")]
            )
            #expect(others.status == 204)
            #expect(try await live(b))
            #expect(try await !live(c))
            #expect(try await !live(d))

            // global ends all.
            let e = try await app.logIn("quinn")
            #expect(
                try await app.client.json("POST", "/logout", ["token": e["refreshToken"]!, "scope": "global"]).status
                    == 204
            )
            #expect(try await !live(b))
            #expect(try await !live(e))

            let bad = try await app.client.json(
                "POST", "/logout", ["token": e["refreshToken"]!, "scope": "everything"])
            #expect(bad.status == 400)
            #expect(try await app.client.json("POST", "/logout", [:]).status == 400)
        }
    }

    @Test func revokingOneOfMySessions() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            let mine = try await app.signUpAndLogIn("rosa")
            let other = try await app.logIn("rosa")
            let otherID = try #require(try await app.client.get("/me", bearer: other["accessToken"])["sessionId"])
            let bearer = [("authorization", "Bearer \(mine["accessToken"]!)")]
            #expect(try await app.client.request("DELETE", "/sessions/\(otherID)", headers: bearer).status == 204)
            #expect(try await app.client.get("/me", bearer: other["accessToken"]).status == 401)
            let again = try await app.client.request("DELETE", "/sessions/\(otherID)", headers: bearer)
            #expect(again.status == 404)
            #expect(again["error"] == "not_found")

            // Someone else's session id is not mine to end.
            let stranger = try await app.signUpAndLogIn("sam")
            let strangerID = try #require(try await app.client.get("/me", bearer: stranger["accessToken"])["sessionId"])
            #expect(try await app.client.request("DELETE", "/sessions/\(strangerID)", headers: bearer).status == 404)
            #expect(try await app.client.get("/me", bearer: stranger["accessToken"]).status == 200)
        }
    }

    @Test func theIndexAndKeyspaceHoldOnlyLiveSessionsAfterThousandsExpire() async throws {
        let clock = TestClock()
        let app = try await TestApp.start(clock: clock)
        try await withTeardown({ await app.stop() }) {
            let redis = try TestRedis.makeClient()
            let keys = RedisKeys(prefix: app.prefix)
            let created = try await app.client.json(
                "POST", "/users", ["username": "tara", "password": "correct horse battery"])
            #expect(created.status == 201)
            // Thousands of sessions straight through the store: logging in each would be all hashing.
            let store = RedisAuthStore(redis: redis, keyPrefix: app.prefix)
            let now = clock.now()
            // They live 5 s: enough for 3000 inserts on a loaded machine (the index key lives as long
            // as the latest of them, so a shorter life could expire it before it is counted).
            let lifetime = 5
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<3000 {
                    group.addTask {
                        _ = try await store.createSession(
                            .init(
                                username: "tara", id: "s\(index)", refreshTokenID: "r\(index)",
                                refreshExpiresAt: now + lifetime, absoluteExpiresAt: now + lifetime, client: .init(),
                                passwordVersion: "1"
                            ),
                            now: now, maxSessions: 10_000
                        )
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await redis.send("ZCARD", [keys.sessions("tara")]).int == 3000)

            // Redis expires the session keys by their TTL (real time): wait for that, not a fixed time.
            // The index is pruned on use, by authd's clock.
            try await waitUntil(within: .seconds(30), every: .milliseconds(200), "the session keys did not expire") {
                try await redis.scanAll(match: keys.sessionPrefix("tara") + "s*").isEmpty
            }
            clock.advance(by: lifetime + 1)
            let fresh = try await app.logIn("tara")
            #expect(fresh.status == 200)
            #expect(try await redis.send("ZCARD", [keys.sessions("tara")]).int == 1)
            let remaining = try await redis.scanAll(match: app.prefix + "*").filter {
                !$0.contains(":throttle:") && !$0.contains(":events:")
            }
            #expect(Set(remaining).count == 3, "the account, one session and the index: \(remaining.count) keys")
        }
    }
}
