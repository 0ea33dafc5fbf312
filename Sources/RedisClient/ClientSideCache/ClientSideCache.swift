import CoreMetrics
import MetricHandles
import NIOConcurrencyHelpers

/// Replies to read commands, kept per key until Redis says the key changed (server-assisted
/// client-side caching, `CLIENT TRACKING`).
///
/// Correct under the races the Redis documentation describes:
/// - **An invalidation that overtakes a reply.** A read marks its key as in flight before it is
///   sent (``begin(_:)``); an invalidation of a key in flight bumps the key's generation, and a
///   reply whose read began before the bump is returned to its caller but never stored.
/// - **A flush** (a `null` invalidation, tracking lost or re-established) empties the cache and
///   starts a new epoch: no reply of a read that began before it is stored.
///
/// Bounded in entries and in bytes (keys, arguments and replies, plus a fixed overhead per reply);
/// the oldest entries go first.
final class ClientSideCache: Sendable {
    /// A read in flight: stored only if its key was not invalidated and nothing was flushed since.
    struct Ticket: Sendable {
        fileprivate let key: [UInt8]
        fileprivate let epoch: UInt64
        fileprivate let generation: UInt64
    }

    private struct Entry {
        /// Each reply by the command that read it (its encoded arguments).
        var replies: [[UInt8]: RedisValue] = [:]
        var bytes = 0
        /// When it was stored, so that the eviction queue can tell it from a later entry of its key.
        var stamp: UInt64
    }

    private struct State {
        var entries: [[UInt8]: Entry] = [:]
        var bytes = 0
        /// Keys in insertion order, for eviction; stale stamps are skipped.
        var order: [(key: [UInt8], stamp: UInt64)] = []
        var orderStart = 0
        var nextStamp: UInt64 = 0
        /// Keys with reads in flight: how many, and how often invalidated since the first began.
        var inFlight: [[UInt8]: (readers: Int, generation: UInt64)] = [:]
        var epoch: UInt64 = 0
        /// Keys Redis invalidated, and flushes by reason, since the start: for tests.
        var invalidated = 0
        var flushes: [String: Int] = [:]
        var hits = 0
        var misses = 0
    }

    /// Entries' fixed cost beyond their bytes: dictionary slots, array headers, the value enum.
    static let overhead = 160
    /// Replies kept per key; one more empties the key's entry first.
    static let repliesPerKey = 8

    let maxEntries: Int
    let maxBytes: Int
    private let state = NIOLockedValueBox(State())

    init(maxEntries: Int, maxBytes: Int) {
        self.maxEntries = max(1, maxEntries)
        self.maxBytes = max(1, maxBytes)
    }

    /// The stored reply of `signature` (a command's encoded bytes) for `key`, if any and if
    /// `usable()` says it may be used now (asked only when one is found).
    func lookup(_ key: [UInt8], signature: [UInt8], usable: () -> Bool) -> RedisValue? {
        let found = self.state.withLockedValue { state in
            let reply = state.entries[key]?.replies[signature]
            if reply == nil { state.misses += 1 } else { state.hits += 1 }
            return reply
        }
        guard let found else {
            CacheMetrics.lookup(hit: false)
            return nil
        }
        guard usable() else {
            self.state.withLockedValue { state in
                state.hits -= 1
                state.misses += 1
            }
            CacheMetrics.lookup(hit: false)
            CacheMetrics.bypassed()
            return nil
        }
        CacheMetrics.lookup(hit: true)
        return found
    }

    /// Marks `key` as read: call before the read is written to Redis.
    func begin(_ key: [UInt8]) -> Ticket {
        self.state.withLockedValue { state in
            let generation: UInt64
            if var current = state.inFlight[key] {
                current.readers += 1
                state.inFlight[key] = current
                generation = current.generation
            } else {
                state.inFlight[key] = (1, 0)
                generation = 0
            }
            return Ticket(key: key, epoch: state.epoch, generation: generation)
        }
    }

