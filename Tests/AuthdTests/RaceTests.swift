import AuthCore
import Foundation
import NIOConcurrencyHelpers
import Passwords
import RedisClient
import RedisStore
import TestSupport
import Testing

/// Security checks that read, decide and write, attacked with dozens of requests at once over
/// real sockets against the real Redis; each test then looks at what Redis holds.
///
/// Each test prints its figure (for example how many of the parallel guesses were hashed), so a
/// run shows the number behind the verdict.
@Suite("Races: promises that must hold under parallel requests")
struct RaceTests {
    static let password = "the real password"

    /// Issue 13, item 1: the throttle counts an attempt before hashing, atomically.
    @Test func parallelWrongLoginsFromOneAddressHashAtMostTheLimit() async throws {
        try await withTestApp { app in
            try await app.signUpAndLogIn("throttled", password: Self.password)
            let attacker = app.client.from("127.0.0.2")
            let statuses = try await inParallel(55) { index in
                try await attacker.json("POST", "/login", ["username": "throttled", "password": "guess \(index)"])
                    .status
            }
            let hashed = statuses.count { $0 == 401 }
            let refused = statuses.count { $0 == 429 }
            print("55 parallel wrong logins from one address: \(hashed) hashed (401), \(refused) refused (429)")
            #expect(hashed <= 5, "the per-user-and-address limit is 5")
            #expect(hashed + refused == 55)
            // The rightful user, from another address, is not locked out by one attacking address.
            let rightful = try await app.client.from("127.0.0.3").json(
                "POST", "/login", ["username": "throttled", "password": Self.password])
            #expect(rightful.status == 200)
        }
    }

    /// Issue 13, item 2: a login that checked the old password cannot open a session once the
    /// password has changed. Four clients log in without pause while the password changes; a round
    /// ends when the change is answered and every login in flight has been. The race (a login that
    /// verified the old password, then found it changed) is counted from authd's own log line, and
    /// rounds go on until it has happened: a pass proves the race ran, not only that it was harmless.
    @Test func loginsRacingAPasswordChangeLeaveNoSessionMadeWithTheOldPassword() async throws {
        let log = LogCapture()
        let app = try await TestApp.start(logger: log.logger) { $0.auth.throttle.enabled = false }
        let redis = try TestRedis.makeClient()
        try await withTeardown({
            await redis.shutdown()
            await app.stop()
        }) {
            func races() -> Int { log.count("the password changed after it was checked") }
            var password = "password round 0"
            _ = try await app.signUpAndLogIn("racer", password: password)
            var rounds = 0
            var served = 0
            while races() == 0 && rounds < 20 {
                rounds += 1
                let current = password
                let next = "password round \(rounds)"
                let bearer = try #require(try await app.logIn("racer", password: current)["accessToken"])
                let ok = NIOLockedValueBox(0)
                // Every login in flight has been answered when this returns: the survivors below
                // are counted after the round, not during it.
                let (_, changed) = try await whileRunning({ running in
                    try await inParallel(4) { _ in
                        while running() {
                            if try await app.logIn("racer", password: current).status == 200 {
                                ok.withLockedValue { $0 += 1 }
                            }
                        }
                    }
                }) {
                    // The change lands while logins are flowing, not before they start.
                    try await waitUntil(within: .seconds(30), "no login served before the change") {
                        ok.withLockedValue { $0 } >= 4
                    }
                    return try await app.client.json(
                        "POST", "/password", ["oldPassword": current, "newPassword": next],
                        headers: [("authorization", "Bearer \(bearer)")])
                }
                #expect(changed.status == 204)
                password = next
                served += ok.withLockedValue { $0 }
                // The change ended every session, and no login that checked the old password
                // opened one after it.
                let survivors = try await redis.scanAll(match: app.prefix + "session:*")
                #expect(survivors.isEmpty, "round \(rounds): \(survivors.count) sessions survive the change")
            }
            print(
                "logins racing a password change: \(rounds) rounds, \(served) logins served, "
                    + "\(races()) logins that checked the old password refused after the change")
            #expect(races() > 0, "the race never happened in \(rounds) rounds: the test proved nothing")
        }
    }

