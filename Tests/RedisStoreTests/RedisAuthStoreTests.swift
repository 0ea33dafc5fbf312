import AuthCore
import Foundation
import RedisClient
import TestSupport
import Testing

@testable import RedisStore

/// Each operation of ``RedisAuthStore`` against the suite's real Redis, asserting what it leaves
/// there: the keys (as docs/OPERATIONS.md documents them for `redis-cli` users), their fields and
/// their TTLs. When one of these fails, the store or its script broke, not HTTP or the domain.
@Suite("Redis store: each operation, its keys and TTLs")
struct RedisAuthStoreTests {
    /// A store on a key prefix of its own, and a plain client to look at what it leaves.
    struct Fixture {
        let redis: RedisClient
        let store: RedisAuthStore
        var keys: RedisKeys { self.store.keys }
        let now = Int(Date().timeIntervalSince1970)
        let started = ContinuousClock.now

        /// Whether a TTL read now is what was set, `expected` seconds, counted down since: it can
        /// have lost no more than the seconds since the fixture was made (and one for the second
        /// that turned). A fixed slack failed beside a loaded suite start, where one test took 8 s.
        func near(_ ttl: Int, _ expected: Int) -> Bool {
            let elapsed = Int((ContinuousClock.now - self.started).components.seconds)
            return (expected - elapsed - 1...expected).contains(ttl)
        }

        func hash(_ key: String) async throws -> [String: String] {
            let flat = try await self.redis.send("HGETALL", [key]).array ?? []
            var fields: [String: String] = [:]
            for index in stride(from: 0, to: flat.count - 1, by: 2) {
                if let name = flat[index].string { fields[name] = flat[index + 1].string }
            }
            return fields
        }

        /// The key's TTL in seconds: -1 without one, -2 when there is no such key.
        func ttl(_ key: String) async throws -> Int { try await self.redis.send("TTL", [key]).int ?? -3 }

        func exists(_ key: String) async throws -> Bool { try await self.redis.send("EXISTS", [key]).int == 1 }

        func members(_ key: String) async throws -> [String: Int] {
            let flat = try await self.redis.send("ZRANGE", [key, "0", "-1", "WITHSCORES"]).array ?? []
            var scores: [String: Int] = [:]
            for index in stride(from: 0, to: flat.count - 1, by: 2) {
                if let id = flat[index].string { scores[id] = flat[index + 1].string.flatMap { Int($0) } }
            }
            return scores
        }

        func session(
            _ user: String, _ id: String, refresh: Int = 600, absolute: Int = 3600, version: String = "1"
        ) -> SessionRecord {
            SessionRecord(
                username: user, id: id, refreshTokenID: "rt-\(id)", refreshExpiresAt: self.now + refresh,
                absoluteExpiresAt: self.now + absolute, client: ClientInfo(userAgent: "curl/8", ip: "192.0.2.1"),
                passwordVersion: version)
        }

        /// A user, and one session of the defaults (`rt-ID`, 600 s, absolute 3600 s).
        func userWithSession(_ user: String, _ id: String) async throws {
            _ = try await self.store.createUser(username: user, passwordHash: "h", now: self.now)
            _ = try await self.store.createSession(self.session(user, id), now: self.now, maxSessions: 10)
        }

        func rotation(_ user: String, _ id: String, presented: String, next: String, at now: Int, grace: Int = 10)
            -> SessionRotation
        {
            SessionRotation(
                username: user, sessionID: id, presentedTokenID: presented, nextTokenID: next, now: now,
                refreshExpiresAt: now + 600, graceSeconds: grace)
        }
    }

    static func withStore(_ body: (Fixture) async throws -> Void) async throws {
        let redis = try TestRedis.makeClient()
        try await withTeardown({ await redis.shutdown() }) {
            try await TestRedis.waitUntilConnected(redis)
            try await body(
                Fixture(redis: redis, store: RedisAuthStore(redis: redis, keyPrefix: TestRedis.uniquePrefix("store"))))
        }
    }

    // MARK: Users