    /// The read is answered: stores the reply unless it was overtaken.
    func finish(_ ticket: Ticket, signature: [UInt8], reply: RedisValue) {
        let stored = self.state.withLockedValue { state -> (entries: Int, bytes: Int)? in
            let current = Self.release(ticket, in: &state)
            guard ticket.epoch == state.epoch, current == ticket.generation else { return nil }
            Self.store(
                reply, signature: signature, for: ticket.key, in: &state, limits: (self.maxEntries, self.maxBytes))
            return (state.entries.count, state.bytes)
        }
        if let stored {
            CacheMetrics.size(entries: stored.entries, bytes: stored.bytes)
        } else {
            CacheMetrics.overtaken()
        }
    }

    /// The read failed, or its reply is not to be kept.
    func abandon(_ ticket: Ticket) {
        self.state.withLockedValue { _ = Self.release(ticket, in: &$0) }
    }

    /// These keys changed: Redis says so (`local` false), or this client wrote them.
    func invalidate(_ keys: [[UInt8]], local: Bool = false) {
        guard !keys.isEmpty else { return }
        let size = self.state.withLockedValue { state -> (entries: Int, bytes: Int)? in
            var removed = false
            for key in keys {
                if let entry = state.entries.removeValue(forKey: key) {
                    state.bytes -= entry.bytes
                    removed = true
                }
                if var current = state.inFlight[key] {
                    current.generation &+= 1
                    state.inFlight[key] = current
                }
            }
            return removed ? (state.entries.count, state.bytes) : nil
        }
        if let size { CacheMetrics.size(entries: size.entries, bytes: size.bytes) }
        if !local {
            self.state.withLockedValue { $0.invalidated += keys.count }
            CacheMetrics.invalidated(keys.count)
        }
    }

    /// Empties the cache and drops every reply still in flight. `reason` is for the metric.
    func flush(_ reason: String) {
        self.state.withLockedValue { state in
            state.entries = [:]
            state.bytes = 0
            state.order = []
            state.orderStart = 0
            state.epoch &+= 1
            state.flushes[reason, default: 0] += 1
        }
        CacheMetrics.flushed(reason)
        CacheMetrics.size(entries: 0, bytes: 0)
    }

    /// What the cache holds and how often it answered: for tests and `RedisClient.cacheStatistics()`.
    var statistics: RedisClient.CacheStatistics {
        self.state.withLockedValue {
            RedisClient.CacheStatistics(entries: $0.entries.count, bytes: $0.bytes, hits: $0.hits, misses: $0.misses)
        }
    }

    /// Keys Redis invalidated so far.
    var invalidated: Int {
        self.state.withLockedValue { $0.invalidated }
    }

    /// Flushes so far for `reason`.
    func flushes(_ reason: String) -> Int {
        self.state.withLockedValue { $0.flushes[reason] ?? 0 }
    }

    var count: Int {
        self.state.withLockedValue { $0.entries.count }
    }

    var bytes: Int {
        self.state.withLockedValue { $0.bytes }
    }

    /// Ends one read of the ticket's key; returns the key's generation as it was.
    private static func release(_ ticket: Ticket, in state: inout State) -> UInt64? {
        guard var current = state.inFlight[ticket.key] else { return nil }
        current.readers -= 1
        if current.readers == 0 {
            state.inFlight[ticket.key] = nil
        } else {
            state.inFlight[ticket.key] = current
        }
        return current.generation
    }

    private static func store(
        _ reply: RedisValue, signature: [UInt8], for key: [UInt8], in state: inout State, limits: (Int, Int)
    ) {
        let size = key.count + signature.count + Self.size(of: reply) + Self.overhead
        guard size <= limits.1 else { return }
        var entry: Entry
        if let existing = state.entries[key], existing.replies.count < Self.repliesPerKey {
            entry = existing
        } else {
            if let existing = state.entries[key] { state.bytes -= existing.bytes }
            entry = Entry(stamp: state.nextStamp)
            state.nextStamp &+= 1
            state.order.append((key, entry.stamp))
        }
        if let previous = entry.replies.updateValue(reply, forKey: signature) {
            let replaced = key.count + signature.count + Self.size(of: previous) + Self.overhead
            entry.bytes -= replaced
            state.bytes -= replaced
        }
        entry.bytes += size
        state.bytes += size
        state.entries[key] = entry
        // The oldest go first, until both bounds hold.
        while state.entries.count > limits.0 || state.bytes > limits.1, state.orderStart < state.order.count {
            let (oldest, stamp) = state.order[state.orderStart]
            state.orderStart += 1
            if let victim = state.entries[oldest], victim.stamp == stamp {
                state.entries[oldest] = nil
                state.bytes -= victim.bytes
            }
        }
        // The queue is compacted once its consumed head is half of it.
        if state.orderStart > 1024, state.orderStart * 2 > state.order.count {
            state.order.removeFirst(state.orderStart)
            state.orderStart = 0
        }
    }

