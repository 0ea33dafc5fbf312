import AuthdApp
import Foundation
import NIOConcurrencyHelpers
import RedisClient
import RedisStore
import Synchronization
import TestSupport
import Testing

/// authd on a real 3-primary, 3-replica Redis Cluster: the whole flow with users on every shard,
/// slots migrated under load, and a primary killed under load. One at a time: each runs six
/// servers and steady traffic.
@Suite("authd on a Redis Cluster", .serialized)
struct RedisClusterServiceTests {
    static let password = "correct horse battery"

    /// Two instances of one deployment on `cluster`.
    static func startPair(
        _ cluster: RedisClusterProcess, configure: @escaping (inout AppConfiguration) -> Void = { _ in }
    ) async throws -> TestPair {
        let nodes = try cluster.configuration
        let secrets = TestSecrets()
        let prefix = TestRedis.uniquePrefix("cluster")
        let setUp: (inout AppConfiguration) -> Void = {
            $0.redis.cluster = nodes
            $0.auth.throttle.enabled = false
            $0.auth.maxSessionsPerUser = 1000
            configure(&$0)
        }
        let a = try await TestApp.start(secrets: secrets, prefix: prefix, configure: setUp)
        let b = try await TestApp.start(secrets: secrets, prefix: prefix, configure: setUp)
        return TestPair(a: a, b: b, prefix: prefix)
    }

