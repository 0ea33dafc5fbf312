import AuthCore
import RedisClient
import Synchronization

/// Security events in Redis Streams (``RedisKeys/events(shard:)``), written by `XADD`: an entry's
/// id is its time (Redis's clock, in ms), and `redis-cli XRANGE` reads them as they are.
public final class RedisEventLog: EventLog, RevocationFeed {
    public struct Settings: Sendable, Equatable {
        /// Streams the events are spread over, by user: 1 on one Redis; more on a cluster, so
        /// that the logins of a deployment do not all land on one primary. 0: 1, or 16 on a
        /// cluster (``resolved(cluster:)``).
        public var shards = 0
        /// Most entries a shard keeps (trimmed approximately, `MAXLEN ~`).
        public var maxLength = 100_000
        /// Oldest entries a shard keeps, in seconds (trimmed once a second, exactly: `MINID`).
        public var maxAge = 7 * 86_400
        /// Names the instance in every event it writes.
        public var instance = ""

        /// The shards' number made definite: 16 on a cluster, 1 otherwise, when it is 0.
        public func resolved(cluster: Bool) -> Settings {
            var settings = self
            if settings.shards == 0 { settings.shards = cluster ? 16 : 1 }
            return settings
        }

        public init(shards: Int = 0, maxLength: Int = 100_000, maxAge: Int = 7 * 86_400, instance: String = "") {
            self.shards = shards
            self.maxLength = maxLength
            self.maxAge = maxAge
            self.instance = instance
        }
    }

    /// Longest user agent and address an event keeps, in bytes.
    static let maxUserAgentBytes = 256
    static let maxAddressBytes = 64

    public let keys: RedisKeys
    public let settings: Settings
    let redis: RedisClient
    /// Writes the events of many requests in one pipeline.
    private let batcher: EventBatcher
    /// When each shard was last trimmed by age.
    private let trimmed: Mutex<[ContinuousClock.Instant?]>

    public init(redis: RedisClient, keyPrefix: String, settings: Settings) {
        self.redis = redis
        self.keys = RedisKeys(prefix: keyPrefix)
        var settings = settings
        settings.shards = max(1, settings.shards)
        self.settings = settings
        self.batcher = EventBatcher(redis: redis)
        // One more, for the feed.
        self.trimmed = Mutex([ContinuousClock.Instant?](repeating: nil, count: settings.shards + 1))
    }

    public func record(
        _ events: [SecurityEvent], durable: Bool, lost: @escaping @Sendable (any Error) -> Void
    ) async throws {
        var commands: [RedisCommand] = []
        var trims: [RedisCommand] = []
        let origin = EventOrigin.current
        for event in events {
            let shard = self.shard(of: event.subject)
            let key = self.keys.events(shard: shard)
            var fields = ["type", event.kind.rawValue]
            func field(_ name: String, _ value: String?, limit: Int = 256) {
                guard let value, !value.isEmpty else { return }
                fields += [name, String(decoding: value.utf8.prefix(limit), as: UTF8.self)]
            }
            field("user", event.subject)
            field("sid", event.sessionID)
            field("ip", origin?.ip, limit: Self.maxAddressBytes)
            field("ua", origin?.userAgent, limit: Self.maxUserAgentBytes)
            field("instance", self.settings.instance)
            field("request", origin?.requestID)
            field("actor", origin?.actor)
            for (name, value) in event.details { field(name, value) }
            commands.append(self.append(to: key, fields))
            if let minimum = self.ageTrim(shard) {
                trims.append(RedisCommand("XTRIM", [key, "MINID", String(minimum)]))
            }
            if let notice = event.notice(byOperator: origin?.actor == "operator") {
                commands.append(self.feedEntry(notice))
                if let minimum = self.ageTrim(self.settings.shards) {
                    trims.append(RedisCommand("XTRIM", [self.keys.feed, "MINID", String(minimum)]))
                }
            }
        }
        guard !commands.isEmpty else { return }
        if durable {
            try await self.batcher.store(commands + trims)
        } else {
            self.batcher.submit(commands + trims, waited: false) { result in
                if case .failure(let error) = result { lost(error) }
            }
        }
    }

    /// The feed's entry for a notice: written with its event, in the same round trip, so that a
    /// revocation acknowledged is on the feed too.
    private func feedEntry(_ notice: RevocationNotice) -> RedisCommand {
        var fields = ["kind", notice.kind.rawValue, "user", notice.subject]
        if let sid = notice.sessionID { fields += ["sid", sid] }
        if let kept = notice.keptSession { fields += ["keep", kept] }
        fields += ["reason", notice.reason, "by", notice.initiator]
        return self.append(to: self.keys.feed, fields)
    }

    /// `XADD` of an entry (field, value, ...) to a stream, trimmed to about `maxLength` entries.
    private func append(to key: String, _ fields: [String]) -> RedisCommand {
        RedisCommand("XADD", [key, "MAXLEN", "~", String(self.settings.maxLength), "*"] + fields)
    }