    private static func size(of value: RedisValue) -> Int {
        switch value {
        case .simpleString(let text): text.utf8.count + 16
        case .bulkString(let bytes): bytes.count + 16
        case .array(let elements): elements.reduce(16) { $0 + Self.size(of: $1) }
        case .integer, .null: 16
        case .error(let error): error.message.utf8.count + 32
        }
    }
}

/// The cache's metrics.
enum CacheMetrics {
    private static let counters = MetricHandles<String, Counter>()

    static func lookup(hit: Bool) {
        let result = hit ? "hit" : "miss"
        Self.counters(result) {
            Counter(label: "authd_redis_client_cache_lookups_total", dimensions: [("result", result)])
        }.increment()
    }

    /// A reply found but not used: an invalidation was waiting unread in the subscriber's socket.
    static func bypassed() {
        Self.counters("bypassed") { Counter(label: "authd_redis_client_cache_bypassed_total") }.increment()
    }

    /// A reply not stored because its key was invalidated, or the cache flushed, while it was in flight.
    static func overtaken() {
        Self.counters("overtaken") { Counter(label: "authd_redis_client_cache_overtaken_total") }.increment()
    }

    static func invalidated(_ keys: Int) {
        Self.counters("invalidated") { Counter(label: "authd_redis_client_cache_invalidations_total") }
            .increment(by: keys)
    }

    /// `reason`: `flush` (Redis flushed its data), `lost` (the tracking connections dropped or stopped
    /// answering), `topology` (a cluster's slot map changed).
    static func flushed(_ reason: String) {
        Self.counters("flush:" + reason) {
            Counter(label: "authd_redis_client_cache_flushes_total", dimensions: [("reason", reason)])
        }.increment()
    }

    private static let gauges = MetricHandles<String, Gauge>()

    /// What the cache holds: `authd_redis_client_cache_entries` (keys) and `…_bytes`.
    static func size(entries: Int, bytes: Int) {
        Self.gauges("entries") { Gauge(label: "authd_redis_client_cache_entries") }.record(entries)
        Self.gauges("bytes") { Gauge(label: "authd_redis_client_cache_bytes") }.record(bytes)
    }

    /// 1 while tracking is up on the node (`node`: its address, or "0" for the only one).
    static func tracking(_ node: String, up: Bool) {
        Gauge(label: "authd_redis_client_tracking_up", dimensions: [("node", node)]).record(up ? 1 : 0)
    }
}

extension RedisCommand {
    /// The keys a command may change, for the client-side cache to forget when it has run: a
    /// script's `KEYS`, every argument of `DEL` and `UNLINK`, else the first key. Over-counting is
    /// harmless (a key forgotten is read again); a read-only command gives none.
    var writtenKeys: [[UInt8]] {
        // On every write while the cache is on: no upper-casing copy for the upper-case names
        // authd sends, and the arguments read in one pass.
        let name = self.name.utf8.contains(where: { (97...122).contains($0) }) ? self.name.uppercased() : self.name
        switch name {
        case "GET", "HGET", "HMGET", "HGETALL", "EXISTS", "TTL", "PTTL", "ZRANGE", "ZSCORE", "ZCARD", "TYPE",
            "EVAL_RO", "EVALSHA_RO", "PING", "WAIT", "SCRIPT", "INFO", "CLIENT":
            return []
        case "EVAL", "EVALSHA", "FCALL":
            let arguments = self.arguments(upTo: .max)
            guard arguments.count > 3, let count = Int(String(decoding: arguments[2], as: UTF8.self)), count > 0
            else { return [] }
            return arguments[3..<min(3 + count, arguments.count)].map(Array.init)
        case "DEL", "UNLINK":
            return self.arguments(upTo: .max).dropFirst().map(Array.init)
        default:
            return self.firstKey.map { [Array($0)] } ?? []
        }
    }
}