    /// Users whose keys fall on every primary, `perShard` on each, signed up on `app`. Each
    /// primary's slots are read once, and the names' slots computed here.
    static func usersOnEveryShard(
        _ cluster: RedisClusterProcess, _ keys: RedisKeys, perShard: Int, tag: String, signUpOn app: TestApp
    ) async throws -> [String] {
        var owned: [(port: Int, slots: [ClosedRange<Int>])] = []
        for primary in try await cluster.primaries() { owned.append((primary.port, try await primary.ownSlots())) }
        var byPrimary: [Int: [String]] = [:]
        for index in 0..<200 {
            let name = "\(tag)\(index)"
            let slot = ClusterSlot.of(key: keys.user(name))
            guard let port = owned.first(where: { $0.slots.contains { $0.contains(slot) } })?.port else { continue }
            if byPrimary[port, default: []].count < perShard { byPrimary[port, default: []].append(name) }
            if byPrimary.count == 3, byPrimary.values.allSatisfy({ $0.count == perShard }) { break }
        }
        #expect(byPrimary.count == 3)
        let users = byPrimary.values.flatMap { $0 }.sorted()
        for user in users {
            #expect(
                try await app.client.json("POST", "/users", ["username": user, "password": Self.password]).status == 201
            )
        }
        return users
    }

    /// AUTHD_VERIFY_CACHE on a cluster (issue 18): users on every shard, each kind of revocation
    /// on one instance, and not one request accepted by the other after the revocation's answer.
    @Test func theVerifyCacheOnEveryShard() async throws {
        let cluster = try RedisClusterProcess()
        try await cluster.start()
        let pair = try await Self.startPair(cluster) { VerifyCacheTests.cacheOn(&$0) }
        try await withTeardown({ await pair.stop() }) {
            let (a, b) = (pair.a, pair.b)
            let users = try await Self.usersOnEveryShard(
                cluster, RedisKeys(prefix: pair.prefix), perShard: 4, tag: "cached", signUpOn: a)
            let statuses = try await inParallel(users.count) { index -> [Int] in
                var password = Self.password
                var seen: [Int] = []
                for round in 0..<4 {
                    let (revoker, verifier) = round % 2 == 0 ? (a, b) : (b, a)
                    let kind = VerifyCacheTests.Revocation.allCases[(index + round) % 4]
                    seen += try await VerifyCacheTests.round(
                        users[index], &password, kind, revoker: revoker, verifier: verifier)
                }
                return seen
            }.flatMap { $0 }
            #expect(statuses.count == users.count * 4 * 2)
            #expect(
                statuses.allSatisfy { $0 == 401 },
                "after revocation: \(Dictionary(grouping: statuses, by: { $0 }).mapValues(\.count))")
            for app in [a, b] {
                #expect(app.application.redis.trackingUp() == true, "a tracking pair up on each primary read")
                #expect((app.application.redis.cacheStatistics()?.hits ?? 0) > 0)
            }
        }
    }

    @Test func theWholeFlowWithUsersOnEveryShard() async throws {
        let cluster = try RedisClusterProcess()
        try await cluster.start()
        let pair = try await Self.startPair(cluster)
        try await withTeardown({ await pair.stop() }) {
            let (a, b) = (pair.a, pair.b)
            let keys = RedisKeys(prefix: pair.prefix)
            let users = try await Self.usersOnEveryShard(cluster, keys, perShard: 2, tag: "flow", signUpOn: a)
            for user in users {
                let first = try await a.logIn(user)
                let second = try await b.logIn(user)
                #expect(first.status == 200 && second.status == 200)
                // Verify on the other instance; refresh there; the rotated token is refused.
                #expect(try await b.client.get("/me", bearer: first["accessToken"]).status == 200)
                let rotated = try await b.client.json("POST", "/token", ["token": second["refreshToken"]!])
                #expect(rotated.status == 200)
                let listed = try await a.client.get("/sessions", bearer: rotated["accessToken"])
                #expect((listed.json["sessions"] as? [Any])?.count == 2, "\(listed.text)")
                // The keys are on the user's primary, with TTLs.
                let primary = try await cluster.primary(for: keys.user(user))
                let sessionID = try #require(try await a.client.get("/me", bearer: first["accessToken"])["sessionId"])
                let ttl =
                    Int(
                        try await primary.cli(["ttl", keys.session(user, sessionID)]).trimmingCharacters(
                            in: .whitespacesAndNewlines)) ?? -9
                #expect(ttl > 0, "TTL \(ttl) of \(user)'s session on its primary")
                // Logout on one instance is seen at once on the other.
                #expect(try await b.client.json("DELETE", "/logout", ["token": first["refreshToken"]!]).status == 204)
                #expect(try await a.client.get("/me", bearer: first["accessToken"]).status == 401)
                #expect(try await primary.cli(["exists", keys.session(user, sessionID)]).contains("0"))
                // A password change ends every session left.
                let third = try await a.logIn(user)
                let changed = try await b.client.request(
                    "POST", "/password",
                    headers: [
                        ("authorization", "Bearer \(rotated["accessToken"]!)"), ("content-type", "application/json"),
                    ],
                    body: Array(#"{"oldPassword":"\#(Self.password)","newPassword":"another horse battery"}"#.utf8))
                #expect(changed.status == 204, "\(changed.text)")
                #expect(try await a.client.get("/me", bearer: third["accessToken"]).status == 401)
                #expect(try await b.client.json("POST", "/token", ["token": third["refreshToken"]!]).status == 400)
                #expect(try await primary.cli(["exists", keys.sessions(user)]).contains("0"))
                #expect(try await a.logIn(user, password: "another horse battery").status == 200)
            }
            // The events are spread over 16 shards by user (docs/EVENTS.md): the shards used are
            // on more than one primary, and each user's events are all in one of them; the
            // revocation feed is one key.
            let client = a.application.redis
            let streams = try await client.scanAll(match: pair.prefix + "events:*")
            #expect(streams.count > 1 && streams.allSatisfy { (0..<16).map(keys.events(shard:)).contains($0) })
            var owners: Set<Int> = []
            for stream in streams { owners.insert(try await cluster.primary(for: stream).port) }
            #expect(owners.count > 1, "the events of \(users.count) users on \(owners.count) primary")
            for user in users {
                var holding = 0
                for stream in streams {
                    let entries = try await client.send("XRANGE", [stream, "-", "+"]).array ?? []
                    let named = entries.contains { entry in
                        entry.array?.last?.array?.compactMap(\.string).contains(user) == true
                    }
                    if named { holding += 1 }
                }
                #expect(holding == 1, "\(user)'s events are in \(holding) shards")
            }
            #expect(try await client.send("XLEN", [keys.feed]).int ?? 0 >= users.count * 2)
        }
    }

    /// The count of redirections of `kind` followed, from `/metrics`. The metrics registry is the
    /// test process's (`testMetrics`), so either instance reports both instances' redirections.
    static func redirections(_ app: TestApp, _ kind: String) async throws -> Int {
        let prefix = #"authd_redis_cluster_redirections_total{kind=""# + kind + #""} "#
        let line = try await app.client.get("/metrics").text.split(separator: "\n").first { $0.hasPrefix(prefix) }
        return line.flatMap { Int($0.dropFirst(prefix.count)) } ?? 0
    }

    /// A run of traffic against two instances: per round, for each user, a login, a verify, a
    /// refresh, a logout, and the verify and refresh after it, which must be refused. Returns every
    /// status seen and the count of revoked tokens accepted.
    static func traffic(_ pair: TestPair, users: [String], until done: @escaping @Sendable () -> Bool) async throws -> (
        statuses: [Int: Int], revokedAccepted: Int, rounds: Int
    ) {
        let results = try await inParallel(users.count) { index in
            let user = users[index]
            let apps = [pair.a, pair.b]
            var statuses: [Int: Int] = [:]
            var revokedAccepted = 0
            var rounds = 0
            var turn = index
            while !done(), !Task.isCancelled {
                turn += 1
                let (one, other) = (apps[turn % 2], apps[(turn + 1) % 2])
                let login = try await one.logIn(user)
                statuses[login.status, default: 0] += 1
                guard login.status == 200, let access = login["accessToken"], let refresh = login["refreshToken"] else {
                    continue
                }
                statuses[try await other.client.get("/me", bearer: access).status, default: 0] += 1
                let rotated = try await other.client.json("POST", "/token", ["token": refresh])
                statuses[rotated.status, default: 0] += 1
                let current = rotated["refreshToken"] ?? refresh
                let logout = try await one.client.json("DELETE", "/logout", ["token": current])
                statuses[logout.status, default: 0] += 1
                if logout.status == 204 {
                    // Acknowledged: the session's tokens are dead on both instances, at once.
                    for app in apps {
                        if try await app.client.get("/me", bearer: rotated["accessToken"] ?? access).status == 200 {
                            revokedAccepted += 1
                        }
                        if try await app.client.json("POST", "/token", ["token": current]).status == 200 {
                            revokedAccepted += 1
                        }
                    }
                }
                rounds += 1
            }
            return (statuses, revokedAccepted, rounds)
        }
        var statuses: [Int: Int] = [:]
        for result in results { statuses.merge(result.0, uniquingKeysWith: +) }
        return (statuses, results.map(\.1).reduce(0, +), results.map(\.2).reduce(0, +))
    }

    /// `redis-cli --cluster reshard` moves a third of the slots from one primary to another while
    /// six clients run the whole flow: redirections are followed, nothing fails, nothing revoked
    /// is accepted.
    @Test func slotsMigratedLiveUnderLoad() async throws {
        let cluster = try RedisClusterProcess()
        try await cluster.start()
        let pair = try await Self.startPair(cluster)
        try await withTeardown({ await pair.stop() }) {
            let keys = RedisKeys(prefix: pair.prefix)
            let users = try await Self.usersOnEveryShard(cluster, keys, perShard: 2, tag: "moving", signUpOn: pair.a)
            let primaries = try await cluster.primaries()
            let source = try await cluster.primary(for: keys.user(users[0]))
            let target = try #require(primaries.first { $0.port != source.port })
            let finished = Flag()
            async let load = Self.traffic(pair, users: users, until: { finished.isSet })
            // Declared after the load, so run before its implicit await when a check below throws.
            defer { finished.set() }
            // First one slot, moved by hand as `reshard` does, but held half-moved until the
            // traffic has met it: users[0]'s account is on the target, its sessions still on the
            // source. Its requests are answered through ASK (one key moved) and TRYAGAIN (a
            // script's keys split), which the metrics count.
            let slot = String(ClusterSlot.of(key: keys.user(users[0])))
            let (sourceID, targetID) = (try await source.clusterID(), try await target.clusterID())
            let asked = try await Self.redirections(pair.a, "ask")
            _ = try await target.cli(["cluster", "setslot", slot, "importing", sourceID])
            _ = try await source.cli(["cluster", "setslot", slot, "migrating", targetID])
            _ = try await source.cli([
                "migrate", "127.0.0.1", String(target.port), "", "0", "5000", "keys", keys.user(users[0]),
            ])
            try await waitUntil(within: .seconds(60), every: .milliseconds(50), "no ASK followed") {
                try await Self.redirections(pair.a, "ask") > asked
            }
            while true {
                let left = try await source.cli(["cluster", "getkeysinslot", slot, "100"])
                    .split(separator: "\n").map(String.init)
                if left.isEmpty { break }
                _ = try await source.cli(["migrate", "127.0.0.1", String(target.port), "", "0", "5000", "keys"] + left)
            }
            for node in primaries { _ = try await node.cli(["cluster", "setslot", slot, "node", targetID]) }
            // Then a third of all slots, by redis-cli, as an operator would.
            let (status, output) = try await RedisClusterProcess.clusterCommand([
                "reshard", "127.0.0.1:\(source.port)", "--cluster-from", sourceID, "--cluster-to", targetID,
                "--cluster-slots", "5461", "--cluster-yes", "--cluster-pipeline", "10",
            ])
            #expect(status == 0, "\(output.suffix(800))")
            // The moved users' keys are on the target now, and the clients were told (MOVED).
            #expect(try await cluster.primary(for: keys.user(users[0])).port == target.port)
            #expect(try await Self.redirections(pair.a, "moved") > 0)
            finished.set()
            let (statuses, revokedAccepted, rounds) = try await load
            print("resharding 5461 slots under load: \(rounds) rounds, statuses \(statuses.sorted { $0.key < $1.key })")
            #expect(rounds > 0)
            #expect(revokedAccepted == 0)
            // Only the flow's own answers: 200 login/verify/refresh, 204 logout. Refusals of
            // revoked tokens are counted apart above and never reach this tally.
            #expect(Set(statuses.keys).isSubset(of: [200, 204]), "\(statuses)")
        }
    }

    /// A primary is killed under load with `AUTHD_REDIS_WAIT_REPLICAS=1`: its users get 503 until
    /// its replica takes over, then service again without a restart; the other shards never stop;
    /// every acknowledged logout holds afterwards.
    @Test func aPrimaryKilledUnderLoad() async throws {
        // The node timeout stays at 5 s: with 2 s, a loaded machine (the whole suite at once) made
        // nodes miss each other's heartbeats, and a failover came before the test's own.
        let cluster = try RedisClusterProcess()
        try await cluster.start()
        let pair = try await Self.startPair(cluster) {
            $0.durability = RedisAuthStore.Durability(replicas: 1, timeoutMilliseconds: 1000)
            $0.redis.connectTimeout = .milliseconds(500)
            // Events off: a logout's events are written before its answer, to the user's event
            // shard and to the one feed stream, which may live on the primary killed here; then
            // every logout answers 503 until the failover (docs/EVENTS.md, on a Cluster). This
            // test is of the sessions' shards.
            $0.events = nil
        }
        try await withTeardown({ await pair.stop() }) {
            let keys = RedisKeys(prefix: pair.prefix)
            let users = try await Self.usersOnEveryShard(cluster, keys, perShard: 2, tag: "failing", signUpOn: pair.a)
            // Sessions to log out during the outage, on every shard.
            var opened: [(user: String, access: String, refresh: String)] = []
            for user in users {
                for _ in 0..<6 {
                    let login = try await pair.b.logIn(user)
                    let (access, refresh) = (login["accessToken"], login["refreshToken"])
                    try #require(access != nil && refresh != nil, "login answered \(login.status): \(login.text)")
                    opened.append((user, access!, refresh!))
                }
            }
            let sessions = opened
            // A session of each user that stays, for the verifies after the cluster heals.
            var watchers: [String] = []
            for user in users { watchers.append(try #require(try await pair.a.logIn(user)["accessToken"])) }
            let victim = try await cluster.primary(for: keys.user(users[0]))
            let clock = ContinuousClock()
            let start = clock.now
            // Logouts, one every 100 ms: the pace is the load's shape, so that logouts go on through
            // the failover. The primary dies once 8 of them have been answered.
            let answered = NIOLockedValueBox(0)
            async let logouts = inParallel(sessions.count) { index in
                try await Task.sleep(for: .milliseconds(100 * index))
                let response = try await [pair.a, pair.b][index % 2].client.json(
                    "DELETE", "/logout", ["token": sessions[index].refresh])
                answered.withLockedValue { $0 += 1 }
                return (status: response.status, at: clock.now - start)
            }
            try await waitUntil(within: .seconds(30), "no logout answered before the kill") {
                answered.withLockedValue { $0 } >= 8
            }
            victim.kill()
            // Its replica is promoted once the others agree it failed (node timeout 5 s).
            try await waitUntil(within: .seconds(60), every: .milliseconds(100)) {
                try await cluster.primaries().count == 3
            }
            let promoted = clock.now - start
            // The old primary comes back as its replica's replica: WAIT 1 can be met again.
            try await victim.start()
            try await cluster.waitUntilHealthy()
            let results = try await logouts
            // Service again without a restart, on the failed shard too: a login and an acknowledged
            // logout (a replica of the new primary has it) within 30 s of the cluster's healing.
            try await waitUntil(within: .seconds(30), every: .milliseconds(200), "no service on the failed shard") {
                let again = try await pair.a.logIn(users[0])
                guard let refresh = again["refreshToken"] else { return false }
                return try await pair.b.client.json("DELETE", "/logout", ["token": refresh]).status == 204
            }
            let healed = clock.now - start
            // Issue 28, item 11: once the shard serves again, 100 verifies in a row, spread over
            // every shard and both instances, get no 503 (2 of 9 did, in a review's probe).
            var afterHealing: [Int: Int] = [:]
            for index in 0..<100 {
                let status = try await [pair.a, pair.b][index % 2].client.get(
                    "/me", bearer: watchers[index % watchers.count]
                ).status
                afterHealing[status, default: 0] += 1
            }
            #expect(afterHealing == [200: 100], "after healing: \(afterHealing)")
            var lost = 0
            for (index, result) in results.enumerated() where result.status == 204 {
                for app in [pair.a, pair.b]
                where try await app.client.get("/me", bearer: sessions[index].access).status != 401 {
                    lost += 1
                }
            }
            let counts = Dictionary(grouping: results, by: \.status).mapValues(\.count)
            print(
                "primary killed under load: promoted at \(promoted), the shard serving again at \(healed), logouts \(counts), acknowledged and lost: \(lost)"
            )
            #expect(lost == 0)
            #expect(Set(counts.keys).isSubset(of: [204, 503]), "\(counts)")
            // Shards that did not fail kept acknowledging logouts.
            #expect((counts[204] ?? 0) > sessions.count / 3)
        }
    }
}

/// A flag one task sets and others read.
final class Flag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { self.value.withLock { $0 } }
    func set() { self.value.withLock { $0 = true } }
}
