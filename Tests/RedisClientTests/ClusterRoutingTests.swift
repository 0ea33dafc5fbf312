import NIOCore
import Testing

@testable import RedisClient

/// The cluster client's parts without a cluster: the slot map and its versions, `CLUSTER SLOTS`
/// parsing, redirections, when the map is read again, and how a batch is split. The client
/// against a real cluster is `RedisClusterTests`'.
@Suite("Cluster routing, without a cluster")
struct ClusterRoutingTests {
    static let a = ClusterNode(host: "10.0.0.1", port: 7000)
    static let b = ClusterNode(host: "10.0.0.2", port: 7001)

    static func bulk(_ text: String) -> RedisValue { .bulkString(Array(text.utf8)) }

    /// One `CLUSTER SLOTS` entry: `[start, end, [host, port, id], [replica...]]`.
    static func entry(_ start: Int, _ end: Int, _ host: String, _ port: Int) -> RedisValue {
        .array([
            .integer(start), .integer(end), .array([Self.bulk(host), .integer(port), Self.bulk("id")]),
            .array([Self.bulk("10.0.0.9"), .integer(7009), Self.bulk("replica")]),
        ])
    }

    // MARK: The slot map

    @Test func theMapAnswersBySlotAndCountsItsChanges() {
        var map = ClusterSlotMap()
        #expect(!map.isKnown && map.version == 0 && map[slot: 0] == nil)
        let halves = [
            ClusterSlotRange(slots: 0...8191, primary: Self.a), ClusterSlotRange(slots: 8192...16383, primary: Self.b),
        ]
        do {
            let changed = map.replace(with: halves)
            #expect(changed)
        }
        #expect(map.isKnown && map.version == 1)
        #expect(map[slot: 0] == Self.a && map[slot: 8191] == Self.a && map[slot: 8192] == Self.b)
        #expect(map.primaries == [Self.a, Self.b] && map.slotsCovered == ClusterSlot.count)
        // The same map again is no change; a MOVED to the owner it has is none either.
        do {
            let changed = map.replace(with: halves)
            #expect(!changed)
        }
        do {
            let changed = map.move(slot: 5, to: Self.a)
            #expect(!changed)
        }
        #expect(map.version == 1)
        do {
            let changed = map.move(slot: 5, to: Self.b)
            #expect(changed)
        }
        #expect(map[slot: 5] == Self.b && map.version == 2)
        // A map that leaves slots unserved (a shard down).
        do {
            let changed = map.replace(with: [ClusterSlotRange(slots: 0...99, primary: Self.a)])
            #expect(changed)
        }
        #expect(map.slotsCovered == 100 && map[slot: 100] == nil && map.primaries == [Self.a] && map.version == 3)
    }