    public func poll(receiver: String, acknowledging acknowledged: [String], limit: Int) async throws -> (
        items: [FeedItem], more: Bool
    ) {
        let reply = try await self.guarded {
            try await self.redis.evalSHA(
                LuaScripts.pollFeed, keys: [self.keys.feed], arguments: [receiver, String(limit)] + acknowledged)
        }
        let parts = reply.array ?? []
        var items: [FeedItem] = []
        for index in stride(from: 1, to: parts.count - 1, by: 2) {
            guard let id = parts[index].string, let flat = parts[index + 1].array else { continue }
            let fields = RedisAuthStore.fields(flat)
            guard let kind = fields["kind"].flatMap(RevocationNotice.Kind.init(rawValue:)), let user = fields["user"]
            else { continue }
            let notice = RevocationNotice(
                kind, subject: user, sessionID: fields["sid"], keptSession: fields["keep"],
                reason: fields["reason"] ?? "", initiator: fields["by"] ?? "system")
            items.append(FeedItem(id: id, milliseconds: Self.parts(of: id).milliseconds, notice: notice))
        }
        return (items, parts.first?.int == 1)
    }

    /// Forgets a receiver's place in the feed (its consumer group): for a client removed.
    public func forget(receiver: String) async throws {
        _ = try await self.guarded {
            try await self.redis.pipeline([RedisCommand("XGROUP", ["DESTROY", self.keys.feed, receiver])])
        }
    }

    /// An event as it is stored: its stream entry.
    public struct Entry: Sendable, Equatable {
        /// The entry's id, `MS-SEQ`: MS is when Redis stored it, in ms since 1970.
        public var id: String
        public var fields: [String: String]
        /// The fields' names in the order they were written (`type` first).
        public var order: [String]

        public var milliseconds: Int64 { RedisEventLog.parts(of: self.id).milliseconds }
        public var type: String { self.fields["type"] ?? "" }
        public var user: String { self.fields["user"] ?? "" }
    }

    /// Where each shard has been read up to: the last entry id read (`MS-SEQ`, read on after it),
    /// or a time to start from (`MS`, read from it).
    public struct Cursor: Sendable, Equatable {
        var positions: [String]
    }

    /// A cursor at `milliseconds` since 1970 on every shard.
    public func cursor(since milliseconds: Int64) -> Cursor {
        Cursor(positions: Array(repeating: String(max(0, milliseconds)), count: self.settings.shards))
    }

    /// Up to `count` entries of each shard (only `user`'s shard when given) after the cursor,
    /// merged in time order, and the cursor after them.
    public func read(after cursor: Cursor, user: String? = nil, count: Int = 1000) async throws -> (
        entries: [Entry], cursor: Cursor
    ) {
        var cursor = cursor
        var entries: [Entry] = []
        let shards = user.map { [self.shard(of: $0)] } ?? Array(0..<self.settings.shards)
        for shard in shards {
            let position = cursor.positions[shard]
            let start = (position.contains("-") ? "(" : "") + position
            let reply = try await self.guarded {
                try await self.redis.send(
                    "XRANGE", [self.keys.events(shard: shard), start, "+", "COUNT", String(count)])
            }
            for item in reply.array ?? [] {
                guard let parts = item.array, parts.count == 2, let id = parts[0].string else { continue }
                let flat = parts[1].array ?? []
                let names = stride(from: 0, to: flat.count - 1, by: 2).compactMap { flat[$0].string }
                entries.append(Entry(id: id, fields: RedisAuthStore.fields(flat), order: names))
                cursor.positions[shard] = id
            }
        }
        entries.sort { Self.parts(of: $0.id) < Self.parts(of: $1.id) }
        return (entries, cursor)
    }

    /// A stream entry id's two numbers, `MS-SEQ`: when Redis stored it (ms since 1970), and its
    /// sequence within that ms. Ids order by them.
    static func parts(of id: String) -> (milliseconds: Int64, sequence: Int64) {
        let halves = id.split(separator: "-")
        return (Int64(halves.first ?? "") ?? 0, Int64(halves.dropFirst().first ?? "") ?? 0)
    }

    /// The shard of a user's events: FNV-1a of the name, so that every instance picks the same.
    func shard(of subject: String) -> Int {
        guard self.settings.shards > 1 else { return 0 }
        var hash: UInt32 = 2_166_136_261
        for byte in subject.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return Int(hash % UInt32(self.settings.shards))
    }

    /// The oldest id to keep when the shard is due for its trim by age (once a second, per
    /// instance), else nil.
    private func ageTrim(_ shard: Int) -> Int64? {
        let now = ContinuousClock.now
        let due = self.trimmed.withLock { trimmed in
            if let last = trimmed[shard], now - last < .seconds(1) { return false }
            trimmed[shard] = now
            return true
        }
        guard due else { return nil }
        return max(0, (Int64(SystemClock().now()) - Int64(self.settings.maxAge)) * 1000)
    }

    private func guarded<T>(_ operation: () async throws -> T) async throws -> T {
        try await storeGuarded(operation)
    }
}
