import RedisClient
import RedisStore
import TestSupport
import Testing

@Suite("Keys and TTLs left in Redis")
struct RedisStateTests {
    @Test func sessionKeysCarryTheRefreshLifetimeAndOnlyAccountsLiveForever() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            let redis = try TestRedis.makeClient()
            let keys = RedisKeys(prefix: app.prefix)

            let login = try await app.signUpAndLogIn("gina")
            let sessionID = try #require(try await app.client.get("/me", bearer: login["accessToken"])["sessionId"])
            let refreshTTL = app.application.configuration.auth.refreshTokenTTL

            // The sign-up's and login's events are written after the answers: wait for them.
            try await waitUntil(within: .seconds(30), "the login's event") {
                try await redis.send("XLEN", [keys.events(shard: 0)]).int == 2
            }
            let state = try await app.keysWithTTL(redis)
            // The sign-up counted against the address, for an hour.
            let signUps = keys.throttleSignUp("127.0.0.1")
            #expect((1...3600).contains(state[signUps] ?? -1))
            // The security events: a stream, trimmed by length and age rather than expired.
            let events = keys.events(shard: 0)
            #expect(
                Set(state.keys)
                    == [keys.user("gina"), keys.session("gina", sessionID), keys.sessions("gina"), signUps, events])
            #expect(state[keys.user("gina")] == -1, "accounts do not expire")
            for key in [keys.session("gina", sessionID), keys.sessions("gina")] {
                let ttl = try #require(state[key])
                // The refresh lifetime (7 days), less the seconds since the login: 60 s of margin for a
                // loaded machine (5 s failed beside CPU hogs) still tells it from the access lifetime
                // (15 minutes) and the absolute one (30 days).
                #expect(ttl > refreshTTL - 60 && ttl <= refreshTTL, "\(key) has TTL \(ttl)")
            }
            // No key but the account and the event stream is without a TTL.
            #expect(state.filter { $0.value < 0 }.keys.sorted() == [events, keys.user("gina")].sorted())

            // The session records its refresh token id, never the token itself.
            let session = try await redis.hgetall(keys.session("gina", sessionID))
            #expect(
                Set(session.keys) == [
                    "rt", "rt_exp", "created", "last_used", "expires", "ua", "ip", "roles", "amr", "auth_time",
                ])
            #expect(session["rt"]?.count == 32)
            #expect(!session.values.contains(login["refreshToken"]!))
            let account = try await redis.hgetall(keys.user("gina"))
            #expect(account["password"]?.hasPrefix("$argon2id$v=19$m=19456,t=2,p=1$") == true)
            #expect(account["pwv"] == "1", "the password version a login's session is bound to")

            // The index lists the session, scored by its expiry.
            let index = try await redis.zrange(keys.sessions("gina"))
            #expect(index.map(\.member) == [sessionID])

            // Logout deletes both of the session's keys.
            #expect(try await app.client.json("DELETE", "/logout", ["token": login["refreshToken"]!]).status == 204)
            // ... and the revocation feed has its notice (a stream, trimmed like the events).
            let left = try await app.keysWithTTL(redis)
            #expect(Set(left.keys) == [keys.user("gina"), signUps, events, keys.feed])
            #expect(left[keys.feed] == -1)
        }
    }

    @Test func theSessionNeverOutlivesItsAbsoluteLifetime() async throws {
        let clock = TestClock()
        let app = try await TestApp.start(clock: clock) {
            $0.auth.refreshTokenTTL = 1000
            $0.auth.sessionMaxLifetime = 1500
        }
        try await withTeardown({ await app.stop() }) {
            let redis = try TestRedis.makeClient()
            let login = try await app.signUpAndLogIn("hank")
            let sessionID = try #require(try await app.client.get("/me", bearer: login["accessToken"])["sessionId"])
            let key = RedisKeys(prefix: app.prefix).session("hank", sessionID)
            #expect(try await redis.ttl(key) > 990)

            // 900 s later a rotation may extend the session only to its absolute end, 600 s away.
            clock.advance(by: 900)
            let refreshed = try await app.client.json("POST", "/token", ["token": login["refreshToken"]!])
            #expect(refreshed.status == 200)
            let ttl = try await redis.ttl(key)
            #expect(ttl > 590 && ttl <= 600, "TTL \(ttl)")
        }
    }
}
