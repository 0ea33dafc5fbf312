import AuthdApp
import Foundation
import NIOConcurrencyHelpers
import RedisClient
import TestSupport
import Testing

/// AUTHD_VERIFY_CACHE on, through the service: verify answered from each instance's cache, and
/// every revocation on one instance rejected on the other by the next request.
/// One test at a time: the storm's logins hash passwords, which loaded the suite's start.
@Suite("Verify cache across instances", .serialized)
struct VerifyCacheTests {
    static func cacheOn(_ configuration: inout AppConfiguration) {
        var cache = ClientSideCacheConfiguration()
        // A loaded machine must not take a slow PING for a lost connection (which only empties the
        // cache, but the tests count on it holding).
        cache.healthCheckInterval = .seconds(5)
        configuration.redis.clientSideCache = cache
        // Likewise the lease: renewals every 1.25 s, so that a stalled machine does not leave the
        // caches unused (safe, but the tests count hits). Revocations still wait for each other.
        configuration.verifyCacheLease = .seconds(5)
    }

    /// 30 s: tracking comes up in milliseconds, but its connects share the machine with the suite.
    /// Until every app's tracking is up and its lease confirmed: before that, the first
    /// registration's flush may empty what a test just put in the cache (beside a CPU hog, a test
    /// that counted entries once found one of two gone).
    static func waitForTracking(_ apps: TestApp...) async throws {
        try await waitUntil(within: .seconds(30), "tracking up and serving") {
            apps.allSatisfy { $0.application.redis.trackingServing() == true }
        }
    }

    enum Revocation: CaseIterable {
        case logout, revokeAccessToken, endSession, changePassword
    }

    /// One user's round: log in, verify twice on the verifier (the second from its cache), revoke
    /// on the revoker, verify at once on both. Returns the statuses seen after the revocation.
    static func round(
        _ user: String, _ password: inout String, _ revocation: Revocation, revoker: TestApp, verifier: TestApp
    ) async throws -> [Int] {
        let login = try await revoker.logIn(user, password: password)
        guard login.status == 200, let access = login["accessToken"], let refresh = login["refreshToken"] else {
            throw TestFailure("login \(user): \(login.status) \(login.text)")
        }
        for _ in 0..<2 {
            let seen = try await verifier.client.get("/me", bearer: access)
            guard seen.status == 200 else { throw TestFailure("verify before: \(seen.status) \(seen.text)") }
        }
        let bearer = [("authorization", "Bearer \(access)")]
        let revoked: TestResponse
        switch revocation {
        case .logout:
            revoked = try await revoker.client.json("DELETE", "/logout", ["token": refresh])
        case .revokeAccessToken:
            revoked = try await revoker.client.request(
                "POST", "/revoke", headers: [("content-type", "application/x-www-form-urlencoded")],
                body: Array("token=\(access)".utf8))
        case .endSession:
            let id = try #require(try await revoker.client.get("/me", bearer: access)["sessionId"])
            revoked = try await revoker.client.request("DELETE", "/sessions/\(id)", headers: bearer)
        case .changePassword:
            let next = password == "correct horse battery" ? "another long password" : "correct horse battery"
            revoked = try await revoker.client.json(
                "POST", "/password", ["oldPassword": password, "newPassword": next], headers: bearer)
            password = next
        }
        guard (200..<300).contains(revoked.status) else {
            throw TestFailure("\(revocation): \(revoked.status) \(revoked.text)")
        }
        return [
            try await verifier.client.get("/me", bearer: access).status,
            try await revoker.client.get("/me", bearer: access).status,
        ]
    }

