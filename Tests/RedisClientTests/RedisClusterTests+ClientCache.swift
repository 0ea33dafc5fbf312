import Foundation
import NIOCore
import TestSupport
import Testing

@testable import RedisClient

extension RedisClusterTests {
    /// A client with the cache on `cluster`, a plain one that plays the other instances' writes,
    /// and a read of field `f` through the cache.
    static func withCachingClient(
        on cluster: RedisClusterProcess, coherence: CoherenceConfiguration? = nil,
        _ body: (RedisClient, RedisClient, @escaping @Sendable (String) async throws -> String?) async throws -> Void
    ) async throws {
        var configuration = try TestRedis.configuration()
        configuration.cluster = try cluster.configuration
        configuration.coherence = coherence
        configuration.clientSideCache = ClientSideCacheConfiguration()
        let client = try TestRedis.makeClient(configuration)
        configuration.clientSideCache = nil
        let writer = try TestRedis.makeClient(configuration)
        try await withTeardown({
            await client.shutdown()
            await writer.shutdown()
        }) {
            try await body(client, writer) { key in
                try await client.cachedSend(RedisCommand("HMGET", [key, "f"])).array?.first?.string
            }
        }
    }

    /// The revocation barrier on a cluster (issue 27): each primary's tracking link registers and
    /// answers the marker published on its own node, behind that node's invalidations; a barrier
    /// after writes on every shard returns with every link acknowledged and nothing stale kept.
    @Test func aBarrierIsAcknowledgedByTheLinkOfEveryPrimary() async throws {
        let cluster = try RedisClusterProcess()
        try await cluster.start()
        var coherence = CoherenceConfiguration(channel: "barrier", registryKey: "{barrier}:members")
        coherence.lease = .seconds(5)
        try await Self.withCachingClient(on: cluster, coherence: coherence) { client, writer, read in
            let cache = try #require(client.tracking).cache
            let keys = (0..<30).map { "{barrier\($0)}:k" }
            for key in keys { try await writer.send("HSET", [key, "f", "v1"]) }
            for key in keys { _ = try await read(key) }
            let primaries = try await cluster.primaries().count
            try await waitUntil(within: .seconds(30), "a leased tracking link on each primary") {
                keys.allSatisfy { client.trackingLink(forKey: Array($0.utf8))?.mayServe == true }
                    && writer.barrierReady() == true
            }
            for key in keys { #expect(try await read(key) == "v1") }
            #expect(cache.count == keys.count)
            for key in keys { try await writer.send("HSET", [key, "f", "v2"]) }
            let outcome = try #require(try await writer.barrier())
            #expect(outcome.registered == primaries)
            #expect(outcome.acknowledged == primaries)
            #expect(cache.count == 0, "every invalidation was applied before its node's acknowledgement")
            for key in keys { #expect(try await read(key) == "v2") }
        }
    }

    /// The barrier when the registry's shard is down and the written key's is up: it cannot learn
    /// who caches, so it waits out its lease (which is enough: see docs/REVOCATION-BARRIER.md)
    /// instead of failing the revocation.
    @Test func aBarrierWhoseRegistryShardIsDownWaitsOutTheLease() async throws {
        let cluster = try RedisClusterProcess()
        try await cluster.start()
        var configuration = try TestRedis.configuration()
        configuration.cluster = try cluster.configuration
        configuration.commandTimeout = .seconds(1)
        var coherence = CoherenceConfiguration(channel: "fallback", registryKey: "{fallback}:members")
        coherence.lease = .seconds(1)
        configuration.coherence = coherence
        let writer = try TestRedis.makeClient(configuration)
        try await withTeardown({ await writer.shutdown() }) {
            let registryNode = try await cluster.primary(for: coherence.registryKey)
            var key = ""
            for index in 0..<100 where key.isEmpty {
                if try await cluster.primary(for: "{other\(index)}:k").port != registryNode.port {
                    key = "{other\(index)}:k"
                }
            }
            try await writer.send("SET", [key, "v1"])
            #expect(try #require(try await writer.barrier()).registered == 0)
            registryNode.kill()
            // Before the registry's replica is promoted (the node timeout is 5 s).
            try await writer.send("SET", [key, "v2"])
            let started = ContinuousClock.now
            let outcome = try #require(try await writer.barrier())
            #expect(outcome.registered == 0 && outcome.acknowledged == 0)
            // At least the lease; the failed registry read may add up to the command timeout.
            #expect(ContinuousClock.now - started >= .milliseconds(950))
            try await registryNode.start()
        }
    }

    /// The client-side cache (issue 18): a tracking pair per primary, the overtaking race on a
    /// shard, and a slot moved by hand under a cached key. In this suite, so that no other cluster
    /// runs beside it.
    @Test func theCacheTracksEachPrimaryAndAMovedSlotLeavesNothingStale() async throws {
        let cluster = try RedisClusterProcess()
        try await cluster.start()
        try await Self.withCachingClient(on: cluster) { client, writer, read in
            let cache = try #require(client.tracking).cache
            // Keys on every primary, each read twice: the second from the cache.
            let keys = (0..<30).map { "{spread\($0)}:k" }
            for key in keys { try await writer.send("HSET", [key, "f", "v1"]) }
            for key in keys { _ = try await read(key) }
            try await waitUntil(within: .seconds(30), "a tracking pair on each primary") {
                keys.allSatisfy { client.trackingLink(forKey: Array($0.utf8))?.isUp == true }
            }
            for key in keys { #expect(try await read(key) == "v1") }
            let before = cache.statistics
            for key in keys { #expect(try await read(key) == "v1") }
            #expect(cache.statistics.hits - before.hits == keys.count)
            // Writes from another client, on every shard, invalidate through each node's subscriber.
            for key in keys { try await writer.send("HSET", [key, "f", "v2"]) }
            for key in keys {
                try await waitUntil(within: .seconds(10), "\(key) invalidated") { try await read(key) == "v2" }
            }

            // The overtaking race on one shard's pair.
            let raced = "{moving}:a"
            try await writer.send("HSET", [raced, "f", "old"])
            _ = try await read(raced)
            try await waitUntil(within: .seconds(30), "the shard's pair") {
                client.trackingLink(forKey: Array(raced.utf8))?.isUp == true
            }
            let link = try #require(client.trackingLink(forKey: Array(raced.utf8)))
            let source = try await cluster.primary(for: raced)
            try await writer.send("HSET", [raced, "f", "old2"])
            try await waitUntil(within: .seconds(10), "settled") { try await read(raced) == "old2" }
            let reader = try #require(link.readerChannel)
            let invalidatedBefore = cache.invalidated
            try await writer.send("HSET", [raced, "f", "old3"])
            try await waitUntil(within: .seconds(10), "the write announced") { cache.invalidated > invalidatedBefore }
            try await reader.setOption(ChannelOptions.autoRead, value: false).get()
            let calls = try await source.calls(of: "hmget")
            let pending = Task { try await read(raced) }
            try await waitUntil(within: .seconds(10), "the read served") { try await source.calls(of: "hmget") > calls }
            let announced = cache.invalidated
            try await writer.send("HSET", [raced, "f", "new"])
            try await waitUntil(within: .seconds(10), "the overtaking invalidation") { cache.invalidated > announced }
            try await reader.setOption(ChannelOptions.autoRead, value: true).get()
            #expect(try await pending.value == "old3")
            #expect(try await read(raced) == "new", "the overtaken reply was not kept")

            // The slot moved to another primary by hand; the value then changed there.
            #expect(try await read(raced) == "new")
            let slot = ClusterSlot.of(key: raced)
            let primaries = try await cluster.primaries()
            let target = try #require(primaries.first { $0.port != source.port })
            let (sourceID, targetID) = (try await source.clusterID(), try await target.clusterID())
            _ = try await target.cli(["cluster", "setslot", String(slot), "importing", sourceID])
            _ = try await source.cli(["cluster", "setslot", String(slot), "migrating", targetID])
            _ = try await source.cli(["migrate", "127.0.0.1", String(target.port), "", "0", "5000", "keys", raced])
            for node in primaries { _ = try await node.cli(["cluster", "setslot", String(slot), "node", targetID]) }
            _ = try await target.cli(["hset", raced, "f", "moved"])
            #expect(try await read(raced) == "moved")
            #expect(try await read(raced) == "moved")
            _ = try await target.cli(["hset", raced, "f", "moved2"])
            try await waitUntil(within: .seconds(10), "tracked on the new owner") { try await read(raced) == "moved2" }
            #expect(cache.flushes("topology") >= 1)
        }
    }
}