    /// Issue 13, item 3: a refresh token whose session ended cannot end the user's other sessions.
    @Test func aStaleRefreshTokenEndsNoOtherSession() async throws {
        try await withTestApp(configure: { $0.auth.refreshGraceWindow = 0 }) { app in
            let stale = try await app.signUpAndLogIn("stale")
            let rotated = try await app.logIn("stale")
            let other = try await app.logIn("stale")
            #expect(try await app.client.json("DELETE", "/logout", ["token": stale["refreshToken"]!]).status == 204)
            // A token rotated away is stale too (its session lives on with the new one).
            let next = try await app.client.json("POST", "/token", ["token": rotated["refreshToken"]!])
            #expect(next.status == 200)
            var ended = 0
            for token in [stale["refreshToken"]!, rotated["refreshToken"]!] {
                for scope in ["global", "others"] {
                    let response = try await app.client.json("POST", "/logout", ["token": token, "scope": scope])
                    #expect(response.status == 400, "scope \(scope)")
                    #expect(response["error"] == "invalid_grant")
                }
            }
            for access in [other["accessToken"]!, next["accessToken"]!]
            where try await app.client.get("/me", bearer: access).status != 200 {
                ended += 1
            }
            print("stale refresh tokens with scope global/others: \(ended) of 2 live sessions ended")
            #expect(ended == 0)
            // The current token still logs out everywhere.
            let global = try await app.client.json(
                "POST", "/logout", ["token": next["refreshToken"]!, "scope": "global"])
            #expect(global.status == 204)
            #expect(try await app.client.get("/me", bearer: other["accessToken"]).status == 401)
        }
    }

    /// Issue 13, item 4: upgrading a hash at login never undoes a password change made meanwhile.
    @Test func aRehashAtLoginNeverRevertsAPasswordChange() async throws {
        try await withTestApp(configure: { $0.auth.throttle.enabled = false }) { app in
            let redis = try TestRedis.makeClient()
            let keys = RedisKeys(prefix: app.prefix)
            var weak = Argon2Parameters()
            weak.memoryKiB = 4096
            weak.iterations = 1
            let weakHasher = try Argon2PasswordHasher(parameters: weak, concurrency: 1)
            let old = "old password one"
            let users = (0..<12).map { "rehash\($0)" }
            var bearers: [String: String] = [:]
            for user in users {
                bearers[user] = try await app.signUpAndLogIn(user, password: old)["accessToken"]
                // As if made before the parameters were raised: the next login re-hashes it.
                _ = try await redis.hset(keys.user(user), fields: [("password", try await weakHasher.hash(old))])
            }
            let bearerTokens = bearers
            _ = try await inParallel(users.count * 2) { index in
                let user = users[index / 2]
                if index % 2 == 0 { return try await app.logIn(user, password: old).status }
                return try await app.client.json(
                    "POST", "/password", ["oldPassword": old, "newPassword": "new password two"],
                    headers: [("authorization", "Bearer \(bearerTokens[user]!)")]
                ).status
            }
            var reverted = 0
            for user in users where try await app.logIn(user, password: "new password two").status != 200 {
                reverted += 1
            }
            print("logins re-hashing while the password changed: \(reverted) of \(users.count) changes undone")
            #expect(reverted == 0)
            try await weakHasher.shutdown()
            await redis.shutdown()
        }
    }

    /// Issue 13, item 5: `POST /password` is no faster a password oracle than `/login`.
    @Test func parallelWrongCurrentPasswordsAreThrottledLikeLogins() async throws {
        try await withTestApp { app in
            let login = try await app.signUpAndLogIn("oracle", password: Self.password)
            let bearer = [("authorization", "Bearer \(login["accessToken"]!)")]
            let client = app.client.from("127.0.0.5")
            let responses = try await inParallel(20) { index in
                try await client.json(
                    "POST", "/password", ["oldPassword": "guess \(index)", "newPassword": "brand new password"],
                    headers: bearer)
            }
            let hashed = responses.count { $0.status == 400 }
            let refused = responses.count { $0.status == 429 }
            print("20 parallel wrong current passwords: \(hashed) hashed, \(refused) refused (429)")
            #expect(hashed <= 5)
            #expect(hashed + refused == 20)
        }
    }

    /// Issue 13, item 6: sign-ups are throttled per address.
    @Test func parallelSignUpsFromOneAddressAreThrottled() async throws {
        try await withTestApp { app in
            let client = app.client.from("127.0.0.6")
            let statuses = try await inParallel(40) { index in
                try await client.json("POST", "/users", ["username": "signup\(index)", "password": Self.password])
                    .status
            }
            let created = statuses.count { $0 == 201 }
            print("40 parallel sign-ups from one address: \(created) created, \(statuses.count { $0 == 429 }) refused")
            #expect(created <= 20)
            #expect(statuses.allSatisfy { $0 == 201 || $0 == 429 })
        }
    }