    /// Sixteen users at once, each revocation kind, each instance in both roles: not one
    /// request after a revocation's answer is accepted, while the caches did answer the repeats.
    @Test func everyRevocationOnOneInstanceIsRejectedOnTheOtherAtOnce() async throws {
        // 16 users' sign-ups and logins from one address: no throttle in the way.
        let pair = try await TestApp.startPair { configuration in
            Self.cacheOn(&configuration)
            configuration.auth.throttle.enabled = false
        }
        try await withTeardown({ await pair.stop() }) {
            try await Self.waitForTracking(pair.a, pair.b)
            let statuses = try await inParallel(16) { index -> [Int] in
                let user = "cache-\(index)"
                #expect(try await pair.a.signUpAndLogIn(user).status == 200)
                var password = "correct horse battery"
                var seen: [Int] = []
                for round in 0..<4 {
                    let (revoker, verifier) = round % 2 == 0 ? (pair.a, pair.b) : (pair.b, pair.a)
                    let kind = Revocation.allCases[(index + round) % Revocation.allCases.count]
                    seen += try await Self.round(user, &password, kind, revoker: revoker, verifier: verifier)
                }
                return seen
            }.flatMap { $0 }
            #expect(statuses.count == 16 * 4 * 2)
            #expect(
                statuses.allSatisfy { $0 == 401 },
                "after revocation: \(Dictionary(grouping: statuses, by: { $0 }).mapValues(\.count))")
            // The caches answered (how often depends on the machine: a hit is not used while the
            // link's lease has lapsed).
            for app in [pair.a, pair.b] {
                #expect((app.application.redis.cacheStatistics()?.hits ?? 0) > 0)
            }
        }
    }

    /// An operator's `redis-cli DEL` reaches the caches only through Redis's invalidation: no
    /// instance wrote it.
    @Test func aSessionDeletedInRedisIsRejectedByBothInstances() async throws {
        let pair = try await TestApp.startPair(configure: Self.cacheOn)
        let redis = try TestRedis.makeClient()
        try await withTeardown({
            await pair.stop()
            await redis.shutdown()
        }) {
            try await Self.waitForTracking(pair.a, pair.b)
            let login = try await pair.a.signUpAndLogIn("operator-del")
            let access = try #require(login["accessToken"])
            let id = try #require(try await pair.a.client.get("/me", bearer: access)["sessionId"])
            for app in [pair.a, pair.b] { #expect(try await app.client.get("/me", bearer: access).status == 200) }
            #expect(try await redis.send("DEL", ["\(pair.prefix)session:{operator-del}:\(id)"]).int == 1)
            for app in [pair.a, pair.b] { #expect(try await app.client.get("/me", bearer: access).status == 401) }
        }
    }

    /// Redis gone: the cache is emptied with the connections, so verify answers 503, never a
    /// cached 200; with Redis back, tracking and the cache come back by themselves.
    @Test func redisGoneFailsClosedAndTheCacheComesBack() async throws {
        let server = try RedisServerProcess()
        try await server.start()
        let app = try await TestApp.start(redisURL: server.url) { configuration in
            Self.cacheOn(&configuration)
            // Short enough that the outage is noticed at once, long enough for a loaded machine.
            configuration.redis.commandTimeout = .seconds(2)
            configuration.redis.connectTimeout = .seconds(2)
            configuration.redis.maxReconnectDelay = .milliseconds(200)
        }
        try await withTeardown({
            await app.stop()
            server.kill()
        }) {
            try await app.waitUntilReady()
            try await Self.waitForTracking(app)
            let access = try #require(try await app.signUpAndLogIn("outage")["accessToken"])
            for _ in 0..<2 { #expect(try await app.client.get("/me", bearer: access).status == 200) }
            #expect(app.application.redis.cacheStatistics()?.entries == 1)

            server.kill()
            try await waitUntil(within: .seconds(10), "tracking lost") {
                app.application.redis.trackingUp() == false
            }
            #expect(app.application.redis.cacheStatistics()?.entries == 0)
            #expect(try await app.client.get("/me", bearer: access).status == 503)

            try await server.start()
            try await app.waitUntilReady()
            try await Self.waitForTracking(app)
            // The new server is empty: the session is gone, and said so from Redis.
            #expect(try await app.client.get("/me", bearer: access).status == 401)
            let again = try #require(try await app.signUpAndLogIn("outage")["accessToken"])
            for _ in 0..<2 { #expect(try await app.client.get("/me", bearer: again).status == 200) }
            // Both answers are kept: the ended session's and the new one's.
            #expect(app.application.redis.cacheStatistics()?.entries == 2)
        }
    }
}