    @Test func createUserWritesTheHashWithoutTTLAndOnlyOnce() async throws {
        try await Self.withStore { (f) async throws in
            #expect(try await f.store.createUser(username: "ann", passwordHash: "$argon2id$h1", now: f.now))
            let key = f.keys.user("ann")
            #expect(key.hasSuffix("user:{ann}"))
            #expect(try await f.hash(key) == ["password": "$argon2id$h1", "created": String(f.now), "pwv": "1"])
            #expect(try await f.ttl(key) == -1, "accounts do not expire")
            #expect(try await f.store.createUser(username: "ann", passwordHash: "$argon2id$h2", now: f.now) == false)
            #expect(try await f.hash(key)["password"] == "$argon2id$h1", "a second create changes nothing")
            #expect(try await f.store.userExists(username: "ann"))
            #expect(try await f.store.userExists(username: "bob") == false)
            #expect(try await f.store.password(username: "ann") == StoredPassword(hash: "$argon2id$h1", version: "1"))
            #expect(try await f.store.password(username: "bob") == nil)
        }
    }

    @Test func aHashIsUpgradedOnlyOverTheOneVerified() async throws {
        try await Self.withStore { (f) async throws in
            _ = try await f.store.createUser(username: "ann", passwordHash: "old", now: f.now)
            #expect(try await f.store.upgradePasswordHash(username: "ann", verified: "other", upgraded: "new") == false)
            #expect(try await f.hash(f.keys.user("ann"))["password"] == "old")
            #expect(try await f.store.upgradePasswordHash(username: "ann", verified: "old", upgraded: "new"))
            #expect(try await f.hash(f.keys.user("ann"))["password"] == "new")
            #expect(try await f.hash(f.keys.user("ann"))["pwv"] == "1", "an upgrade is the same password")
        }
    }

