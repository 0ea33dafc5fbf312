import Foundation
import NIOConcurrencyHelpers
import NIOCore
import TestSupport
import Testing

@testable import RedisClient

/// The client-side cache (`CLIENT TRACKING` with `REDIRECT` to a `__redis__:invalidate`
/// subscriber) against real `redis-server` processes: each race of the Redis documentation on
/// client-side caching, made to happen rather than hoped for, and the fail-closed paths.
/// One test at a time: each starts a server of its own, and eight at once beside the rest of the
/// suite slowed other suites' connects past their bounds on a loaded machine.
@Suite("Client-side cache and tracking", .serialized)
struct ClientSideCacheTests {
    /// A server of the test's own (tests flush it, kill its clients and stop it), a client with
    /// the cache, and a plain client that plays the other instances' writes.
    struct Bed {
        let server: RedisServerProcess
        let client: RedisClient
        let writer: RedisClient

        var cache: ClientSideCache { self.client.tracking!.cache }
        var link: InvalidationLink { self.client.tracking!.link(for: nil)! }

        static func start(
            _ tracking: ClientSideCacheConfiguration.Tracking = .keys, health: TimeAmount = .seconds(5),
            lease: TimeAmount = .seconds(5)
        ) async throws -> Bed {
            let server = try RedisServerProcess()
            try await server.start()
            var configuration = try TestRedis.configuration(url: server.url)
            configuration.maxReconnectDelay = .milliseconds(200)
            var coherence = CoherenceConfiguration(channel: "bed", registryKey: "bed:members")
            coherence.lease = lease
            configuration.coherence = coherence
            var cache = ClientSideCacheConfiguration()
            cache.tracking = tracking
            cache.healthCheckInterval = health
            configuration.clientSideCache = cache
            let client = try TestRedis.makeClient(configuration)
            var plain = try TestRedis.configuration(url: server.url)
            plain.coherence = coherence
            let writer = try TestRedis.makeClient(plain)
            try await TestRedis.waitUntilConnected(client)
            try await TestRedis.waitUntilConnected(writer)
            let bed = Bed(server: server, client: client, writer: writer)
            try await bed.waitUntilTracking()
            return bed
        }

        func stop() async {
            await self.client.shutdown()
            await self.writer.shutdown()
            self.server.kill()
        }

        /// Tracking up, its lease held, and the writer's barrier able to hear acknowledgements.
        func waitUntilTracking() async throws {
            try await waitUntil(within: .seconds(30), "tracking up") {
                self.client.trackingUp() == true && self.link.mayServe && self.writer.barrierReady() == true
            }
        }

        /// The field `f` of hash `key`, through the cache.
        func read(_ key: String) async throws -> String? {
            try await self.client.cachedSend(RedisCommand("HMGET", [key, "f"])).array?.first?.string
        }
    }

