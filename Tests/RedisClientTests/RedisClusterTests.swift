import Foundation
import RedisClient
import TestSupport
import Testing

/// The client's cluster mode against a real 3-primary, 3-replica Redis Cluster on loopback.
/// One test at a time: six servers each, beside the rest of the suite, loaded the machine enough
/// that other suites' time bounds failed.
@Suite("Redis Cluster client", .serialized)
struct RedisClusterTests {
    static func client(_ cluster: RedisClusterProcess) throws -> RedisClient {
        var configuration = try TestRedis.configuration()
        configuration.cluster = try cluster.configuration
        return try TestRedis.makeClient(configuration)
    }

    @Test func slotsAreRedisSlots() async throws {
        // The CRC16 check value of the XMODEM variant Redis uses.
        #expect(ClusterSlot.of(key: "123456789") == 0x31C3 & 0x3FFF)
        let node = try RedisServerProcess(extraArguments: [
            "--cluster-enabled", "yes", "--cluster-port", String(try freePort()),
        ])
        try await node.start()
        // Hash tags, empty tags, nested braces, and authd's own keys; Redis has the last word.
        for key in [
            "foo", "{user1000}.following", "{user1000}.followers", "foo{}{bar}", "foo{{bar}}zap", "foo{bar}{zap}",
            "{}", "}{", "authd:session:{alice}:0123", "authd:throttle:ip:{10.0.0.1}", "ünïcødé", "",
        ] {
            let expected = try await node.cli(["cluster", "keyslot", key]).trimmingCharacters(
                in: .whitespacesAndNewlines)
            #expect(String(ClusterSlot.of(key: key)) == expected, "\(key)")
        }
    }