    @Test func aPasswordChangeBumpsTheVersionAndDeletesEverySession() async throws {
        try await Self.withStore { (f) async throws in
            _ = try await f.store.createUser(username: "ann", passwordHash: "old", now: f.now)
            for id in ["s1", "s2"] {
                _ = try await f.store.createSession(f.session("ann", id), now: f.now, maxSessions: 10)
            }
            #expect(try await f.store.changePassword(username: "ann", expectedVersion: "7", newHash: "new") == nil)
            #expect(try await f.hash(f.keys.user("ann"))["password"] == "old", "a stale version changes nothing")
            #expect(try await f.store.changePassword(username: "ann", expectedVersion: "1", newHash: "new") == 2)
            #expect(try await f.hash(f.keys.user("ann"))["password"] == "new")
            #expect(try await f.hash(f.keys.user("ann"))["pwv"] == "2")
            #expect(try await f.exists(f.keys.session("ann", "s1")) == false)
            #expect(try await f.exists(f.keys.session("ann", "s2")) == false)
            #expect(try await f.exists(f.keys.sessions("ann")) == false)
            // A login that checked the old password opens no session.
            #expect(
                try await f.store.createSession(f.session("ann", "s3", version: "1"), now: f.now, maxSessions: 10)
                    == nil)
            #expect(
                try await f.store.createSession(f.session("ann", "s3", version: "2"), now: f.now, maxSessions: 10)
                    == OpenedSession(roles: [])
            )
        }
    }

    // MARK: Users, for operators

    @Test func deletingAUserLeavesNoUserOrSessionKey() async throws {
        try await Self.withStore { (f) async throws in
            #expect(try await f.store.deleteUser(username: "ann") == nil, "no such user")
            try await f.userWithSession("ann", "s1")
            _ = try await f.store.createSession(f.session("ann", "s2"), now: f.now, maxSessions: 10)
            #expect(try await f.store.deleteUser(username: "ann") == 2)
            for key in [
                f.keys.user("ann"), f.keys.sessions("ann"), f.keys.session("ann", "s1"), f.keys.session("ann", "s2"),
            ] {
                #expect(try await f.exists(key) == false, "\(key)")
            }
            // A login that checked the password before the delete opens no session after it.
            #expect(try await f.store.createSession(f.session("ann", "s3"), now: f.now, maxSessions: 10) == nil)
        }
    }

    /// Disabling ends every session and bumps the password version (a login in flight opens no
    /// session); a disabled user has no password to log in with. Enabling lets the user in again.
    @Test func disablingEndsSessionsAndHidesThePassword() async throws {
        try await Self.withStore { (f) async throws in
            #expect(try await f.store.setDisabled(username: "ann", true) == nil, "no such user")
            try await f.userWithSession("ann", "s1")
            #expect(try await f.store.setDisabled(username: "ann", true) == 1)
            #expect(try await f.hash(f.keys.user("ann"))["disabled"] == "1")
            #expect(try await f.hash(f.keys.user("ann"))["pwv"] == "2")
            #expect(try await f.exists(f.keys.session("ann", "s1")) == false)
            #expect(try await f.store.password(username: "ann") == nil)
            #expect(
                try await f.store.createSession(f.session("ann", "s2", version: "1"), now: f.now, maxSessions: 10)
                    == nil)
            #expect(try await f.store.user(username: "ann", now: f.now)?.disabled == true)
            #expect(try await f.store.setDisabled(username: "ann", false) == 0)
            #expect(try await f.hash(f.keys.user("ann"))["disabled"] == nil)
            #expect(try await f.store.password(username: "ann") == StoredPassword(hash: "h", version: "2"))
        }
    }

    @Test func aResetSetsTheHashWhateverTheOldOneAndEndsEverySession() async throws {
        try await Self.withStore { (f) async throws in
            #expect(try await f.store.resetPassword(username: "ann", newHash: "new") == nil, "no such user")
            try await f.userWithSession("ann", "s1")
            #expect(try await f.store.resetPassword(username: "ann", newHash: "new") == 1)
            #expect(try await f.store.password(username: "ann") == StoredPassword(hash: "new", version: "2"))
            #expect(try await f.exists(f.keys.session("ann", "s1")) == false)
        }
    }

    @Test func usersAreListedByNameWithTheirLiveSessions() async throws {
        try await Self.withStore { (f) async throws in
            #expect(try await f.store.listUsers(now: f.now).isEmpty)
            try await f.userWithSession("bob", "s1")
            _ = try await f.store.createUser(username: "ann", passwordHash: "h", now: f.now)
            let users = try await f.store.listUsers(now: f.now)
            #expect(users.map(\.username) == ["ann", "bob"])
            #expect(users.map(\.sessions) == [0, 1])
            #expect(users.allSatisfy { $0.createdAt == f.now && !$0.disabled })
        }
    }

    @Test func createSessionWritesTheSessionAndItsIndexWithTheRefreshTokensTTL() async throws {
        try await Self.withStore { (f) async throws in
            #expect(
                try await f.store.createSession(f.session("ann", "s1"), now: f.now, maxSessions: 10) == nil,
                "no such user")
            #expect(try await f.exists(f.keys.session("ann", "s1")) == false)
            _ = try await f.store.createUser(username: "ann", passwordHash: "h", now: f.now)
            #expect(
                try await f.store.createSession(f.session("ann", "s1"), now: f.now, maxSessions: 10)
                    == OpenedSession(roles: []))
            let key = f.keys.session("ann", "s1")
            #expect(key.hasSuffix("session:{ann}:s1"))
            #expect(
                try await f.hash(key) == [
                    "rt": "rt-s1", "rt_exp": String(f.now + 600), "created": String(f.now),
                    "last_used": String(f.now), "expires": String(f.now + 3600), "ua": "curl/8", "ip": "192.0.2.1",
                    "roles": "", "amr": "pwd", "auth_time": String(f.now),
                ])
            #expect(f.near(try await f.ttl(key), 600))
            #expect(try await f.members(f.keys.sessions("ann")) == ["s1": f.now + 600])
            #expect(f.near(try await f.ttl(f.keys.sessions("ann")), 600))
            // The index lives as long as its longest-lived session.
            _ = try await f.store.createSession(f.session("ann", "s2", refresh: 900), now: f.now, maxSessions: 10)
            #expect(f.near(try await f.ttl(f.keys.sessions("ann")), 900))
            _ = try await f.store.createSession(f.session("ann", "s3", refresh: 300), now: f.now, maxSessions: 10)
            #expect(f.near(try await f.ttl(f.keys.sessions("ann")), 900), "a shorter session does not shorten it")
            #expect(
                try await f.store.listSessions(username: "ann", now: f.now).map(\.id).sorted() == ["s1", "s2", "s3"])
        }
    }

    /// At the cap, the session closest to expiry ends, key and index entry both.
    /// Roles live in the user's hash and in every session: a change reaches the sessions live now
    /// (whose TTLs it leaves alone) and no session that has ended, and a new session takes them.
    @Test func rolesAreTheUsersAndEverySessionsAtOnce() async throws {
        try await Self.withStore { (f) async throws in
            #expect(try await f.store.changeRole(username: "ann", "admin", add: true) == .noSuchUser)
            _ = try await f.store.createUser(username: "ann", passwordHash: "h", now: f.now)
            #expect(
                try await f.store.changeRole(username: "ann", "ops", add: true) == .changed(roles: ["ops"], sessions: 0)
            )
            #expect(
                try await f.store.createSession(f.session("ann", "s1"), now: f.now, maxSessions: 10)
                    == OpenedSession(roles: ["ops"]))
            _ = try await f.store.createSession(f.session("ann", "s2", refresh: 300), now: f.now, maxSessions: 10)
            _ = try await f.store.createSession(f.session("ann", "gone"), now: f.now, maxSessions: 10)
            _ = try await f.redis.send("DEL", [f.keys.session("ann", "gone")])  // expired, still indexed

            #expect(
                try await f.store.changeRole(username: "ann", "admin", add: true)
                    == .changed(roles: ["admin", "ops"], sessions: 2))
            #expect(try await f.exists(f.keys.session("ann", "gone")) == false, "an ended session stays ended")
            #expect(try await f.hash(f.keys.user("ann"))["roles"] == "admin,ops")
            for (id, ttl) in [("s1", 600), ("s2", 300)] {
                #expect(try await f.hash(f.keys.session("ann", id))["roles"] == "admin,ops")
                #expect(f.near(try await f.ttl(f.keys.session("ann", id)), ttl))
                #expect(
                    try await f.store.accessState(username: "ann", sessionID: id, tokenID: "a", now: f.now)
                        == .active(roles: ["admin", "ops"]))
            }
            // Granting again changes nothing; removing takes it from every session.
            #expect(
                try await f.store.changeRole(username: "ann", "admin", add: true)
                    == .changed(roles: ["admin", "ops"], sessions: 2))
            #expect(
                try await f.store.changeRole(username: "ann", "ops", add: false)
                    == .changed(roles: ["admin"], sessions: 2))
            let rotated = try await f.store.rotateSession(
                f.rotation("ann", "s1", presented: "rt-s1", next: "rt-2", at: f.now))
            #expect(
                rotated
                    == .rotated(refreshExpiresAt: f.now + 600, roles: ["admin"], assurance: .passwordOnly(at: f.now)))
            #expect(
                try await f.store.rotateSession(f.rotation("ann", "s1", presented: "rt-s1", next: "rt-3", at: f.now))
                    == .duplicate(
                        currentTokenID: "rt-2", refreshExpiresAt: f.now + 600, roles: ["admin"],
                        assurance: .passwordOnly(at: f.now)))
            #expect(
                try await f.store.changeRole(username: "ann", "admin", add: false) == .changed(roles: [], sessions: 2))
            #expect(try await f.hash(f.keys.user("ann"))["roles"] == nil)
            #expect(
                try await f.store.accessState(username: "ann", sessionID: "s2", tokenID: "a", now: f.now)
                    == .active(roles: []))
            #expect(try await f.store.user(username: "ann", now: f.now)?.roles == [])

            // At most Roles.maxPerUser.
            for index in 0..<Roles.maxPerUser {
                _ = try await f.store.changeRole(username: "ann", "r\(index)", add: true)
            }
            #expect(try await f.store.changeRole(username: "ann", "one-more", add: true) == .tooManyRoles)
            #expect(try await f.store.user(username: "ann", now: f.now)?.roles.count == Roles.maxPerUser)
        }
    }

    @Test func theCapEndsTheSessionClosestToExpiry() async throws {
        try await Self.withStore { (f) async throws in
            _ = try await f.store.createUser(username: "ann", passwordHash: "h", now: f.now)
            _ = try await f.store.createSession(f.session("ann", "long", refresh: 900), now: f.now, maxSessions: 2)
            _ = try await f.store.createSession(f.session("ann", "short", refresh: 300), now: f.now, maxSessions: 2)
            #expect(
                try await f.store.createSession(f.session("ann", "new"), now: f.now, maxSessions: 2)
                    == OpenedSession(roles: [], evicted: ["short"]))
            #expect(try await f.exists(f.keys.session("ann", "short")) == false)
            #expect(try await f.exists(f.keys.session("ann", "long")))
            #expect(Set(try await f.members(f.keys.sessions("ann")).keys) == ["long", "new"])
        }
    }

    @Test func rotationReplacesTheTokenAndRenewsTheTTL() async throws {
        try await Self.withStore { (f) async throws in
            _ = try await f.store.createUser(username: "ann", passwordHash: "h", now: f.now)
            _ = try await f.store.createSession(f.session("ann", "s1", refresh: 60), now: f.now, maxSessions: 10)
            let key = f.keys.session("ann", "s1")
            let result = try await f.store.rotateSession(
                f.rotation("ann", "s1", presented: "rt-s1", next: "rt-2", at: f.now))
            #expect(result == .rotated(refreshExpiresAt: f.now + 600, assurance: .passwordOnly(at: f.now)))
            let fields = try await f.hash(key)
            #expect(fields["rt"] == "rt-2")
            #expect(fields["prev"] == "rt-s1")
            #expect(fields["rotated_at"] == String(f.now))
            #expect(fields["rt_exp"] == String(f.now + 600))
            #expect(f.near(try await f.ttl(key), 600), "from 60 s to the new token's 600 s")
            #expect(try await f.members(f.keys.sessions("ann")) == ["s1": f.now + 600])
        }
    }

    /// A rotation never takes a session past its absolute end.
    @Test func rotationIsCappedAtTheAbsoluteEnd() async throws {
        try await Self.withStore { (f) async throws in
            _ = try await f.store.createUser(username: "ann", passwordHash: "h", now: f.now)
            _ = try await f.store.createSession(
                f.session("ann", "s1", refresh: 60, absolute: 120), now: f.now, maxSessions: 10)
            let result = try await f.store.rotateSession(
                f.rotation("ann", "s1", presented: "rt-s1", next: "rt-2", at: f.now))
            #expect(result == .rotated(refreshExpiresAt: f.now + 120, assurance: .passwordOnly(at: f.now)))
            #expect(f.near(try await f.ttl(f.keys.session("ann", "s1")), 120))
            // Past the absolute end, the session is gone.
            let late = try await f.store.rotateSession(
                f.rotation("ann", "s1", presented: "rt-2", next: "rt-3", at: f.now + 121))
            #expect(late == .unknownSession)
            #expect(try await f.exists(f.keys.session("ann", "s1")) == false)
        }
    }

    /// The previous token within the grace window gets the current one again and changes nothing;
    /// after it, it is reuse, and the session is deleted.
    @Test func thePreviousTokenIsADuplicateWithinGraceAndReuseAfter() async throws {
        try await Self.withStore { (f) async throws in
            try await f.userWithSession("ann", "s1")
            let key = f.keys.session("ann", "s1")
            _ = try await f.store.rotateSession(f.rotation("ann", "s1", presented: "rt-s1", next: "rt-2", at: f.now))
            let before = try await f.hash(key)
            let again = try await f.store.rotateSession(
                f.rotation("ann", "s1", presented: "rt-s1", next: "rt-x", at: f.now + 10))
            #expect(
                again
                    == .duplicate(
                        currentTokenID: "rt-2", refreshExpiresAt: f.now + 600, assurance: .passwordOnly(at: f.now)))
            #expect(try await f.hash(key) == before)
            let reuse = try await f.store.rotateSession(
                f.rotation("ann", "s1", presented: "rt-s1", next: "rt-y", at: f.now + 11))
            #expect(reuse == .reused)
            #expect(try await f.exists(key) == false)
            #expect(try await f.members(f.keys.sessions("ann")).isEmpty)
            let gone = try await f.store.rotateSession(
                f.rotation("ann", "s1", presented: "rt-2", next: "rt-z", at: f.now))
            #expect(gone == .unknownSession)
        }
    }

    @Test func endSessionAndEndSessionsDeleteKeysAndIndexEntries() async throws {
        try await Self.withStore { (f) async throws in
            _ = try await f.store.createUser(username: "ann", passwordHash: "h", now: f.now)
            for id in ["s1", "s2", "s3"] {
                _ = try await f.store.createSession(f.session("ann", id), now: f.now, maxSessions: 10)
            }
            #expect(try await f.store.endSession(username: "ann", sessionID: "s1"))
            #expect(try await f.store.endSession(username: "ann", sessionID: "s1") == false, "once")
            #expect(try await f.exists(f.keys.session("ann", "s1")) == false)
            #expect(Set(try await f.members(f.keys.sessions("ann")).keys) == ["s2", "s3"])
            // Everything but s3, proven by s3's current refresh token.
            let proof = SessionProof.refreshToken(sessionID: "s3", tokenID: "rt-s3", now: f.now, graceSeconds: 10)
            #expect(try await f.store.endSessions(username: "ann", keeping: "s3", proof: proof) == 1)
            #expect(try await f.exists(f.keys.session("ann", "s2")) == false)
            #expect(try await f.exists(f.keys.session("ann", "s3")))
            #expect(Set(try await f.members(f.keys.sessions("ann")).keys) == ["s3"])
            // A proof that does not hold ends nothing.
            let stale = SessionProof.refreshToken(sessionID: "s3", tokenID: "rt-old", now: f.now, graceSeconds: 10)
            #expect(try await f.store.endSessions(username: "ann", keeping: nil, proof: stale) == nil)
            #expect(try await f.exists(f.keys.session("ann", "s3")))
            #expect(try await f.store.endSessions(username: "ann", keeping: nil, proof: nil) == 1)
            #expect(try await f.exists(f.keys.session("ann", "s3")) == false)
        }
    }

    // MARK: Tokens

    @Test func aDeniedAccessTokenIsAFieldOfItsSessionUntilItExpires() async throws {
        try await Self.withStore { (f) async throws in
            try await f.userWithSession("ann", "s1")
            let key = f.keys.session("ann", "s1")
            #expect(
                try await f.store.accessState(username: "ann", sessionID: "s1", tokenID: "a1", now: f.now)
                    == .active(roles: []))
            try await f.store.denyAccessToken(
                username: "ann", sessionID: "s1", tokenID: "a1", expiresAt: f.now + 900, now: f.now, maxDenied: 2)
            #expect(try await f.hash(key)["deny:a1"] == String(f.now + 900))
            #expect(f.near(try await f.ttl(key), 600), "denying does not change the session's TTL")
            #expect(
                try await f.store.accessState(username: "ann", sessionID: "s1", tokenID: "a1", now: f.now)
                    == .tokenRevoked)
            #expect(
                try await f.store.accessState(username: "ann", sessionID: "s1", tokenID: "a2", now: f.now)
                    == .active(roles: []))
            // Expired denials are swept; past the cap, the session ends instead.
            try await f.store.denyAccessToken(
                username: "ann", sessionID: "s1", tokenID: "a2", expiresAt: f.now + 900, now: f.now + 901, maxDenied: 2)
            #expect(try await f.hash(key)["deny:a1"] == nil)
            try await f.store.denyAccessToken(
                username: "ann", sessionID: "s1", tokenID: "a3", expiresAt: f.now + 900, now: f.now, maxDenied: 2)
            try await f.store.denyAccessToken(
                username: "ann", sessionID: "s1", tokenID: "a4", expiresAt: f.now + 900, now: f.now, maxDenied: 2)
            #expect(try await f.exists(key) == false)
            #expect(
                try await f.store.accessState(username: "ann", sessionID: "s1", tokenID: "a5", now: f.now)
                    == .sessionEnded)
        }
    }

    /// A client's own token denied on its own is a field of the client's hash until it expires;
    /// past the cap, the secret the token was granted with is revoked instead, and the client's
    /// other secret and its tokens live on.
    @Test func aClientPastItsDenialCapLosesTheSecretInstead() async throws {
        try await Self.withStore { (f) async throws in
            let (_, first) = RegisteredClient.makeSecret(now: f.now)
            let (_, second) = RegisteredClient.makeSecret(now: f.now)
            #expect(
                try await f.store.createClient(
                    RegisteredClient(id: "svc", createdAt: f.now, permissions: [.token], secrets: [first])))
            #expect(try await f.store.addClientSecret(id: "svc", second) == .added)
            let key = f.keys.client("svc")
            func state(_ secret: RegisteredClient.Secret, _ token: String) async throws -> AccessState {
                try await f.store.clientAccessState(clientID: "svc", secretID: secret.id, tokenID: token)
            }
            #expect(try await state(first, "t1") == .active(roles: []))
            func deny(_ token: String, now: Int) async throws {
                try await f.store.denyClientToken(
                    clientID: "svc", secretID: first.id, tokenID: token, expiresAt: f.now + 300, now: now, maxDenied: 2)
            }
            try await deny("t1", now: f.now)
            #expect(try await f.hash(key)["deny:t1"] == String(f.now + 300))
            #expect(try await state(first, "t1") == .tokenRevoked)
            #expect(try await state(first, "t2") == .active(roles: []))
            // Expired denials are swept; past the cap, the first secret goes, not the client.
            try await deny("t2", now: f.now + 301)
            #expect(try await f.hash(key)["deny:t1"] == nil)
            try await deny("t3", now: f.now)
            try await deny("t4", now: f.now)
            let fields = try await f.hash(key)
            #expect(fields["secret:" + first.id] == nil && fields["secret:" + second.id] != nil)
            #expect(try await state(first, "t5") == .sessionEnded)
            #expect(try await state(second, "t6") == .active(roles: []))
            #expect(try await f.exists(key), "the client lives on")
        }
    }

    /// A session whose refresh token has expired is ended at once, before Redis deletes its key.
    @Test func aSessionPastItsRefreshExpiryIsEnded() async throws {
        try await Self.withStore { (f) async throws in
            _ = try await f.store.createUser(username: "ann", passwordHash: "h", now: f.now)
            _ = try await f.store.createSession(f.session("ann", "s1", refresh: 60), now: f.now, maxSessions: 10)
            #expect(
                try await f.store.accessState(username: "ann", sessionID: "s1", tokenID: "a", now: f.now + 59)
                    == .active(roles: []))
            #expect(
                try await f.store.accessState(username: "ann", sessionID: "s1", tokenID: "a", now: f.now + 60)
                    == .sessionEnded)
        }
    }

    // MARK: Throttling

    /// A failed attempt counts with the window's TTL; the attempt in flight has a key of its own
    /// (60 s), gone once the attempt ends. At the limit, the wait is the counter's TTL.
    @Test func attemptsLeaveCountersWithTheWindowsTTL() async throws {
        try await Self.withStore { (f) async throws in
            var policy = ThrottlePolicy()
            policy.userFromAddress = .init(failures: 2, windowSeconds: 300)
            let scope = ThrottleScope.password(username: "ann", ip: "192.0.2.7")
            let pair = f.keys.throttleUserFromAddress("ann", "192.0.2.7")
            let user = f.keys.throttleUser("ann")
            let address = f.keys.throttleAddress("192.0.2.7")
            #expect(try await f.store.takeAttempt(scope, policy: policy) == 0)
            for key in [pair, user, address] {
                #expect(try await f.redis.send("GET", [f.keys.running(key)]).string == "1")
                #expect(f.near(try await f.ttl(f.keys.running(key)), 60))
                #expect(try await f.exists(key) == false, "nothing failed yet")
            }
            try await f.store.finishAttempt(scope, policy: policy, failed: true)
            for (key, window) in [(pair, 300), (user, 900), (address, 900)] {
                #expect(try await f.exists(f.keys.running(key)) == false)
                #expect(try await f.redis.send("GET", [key]).string == "1")
                #expect(f.near(try await f.ttl(key), window))
            }
            #expect(try await f.store.takeAttempt(scope, policy: policy) == 0)
            try await f.store.finishAttempt(scope, policy: policy, failed: true)
            let wait = try await f.store.takeAttempt(scope, policy: policy)
            #expect(f.near(wait, 300), "refused for what is left of the window")
            #expect(try await f.redis.send("GET", [f.keys.running(user)]).string == nil, "a refusal takes nothing")
            // A success gives its attempt back and counts nothing.
            let other = ThrottleScope.password(username: "bob", ip: "192.0.2.8")
            #expect(try await f.store.takeAttempt(other, policy: policy) == 0)
            try await f.store.finishAttempt(other, policy: policy, failed: false)
            #expect(try await f.exists(f.keys.throttleUser("bob")) == false)
            #expect(try await f.exists(f.keys.running(f.keys.throttleUser("bob"))) == false)
        }
    }

    /// Names and addresses as the client sent them never reach a key name as they are.
    @Test func hostileNamesAndAddressesAreDigestedInKeys() {
        let keys = RedisKeys(prefix: "p:")
        #expect(keys.throttleUser("Ann") == "p:throttle:{ann}")
        let hostile = keys.throttleUserFromAddress("a}{b c", "1.2.3.4\r\nFLUSHALL")
        #expect(!hostile.contains(" ") && !hostile.contains("\r") && hostile.filter { $0 == "{" }.count == 1)
        #expect(hostile.hasPrefix("p:throttle:{-"))
    }
}