    @Test(arguments: [ClientSideCacheConfiguration.Tracking.keys, .broadcast(prefixes: ["k:"])])
    func aReadIsKeptUntilAnotherClientWritesItsKey(tracking: ClientSideCacheConfiguration.Tracking) async throws {
        let bed = try await Bed.start(tracking)
        try await withTeardown({ await bed.stop() }) {
            try await bed.writer.send("HSET", ["k:1", "f", "v1"])
            if case .broadcast = tracking {
                // BCAST announces every write under the prefix, this one too: let it arrive first,
                // or it evicts the read below.
                try await waitUntil(within: .seconds(10), "the first write's invalidation") {
                    bed.cache.invalidated >= 1
                }
            }
            let announced = bed.cache.invalidated
            #expect(try await bed.read("k:1") == "v1")
            let served = try await bed.server.calls(of: "hmget")
            for _ in 0..<5 { #expect(try await bed.read("k:1") == "v1") }
            #expect(try await bed.server.calls(of: "hmget") == served, "the repeats never reached Redis")
            #expect(bed.cache.count == 1)

            try await bed.writer.send("HSET", ["k:1", "f", "v2"])
            try await waitUntil(within: .seconds(10), "the invalidation") { bed.cache.invalidated > announced }
            #expect(bed.cache.count == 0)
            #expect(try await bed.read("k:1") == "v2")
        }
    }

    /// The reply to a read leaves Redis before a write of its key, but the write's invalidation is
    /// taken in first: the reply is returned (it was true when read) and never stored.
    @Test func anInvalidationThatOvertakesItsReplyWins() async throws {
        let bed = try await Bed.start()
        try await withTeardown({ await bed.stop() }) {
            try await bed.writer.send("HSET", ["k:race", "f", "old"])
            let reader = try #require(bed.link.readerChannel)
            // The reply will sit in the socket until reads resume.
            try await reader.setOption(ChannelOptions.autoRead, value: false).get()
            let before = try await bed.server.calls(of: "hmget")
            let read = Task { try await bed.read("k:race") }
            try await waitUntil(within: .seconds(10), "Redis served the read") {
                try await bed.server.calls(of: "hmget") > before
            }
            try await bed.writer.send("HSET", ["k:race", "f", "new"])
            try await waitUntil(within: .seconds(10), "the invalidation") { bed.cache.invalidated >= 1 }
            try await reader.setOption(ChannelOptions.autoRead, value: true).get()

            #expect(try await read.value == "old")
            #expect(bed.cache.count == 0, "the overtaken reply was not stored")
            #expect(try await bed.read("k:race") == "new")
        }
    }

    /// Another client's write, then its barrier: acknowledged by the cache's link once it has
    /// applied the invalidation, so the barrier returns at once and the next read is fresh.
    @Test func aBarrierReturnsOnceTheCacheHasAppliedTheInvalidation() async throws {
        let bed = try await Bed.start()
        try await withTeardown({ await bed.stop() }) {
            try await bed.writer.send("HSET", ["k:ack", "f", "v1"])
            #expect(try await bed.read("k:ack") == "v1")
            #expect(try await bed.read("k:ack") == "v1")
            #expect(bed.cache.count == 1)
            try await bed.writer.send("HSET", ["k:ack", "f", "v2"])
            let outcome = try #require(try await bed.writer.barrier())
            #expect(outcome.registered == 1 && outcome.acknowledged == 1)
            #expect(bed.cache.count == 0, "the invalidation was applied before the acknowledgement")
            #expect(try await bed.read("k:ack") == "v2")
        }
    }

    /// A cache that cannot hear Redis (its subscriber's reads held back, as a stopped process or
    /// a cut link would): the barrier waits out its lease, and by then the cache no longer
    /// answers, though the stale entry is still there.
    @Test func aBarrierWaitsOutTheLeaseOfACacheThatCannotHear() async throws {
        let bed = try await Bed.start(lease: .seconds(1))
        try await withTeardown({ await bed.stop() }) {
            try await bed.writer.send("HSET", ["k:deaf", "f", "v1"])
            #expect(try await bed.read("k:deaf") == "v1")
            #expect(try await bed.read("k:deaf") == "v1")
            let subscriber = try await bed.subscriberChannel()
            try await subscriber.setOption(ChannelOptions.autoRead, value: false).get()
            try await bed.writer.send("HSET", ["k:deaf", "f", "v2"])
            let started = ContinuousClock.now
            let outcome = try #require(try await bed.writer.barrier())
            #expect(outcome.registered == 1 && outcome.acknowledged == 0)
            // The lease is 1 s: the barrier cannot have returned sooner (it may be later on a
            // loaded machine, which only delays it).
            #expect(ContinuousClock.now - started >= .milliseconds(900))
            #expect(!bed.link.mayServe)
            #expect(bed.cache.count == 1, "the stale entry is still there, unused")
            #expect(try await bed.read("k:deaf") == "v2")
            try await subscriber.setOption(ChannelOptions.autoRead, value: true).get()
            try await waitUntil(within: .seconds(10), "the invalidation read") { bed.cache.invalidated >= 1 }
        }
    }

    /// What this client writes, its own next read sees, even before Redis's invalidation arrives
    /// (here it never does: the subscriber's reads are held back).
    @Test func aWriteThroughTheClientIsSeenByItsNextRead() async throws {
        let bed = try await Bed.start()
        try await withTeardown({ await bed.stop() }) {
            try await bed.client.send("HSET", ["k:own", "f", "v1"])
            #expect(try await bed.read("k:own") == "v1")
            #expect(bed.cache.count == 1)
            let subscriber = try await bed.subscriberChannel()
            try await subscriber.setOption(ChannelOptions.autoRead, value: false).get()
            // A script's KEYS and a plain command's key alike.
            let script = RedisScript("return redis.call('HSET', KEYS[1], 'f', ARGV[1])")
            _ = try await bed.client.evalSHA(script, keys: ["k:own"], arguments: ["v2"])
            #expect(try await bed.read("k:own") == "v2")
            try await bed.client.send("HSET", ["k:own", "f", "v3"])
            #expect(try await bed.read("k:own") == "v3")
            try await subscriber.setOption(ChannelOptions.autoRead, value: true).get()
        }
    }

    /// `FLUSHALL` sends a null invalidation: everything goes.
    @Test func aFlushEmptiesTheCache() async throws {
        let bed = try await Bed.start()
        try await withTeardown({ await bed.stop() }) {
            for index in 0..<3 {
                try await bed.writer.send("HSET", ["k:\(index)", "f", "v"])
                #expect(try await bed.read("k:\(index)") == "v")
            }
            #expect(bed.cache.count == 3)
            try await bed.writer.send("FLUSHALL", [])
            try await waitUntil(within: .seconds(10), "the flush") { bed.cache.flushes("flush") >= 1 }
            #expect(bed.cache.count == 0)
            #expect(try await bed.read("k:0") == nil)
        }
    }

    /// The subscriber killed: a write made then is never announced, so the cache is emptied at
    /// once, reads go to Redis, and once tracking is back they are kept again.
    @Test func aLostInvalidationConnectionEmptiesTheCacheUntilTrackingIsBack() async throws {
        let bed = try await Bed.start()
        try await withTeardown({ await bed.stop() }) {
            try await bed.writer.send("HSET", ["k:lost", "f", "v1"])
            #expect(try await bed.read("k:lost") == "v1")
            #expect(bed.cache.count == 1)
            try await bed.writer.send("CLIENT", ["KILL", "TYPE", "pubsub"])
            try await waitUntil(within: .seconds(10), "the loss noticed") { bed.cache.flushes("lost") >= 1 }
            #expect(bed.cache.count == 0)
            try await bed.writer.send("HSET", ["k:lost", "f", "v2"])
            #expect(try await bed.read("k:lost") == "v2")

            try await bed.waitUntilTracking()
            #expect(try await bed.read("k:lost") == "v2")
            try await waitUntil(within: .seconds(10), "kept again") {
                _ = try await bed.read("k:lost")
                return bed.cache.count == 1
            }
            try await bed.writer.send("HSET", ["k:lost", "f", "v3"])
            try await waitUntil(within: .seconds(10), "invalidated through the new subscriber") {
                try await bed.read("k:lost") == "v3"
            }
        }
    }

    /// A server that stops answering (SIGSTOP) leaves the connections open: the subscriber's
    /// health PING is what notices, empties the cache and ends tracking until the server is back.
    @Test func aSubscriberThatStopsAnsweringEndsTracking() async throws {
        let bed = try await Bed.start(health: .milliseconds(200))
        try await withTeardown({ await bed.stop() }) {
            try await bed.writer.send("HSET", ["k:stall", "f", "v1"])
            #expect(try await bed.read("k:stall") == "v1")
            bed.server.pause()
            try await waitUntil(within: .seconds(10), "the stall noticed") { bed.cache.flushes("lost") >= 1 }
            #expect(bed.cache.count == 0)
            #expect(bed.client.trackingUp() == false)
            bed.server.resume()
            try await bed.waitUntilTracking()
            try await bed.writer.send("HSET", ["k:stall", "f", "v2"])
            #expect(try await bed.read("k:stall") == "v2")
        }
    }

    /// Dozens of readers and writers on a few keys at once. Whatever interleaving happened, once the
    /// writes stop every read converges to Redis's value: no stale entry outlives its invalidation.
    @Test(arguments: [ClientSideCacheConfiguration.Tracking.keys, .broadcast(prefixes: ["k:"])])
    func concurrentReadersAndWritersLeaveNoStaleEntry(tracking: ClientSideCacheConfiguration.Tracking) async throws {
        let bed = try await Bed.start(tracking)
        try await withTeardown({ await bed.stop() }) {
            let keys = (0..<8).map { "k:storm:\($0)" }
            for key in keys { try await bed.writer.send("HSET", [key, "f", "0"]) }
            let done = NIOLockedValueBox(false)
            let writing = Task {
                defer { done.withLockedValue { $0 = true } }
                _ = try await inParallel(4) { writer in
                    for round in 0..<150 {
                        try await bed.writer.send("HINCRBY", [keys[(writer + round) % keys.count], "f", "1"])
                    }
                }
            }
            let reads = try await inParallel(24) { reader -> Int in
                var count = 0
                while count < 100 || !done.withLockedValue({ $0 }) {
                    _ = try await bed.read(keys[(reader + count) % keys.count])
                    count += 1
                }
                return count
            }
            try await writing.value
            #expect(reads.reduce(0, +) >= 2400)
            #expect(bed.cache.invalidated > 0)
            for key in keys {
                let truth = try await bed.writer.send("HGET", [key, "f"]).string
                try await waitUntil(within: .seconds(10), "\(key) converges to \(truth ?? "nil")") {
                    try await bed.read(key) == truth
                }
            }
        }
    }
}

extension ClientSideCacheTests.Bed {
    /// The tracking pair's subscriber, found as the channel the reader redirects to.
    func subscriberChannel() async throws -> any Channel {
        try #require(self.link.subscriberChannel)
    }
}

/// The cache's bounds, on the data structure itself: entries and bytes, oldest out first.
@Suite("Client-side cache bounds")
struct ClientSideCacheBoundsTests {
    static func store(_ cache: ClientSideCache, _ key: String, _ value: String) {
        let ticket = cache.begin(Array(key.utf8))
        cache.finish(ticket, signature: Array("HMGET \(key)".utf8), reply: .bulkString(Array(value.utf8)))
    }

