/// The registry of caching links (a sorted set: member → when its lease ends, in Redis's clock, in
/// milliseconds) and the barrier's round, as scripts: each reads the time and acts in one step.
enum CoherenceScripts {
    /// KEYS[1] registry; ARGV[1] member (`LEASE_MS|INSTANCE|NODE`), ARGV[2] lease in ms.
    /// Returns 1 when the member's previous lease still held (the renewal is continuous), else 0:
    /// some barrier may have passed without waiting for it, and the caller empties its cache.
    static let register = RedisScript(
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local lease = tonumber(ARGV[2])
        local previous = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '0')
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
        redis.call('PEXPIRE', KEYS[1], lease, 'NX')
        redis.call('PEXPIRE', KEYS[1], lease, 'GT')
        if previous > now then return 1 end
        return 0
        """)

    /// KEYS[1] registry; ARGV[1] member. A link that stops: barriers no longer wait for it.
    static let deregister = RedisScript(
        """
        return redis.call('ZREM', KEYS[1], ARGV[1])
        """)

    /// KEYS[1] registry; ARGV[1] the marker channel ('' for none), ARGV[2] the marker.
    /// Returns the members whose lease holds, after publishing the marker to them (when a channel
    /// is given and there is any).
    static let round = RedisScript(
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        local members = redis.call('ZRANGE', KEYS[1], 0, -1)
        if #members > 0 and ARGV[1] ~= '' then
            redis.call('PUBLISH', ARGV[1], ARGV[2])
        end
        return members
        """)

    static let all = [register, deregister, round]
}

/// A registered link's name in the registry: `LEASE_MS|INSTANCE|NODE`, so that a barrier knows how
/// long it may have to wait for it, and which node's marker channel it listens on.
struct CoherenceMember: Hashable, Sendable {
    var leaseMilliseconds: Int
    var instance: String
    var node: String

    var text: String { "\(self.leaseMilliseconds)|\(self.instance)|\(self.node)" }
}

extension CoherenceMember {
    init?(_ text: String) {
        let parts = text.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let lease = Int(parts[0]), lease > 0 else { return nil }
        self.init(leaseMilliseconds: lease, instance: String(parts[1]), node: String(parts[2]))
    }
}

extension CoherenceConfiguration {
    /// Where the barrier's markers for the links to `node` are published.
    func markerChannel(node: String) -> String { "\(self.channel):m:\(node)" }

    /// Where the links answer the barriers of `instance`.
    func ackChannel(instance: String) -> String { "\(self.channel):a:\(instance)" }

    var leaseMilliseconds: Int { max(1, Int(self.lease.nanoseconds / 1_000_000)) }
}