    /// Issue 13, item 7: revoking access tokens one by one cannot grow a session without bound.
    @Test func refreshAndRevokeRoundsKeepTheSessionHashBounded() async throws {
        try await withTestApp { app in
            let redis = try TestRedis.makeClient()
            let keys = RedisKeys(prefix: app.prefix)
            var pair = try await app.signUpAndLogIn("grower")
            let session = try JWT.claims(of: pair["accessToken"]!).sid
            var rounds = 0
            var largest = 0
            for _ in 0..<100 {
                let next = try await app.client.json("POST", "/token", ["token": pair["refreshToken"]!])
                guard next.status == 200 else { break }
                let revoked = try await app.client.request(
                    "POST", "/revoke", headers: [("content-type", "application/x-www-form-urlencoded")],
                    body: Array("token=\(next["accessToken"]!)".utf8))
                #expect(revoked.status == 200)
                largest = max(largest, try await redis.send("HLEN", [keys.session("grower", session)]).int ?? 0)
                pair = next
                rounds += 1
            }
            print("\(rounds) refresh-and-revoke rounds: the session hash held at most \(largest) fields")
            #expect(largest <= 64 + 12, "64 live denials and the session's own fields")
            // Past the cap the session ends: its last refresh token is refused.
            #expect(rounds < 100)
            #expect(try await app.client.json("POST", "/token", ["token": pair["refreshToken"]!]).status == 400)
            await redis.shutdown()
        }
    }

    /// Issue 13, item 7: parallel logins never leave a user more sessions than the cap.
    @Test func parallelLoginsNeverExceedTheSessionCap() async throws {
        let clock = TestClock()
        try await withTestApp(
            clock: clock,
            configure: {
                $0.auth.maxSessionsPerUser = 5
                $0.auth.throttle.enabled = false
            }
        ) { app in
            let redis = try TestRedis.makeClient()
            let keys = RedisKeys(prefix: app.prefix)
            let first = try await app.signUpAndLogIn("collector", password: Self.password)
            // Recorded in whole seconds: the first session must be older than the rest.
            clock.advance(by: 1)
            let statuses = try await inParallel(24) { _ in
                try await app.logIn("collector", password: Self.password).status
            }
            #expect(statuses.allSatisfy { $0 == 200 })
            let indexed = try await redis.send("ZCARD", [keys.sessions("collector")]).int ?? -1
            let stored = try await redis.scanAll(match: keys.sessionPrefix("collector") + "*").count
            print("25 logins with a cap of 5: \(indexed) sessions indexed, \(stored) stored")
            #expect(indexed == 5)
            #expect(stored == 5)
            // The first session, the least recently used, was ended.
            #expect(try await app.client.get("/me", bearer: first["accessToken"]).status == 401)
            await redis.shutdown()
        }
    }

    /// Issue 13, item 8: key names carry only validated or hashed text.
    @Test func throttleKeysNeverCarryTheRawUsername() async throws {
        try await withTestApp { app in
            let redis = try TestRedis.makeClient()
            let names = ["}evil{", "{x}y", "a b", "ÅSA", "..", String(repeating: "z", count: 200)]
            _ = try await inParallel(names.count) { index in
                try await app.client.json("POST", "/login", ["username": names[index], "password": "whatever 123"])
                    .status
            }
            let keys = try await redis.scanAll(match: app.prefix + "*")
            // Clean: at most one hash tag of name characters, and nothing else outside a-z 0-9 . _ - :
            let clean = keys.filter { key in
                var rest = Array(key.utf8.dropFirst(app.prefix.utf8.count))
                if let open = rest.firstIndex(of: UInt8(ascii: "{")),
                    let close = rest.firstIndex(of: UInt8(ascii: "}")),
                    open < close
                {
                    rest.removeSubrange(open...close)
                }
                return rest.allSatisfy {
                    (97...122).contains($0) || (48...57).contains($0) || [45, 46, 95, 58].contains($0)
                }
            }
            print("hostile names: \(keys.count - clean.count) of \(keys.count) keys carry raw text")
            #expect(!keys.isEmpty)
            #expect(clean.count == keys.count, "\(keys)")
            await redis.shutdown()
        }
    }
}