    static func has(_ cache: ClientSideCache, _ key: String) -> Bool {
        cache.lookup(Array(key.utf8), signature: Array("HMGET \(key)".utf8), usable: { true }) != nil
    }

    @Test func entriesAreBoundedOldestFirst() {
        let cache = ClientSideCache(maxEntries: 3, maxBytes: 1 << 20)
        for index in 0..<10 { Self.store(cache, "k\(index)", "v") }
        #expect(cache.count == 3)
        #expect((7..<10).allSatisfy { Self.has(cache, "k\($0)") })
        #expect(!Self.has(cache, "k0"))
    }

    @Test func bytesAreBoundedAndAReplyLargerThanTheBoundIsNotKept() {
        let limit = 4096
        let cache = ClientSideCache(maxEntries: 1000, maxBytes: limit)
        let value = String(repeating: "x", count: 500)
        for index in 0..<50 { Self.store(cache, "k\(index)", value) }
        #expect(cache.bytes <= limit)
        #expect(cache.count >= 1 && cache.count < 50)
        #expect(Self.has(cache, "k49"))
        Self.store(cache, "huge", String(repeating: "y", count: limit))
        #expect(!Self.has(cache, "huge"))
        #expect(cache.bytes <= limit)
    }

    @Test func invalidationAndFlushReleaseTheirBytes() {
        let cache = ClientSideCache(maxEntries: 100, maxBytes: 1 << 20)
        for index in 0..<10 { Self.store(cache, "k\(index)", "value") }
        let full = cache.bytes
        cache.invalidate([Array("k0".utf8), Array("k1".utf8)])
        #expect(cache.count == 8)
        #expect(cache.bytes == full / 10 * 8)
        cache.flush("flush")
        #expect(cache.count == 0 && cache.bytes == 0)
    }
}