    @Test func commandsAndPipelinesGoToEachKeysPrimary() async throws {
        let cluster = try RedisClusterProcess()
        try await cluster.start()
        let client = try Self.client(cluster)
        try await withTeardown({ await client.shutdown() }) {
            let keys = (0..<300).map { "spread:\($0)" }
            for key in keys.prefix(150) { try await client.send("SET", [key, "v-" + key]) }
            // A pipeline across the three shards: split by node, replies in the callers' order.
            let replies = try await client.pipeline(
                keys.suffix(150).map { RedisCommand("SET", [$0, "v-" + $0]) } + keys.map { RedisCommand("GET", [$0]) })
            #expect(replies.prefix(150).allSatisfy { $0.string == "OK" })
            #expect(Array(replies.suffix(300)).map(\.string) == keys.map { "v-" + $0 })
            // Each key is where Redis says it belongs, and every primary holds some.
            var perPrimary: [Int] = []
            for primary in try await cluster.primaries() {
                perPrimary.append(
                    Int(try await primary.cli(["dbsize"]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0)
            }
            #expect(
                perPrimary.count == 3 && perPrimary.allSatisfy { $0 > 50 } && perPrimary.reduce(0, +) == 300,
                "\(perPrimary)")
            let sample = try await cluster.primary(for: "spread:7")
            #expect(try await sample.cli(["get", "spread:7"]).contains("v-spread:7"))
            // A keyless command goes with the keyed one before it, to the same node.
            let script = RedisScript("return redis.call('INCR', KEYS[1])")
            try await client.scriptLoad(script)
            let paired = try await client.pipeline([
                script.evalSHA(keys: ["spread:counter"], arguments: []), RedisCommand("WAIT", ["0", "0"]),
            ])
            #expect(paired.first?.int == 1 && paired.last?.int == 0, "\(paired)")
            // A multi-key command across slots is the caller's error, reported as Redis says it.
            await #expect(throws: RedisServerError.self) { try await client.send("DEL", ["spread:1", "spread:2"]) }
        }
    }

    /// One slot moved by hand, step by step as `redis-cli --cluster reshard` does: while it is
    /// migrating, a key already moved is answered through `ASK`; once moved, through `MOVED`.
    @Test func followsAskThenMoved() async throws {
        let cluster = try RedisClusterProcess()
        try await cluster.start()
        let client = try Self.client(cluster)
        try await withTeardown({ await client.shutdown() }) {
            try await client.send("SET", ["{moving}:a", "1"])
            try await client.send("SET", ["{moving}:b", "2"])
            let slot = ClusterSlot.of(key: "{moving}:a")
            let source = try await cluster.primary(for: "{moving}:a")
            let primaries = try await cluster.primaries()
            let target = try #require(primaries.first { $0.port != source.port })
            let (sourceID, targetID) = (try await source.clusterID(), try await target.clusterID())
            _ = try await target.cli(["cluster", "setslot", String(slot), "importing", sourceID])
            _ = try await source.cli(["cluster", "setslot", String(slot), "migrating", targetID])
            let migrated = try await source.cli([
                "migrate", "127.0.0.1", String(target.port), "", "0", "5000", "keys", "{moving}:a",
            ])
            #expect(migrated.contains("OK"), "\(migrated)")
            // {moving}:a is on the target now: the source answers ASK.
            #expect(try await client.send("GET", ["{moving}:a"]).string == "1")
            #expect(try await client.send("GET", ["{moving}:b"]).string == "2")
            let asked = try await client.pipeline([
                RedisCommand("GET", ["{moving}:a"]), RedisCommand("GET", ["{moving}:b"]),
            ])
            #expect(asked.map(\.string) == ["1", "2"])
            _ = try await source.cli([
                "migrate", "127.0.0.1", String(target.port), "", "0", "5000", "keys", "{moving}:b",
            ])
            for node in primaries {
                _ = try await node.cli(["cluster", "setslot", String(slot), "node", targetID])
            }
            // The slot is the target's: the client's map is stale, the source answers MOVED.
            #expect(try await client.send("GET", ["{moving}:b"]).string == "2")
            #expect(try await client.send("INCR", ["{moving}:a"]).int == 2)
            #expect(try await target.cli(["get", "{moving}:a"]).contains("2"))
        }
    }

    /// `tls-cluster yes`: the nodes speak TLS to each other and announce their TLS ports, and the
    /// client reaches every primary over TLS, verified against the test's CA.
    @Test func overTLS() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let cluster = try RedisClusterProcess(tls: certificates)
        try await cluster.start()
        var configuration = try TestRedis.configuration(url: "rediss://127.0.0.1")
        configuration.tls = try RedisTLS(caFile: certificates.ca)
        configuration.cluster = try cluster.configuration
        let client = try TestRedis.makeClient(configuration)
        try await withTeardown({ await client.shutdown() }) {
            let keys = (0..<60).map { "tls:\($0)" }
            let replies = try await client.pipeline(
                keys.map { RedisCommand("SET", [$0, $0]) } + keys.map { RedisCommand("GET", [$0]) })
            #expect(Array(replies.suffix(60)).map(\.string) == keys)
            // Every primary holds some, and authd's connections to them are TLS ones.
            for primary in try await cluster.primaries() {
                #expect(Int(try await primary.cli(["dbsize"]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 > 0)
                let tlsPort = try #require(primary.tlsPort)
                let clients = try await primary.cli(["client", "list"])
                let overTLS = clients.split(separator: "\n").contains {
                    $0.contains("laddr=127.0.0.1:\(tlsPort) ") && $0.contains("name=authd ")
                }
                #expect(overTLS, "\(clients)")
            }
        }
    }

    @Test func aClusterThatCannotBeReachedFailsFastAsUnavailable() async throws {
        var configuration = try TestRedis.configuration()
        configuration.cluster = ClusterConfiguration(nodes: [.init(host: "127.0.0.1", port: try freePort())])
        configuration.connectTimeout = .milliseconds(500)
        let client = try TestRedis.makeClient(configuration)
        try await withTeardown({ await client.shutdown() }) {
            let started = ContinuousClock.now
            await #expect(throws: RedisClientError.unavailable) { try await client.send("GET", ["x"]) }
            // Bounded by the command timeout (10 s here), never a hang.
            #expect(ContinuousClock.now - started < .seconds(30))
        }
    }
}