    @Test func clusterSlotsIsParsedAndAnEmptyHostIsTheNodeThatReplied() throws {
        let reply = RedisValue.array([Self.entry(0, 5460, "10.0.0.1", 7000), Self.entry(5461, 16383, "", 7001)])
        let ranges = try ClusterSlotRange.parse(clusterSlots: reply, from: ClusterNode(host: "10.0.0.2", port: 7005))
        #expect(
            ranges == [
                ClusterSlotRange(slots: 0...5460, primary: Self.a),
                ClusterSlotRange(slots: 5461...16383, primary: ClusterNode(host: "10.0.0.2", port: 7001)),
            ])
        let question = RedisValue.array([Self.entry(0, 16383, "?", 7001)])
        #expect(try ClusterSlotRange.parse(clusterSlots: question, from: Self.b).first?.primary == Self.b)
    }

    @Test(arguments: [
        RedisValue.array([]),
        .null,
        .array([ClusterRoutingTests.entry(5, 4, "h", 1)]),
        .array([ClusterRoutingTests.entry(0, 16384, "h", 1)]),
        .array([ClusterRoutingTests.entry(-1, 10, "h", 1)]),
        .array([ClusterRoutingTests.entry(0, 10, "h", 0)]),
        .array([ClusterRoutingTests.entry(0, 10, "h", 70000)]),
        .array([.array([.integer(0), .integer(10)])]),
        .array([.array([.integer(0), .integer(10), .array([ClusterRoutingTests.bulk("h")])])]),
    ])
    func aMalformedClusterSlotsIsRefused(reply: RedisValue) {
        #expect(throws: RedisClientError.self) { try ClusterSlotRange.parse(clusterSlots: reply, from: Self.a) }
    }

    // MARK: Redirections

    @Test func redirectionsAreRead() {
        func read(_ message: String) -> Redirection? { Redirection(RedisServerError(message: message), from: Self.a) }
        #expect(read("MOVED 3999 10.0.0.2:7001") == .moved(slot: 3999, Self.b))
        #expect(read("ASK 3999 10.0.0.2:7001") == .ask(Self.b))
        #expect(
            read("MOVED 1 :7001") == .moved(slot: 1, ClusterNode(host: "10.0.0.1", port: 7001)), "the node replying")
        #expect(read("MOVED 1 ::1:7001") == .moved(slot: 1, ClusterNode(host: "::1", port: 7001)), "IPv6")
        #expect(read("TRYAGAIN Multiple keys request during rehashing of slot") == .retryLater)
        #expect(read("CLUSTERDOWN The cluster is down") == .retryLater)
        #expect(read("MOVED 3999 10.0.0.2:7001")?.kind == "moved")
    }

    @Test(arguments: [
        "MOVED 16384 10.0.0.2:7001", "MOVED -1 10.0.0.2:7001", "MOVED x 10.0.0.2:7001", "MOVED 1 10.0.0.2",
        "MOVED 1 10.0.0.2:port", "MOVED 1 10.0.0.2:0", "MOVED 1", "ASK 1 10.0.0.2:7001 extra", "ERR wrong",
        "NOSCRIPT No matching script",
    ])
    func otherErrorsAreNoRedirection(message: String) {
        #expect(Redirection(RedisServerError(message: message), from: Self.a) == nil)
    }

    // MARK: When the map is read again

    @Test func oneRefreshAtATimeAndNotTooOften() {
        var refresh = ClusterRefresh<Int>()
        let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
        guard case .start = refresh.requested(at: t0) else { Issue.record("the first starts"); return }
        refresh.started(1)
        guard case .join(1) = refresh.requested(at: t0, unlessWithin: .milliseconds(100)) else {
            Issue.record("a caller during one joins it")
            return
        }
        refresh.ended(at: t0)
        guard case .recent = refresh.requested(at: t0 + .milliseconds(50), unlessWithin: .milliseconds(100)) else {
            Issue.record("on demand, at most once per 100 ms")
            return
        }
        guard case .start = refresh.requested(at: t0 + .milliseconds(50)) else {
            Issue.record("the periodic refresh is not held back")
            return
        }
        guard case .start = refresh.requested(at: t0 + .milliseconds(150), unlessWithin: .milliseconds(100)) else {
            Issue.record("past the age, a new one starts")
            return
        }
        refresh.started(2)
        refresh.shutDown()
        guard case .shutDown = refresh.requested(at: t0 + .seconds(1)) else {
            Issue.record("none after shutdown")
            return
        }
    }

    // MARK: Batches

    @Test func aBatchIsSplitIntoRunsByKey() {
        let commands = [
            RedisCommand("PING"),
            RedisCommand("HSET", ["{alice}:a", "f", "v"]),
            RedisCommand("WAIT", ["1", "100"]),
            RedisCommand("EVALSHA", ["sha", "2", "{bob}:x", "{bob}:y"]),
            RedisCommand("EVALSHA", ["sha", "0"]),
            RedisCommand("GET", ["{alice}:b"]),
        ]
        #expect(
            ClusterRun.split(commands) == [
                ClusterRun(range: 0..<3, slot: ClusterSlot.of(key: "alice")),
                ClusterRun(range: 3..<5, slot: ClusterSlot.of(key: "bob")),
                ClusterRun(range: 5..<6, slot: ClusterSlot.of(key: "alice")),
            ])
        #expect(
            ClusterRun.split([RedisCommand("PING"), RedisCommand("TIME")]) == [ClusterRun(range: 0..<2, slot: nil)])
        #expect(ClusterRun.split([]).isEmpty)
    }
}
