import Logging
import NIOCore
import NIOPosix

/// A Redis client over small, fixed sets of multiplexed, self-healing connections: to one server
/// (or the primary Sentinel names), or to every primary of a Redis Cluster, routed by key slot.
///
/// Each connection lives on one event loop of the group it is given (share the HTTP server's),
/// and any number of commands can be in flight on it at once. A caller on one of those event loops
/// uses that loop's connection and pays no thread hop.
///
/// Errors are typed: ``RedisServerError`` for an error reply, ``RedisClientError`` for everything
/// else (``RedisClientError/unavailable`` during an outage, so that callers can answer 503).
public final class RedisClient: Sendable {
    private enum Backend: Sendable {
        case single(RedisNodePool)
        case cluster(RedisCluster)
    }

    public let configuration: RedisConfiguration
    private let backend: Backend
    /// The client-side cache, when ``RedisConfiguration/clientCache`` is set.
    let tracking: ClientTracking?

    /// Creates the client and starts connecting in the background. It never blocks and never
    /// throws for an unreachable server: commands fail with ``RedisClientError/unavailable``
    /// until a connection is up.
    public init(configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        let loops = Array(eventLoopGroup.makeIterator())
        let tracking = configuration.clientCache.map {
            ClientTracking(configuration: configuration, cache: $0, loops: loops, logger: logger)
        }
        self.tracking = tracking
        if configuration.cluster != nil {
            var mapChanged: (@Sendable (Set<RedisCluster.Node>) -> Void)?
            if let tracking {
                mapChanged = { primaries in tracking.mapChanged(primaries: primaries) }
            }
            self.backend = .cluster(
                RedisCluster(configuration: configuration, loops: loops, logger: logger, mapChanged: mapChanged))
        } else {
            self.backend = .single(RedisNodePool(configuration: configuration, loops: loops, label: "", logger: logger))
        }
    }

    /// Sends one command and returns its reply. An error reply is thrown as ``RedisServerError``.
    public func send(_ command: RedisCommand) async throws -> RedisValue {
        let deadline = NIODeadline.now() + self.configuration.commandTimeout
        if let tracking = self.tracking {
            // What this client writes, its own next read sees: the keys are dropped from the cache
            // when the reply is in (or the command failed, when it may have run), not only when
            // Redis's invalidation arrives on the other connection.
            defer { tracking.cache.invalidate(command.writtenKeys, local: true) }
            return try await self.sendUncached(command, deadline: deadline)
        }
        return try await self.sendUncached(command, deadline: deadline)
    }

    private func sendUncached(_ command: RedisCommand, deadline: NIODeadline) async throws -> RedisValue {
        switch self.backend {
        case .single(let pool): return try await pool.send(command, deadline: deadline)
        case .cluster(let cluster): return try await cluster.send(command, deadline: deadline)
        }
    }

    /// Sends a read-only command on one key, such as `HMGET`, and keeps its reply until Redis says
    /// the key changed, when ``RedisConfiguration/clientCache`` is set (otherwise as
    /// ``send(_:)-(RedisCommand)``). The key is the command's first argument.
    ///
    /// A reply comes from the cache only while tracking is up; while it is not, every call goes to
    /// Redis and nothing is kept. Error replies are never kept.
    public func cachedSend(_ command: RedisCommand) async throws -> RedisValue {
        guard let tracking = self.tracking, let key = command.argument(1).map(Array.init) else {
            return try await self.send(command)
        }
        let signature = command.signature
        let link = self.trackingLink(forKey: key)
        // A kept reply is used only when no invalidation is waiting, unread, in the subscriber's
        // socket: one announced before this request came in is never overtaken by the cache.
        if let hit = tracking.cache.lookup(key, signature: signature, usable: { link?.isQuiet == true }) {
            return hit
        }
        let deadline = NIODeadline.now() + self.configuration.commandTimeout
        do {
            if let reply = try await link?.read(command, key: key, signature: signature, deadline: deadline) {
                return reply
            }
        } catch RedisClientError.timeout {
            throw RedisClientError.timeout
        } catch {
            // Redirected (a cluster's slot moved), or the tracked connection closed under the read:
            // the pool's path follows redirections and reconnects.
        }
        return try await self.sendUncached(command, deadline: deadline)
    }

    /// The tracking pair that reads of `key` go through: the only one, or its slot's primary's.
    func trackingLink(forKey key: [UInt8]) -> TrackingLink? {
        guard let tracking = self.tracking else { return nil }
        switch self.backend {
        case .single: return tracking.link(for: nil)
        case .cluster(let cluster): return cluster.owner(ofKey: key).flatMap { tracking.link(for: $0) }
        }
    }

    /// Sends a command given by name and text arguments, such as `send("GET", ["key"])`.
    @discardableResult
    public func send(_ name: String, _ arguments: [String]) async throws -> RedisValue {
        try await self.send(RedisCommand(name, arguments))
    }

    /// Sends several commands in one write and returns all their replies in order. Error replies
    /// are returned as ``RedisValue/error(_:)`` in their place, not thrown; a connection failure
    /// fails the whole batch. Not a transaction: other callers' commands may run in between.
    ///
    /// On a cluster, the batch is split by node, one write to each, and the replies put back in
    /// order. A command without a key (such as `WAIT`) goes with the keyed command before it.
    public func pipeline(_ commands: [RedisCommand]) async throws -> [RedisValue] {
        let deadline = NIODeadline.now() + self.configuration.commandTimeout
        if let tracking = self.tracking {
            defer { tracking.cache.invalidate(commands.flatMap(\.writtenKeys), local: true) }
            return try await self.pipelineUncached(commands, deadline: deadline)
        }
        return try await self.pipelineUncached(commands, deadline: deadline)
    }

    private func pipelineUncached(_ commands: [RedisCommand], deadline: NIODeadline) async throws -> [RedisValue] {
        switch self.backend {
        case .single(let pool): return try await pool.send(batch: commands, deadline: deadline).get()
        case .cluster(let cluster): return try await cluster.pipeline(commands, deadline: deadline)
        }
    }

    /// Sends the command to the server, or to every primary of a cluster, and returns each reply
    /// (error replies in their place). For commands that act on a server rather than on a key,
    /// such as `SCRIPT LOAD`.
    public func broadcast(_ command: RedisCommand) async throws -> [RedisValue] {
        let deadline = NIODeadline.now() + self.configuration.commandTimeout
        switch self.backend {
        case .single(let pool): return try await pool.send(batch: [command], deadline: deadline).get()
        case .cluster(let cluster): return try await cluster.broadcast(command, deadline: deadline)
        }
    }

    /// How many of the pool's connections are up right now (on a cluster, to all its primaries).
    public func connectedCount() -> Int {
        switch self.backend {
        case .single(let pool): pool.connectedCount()
        case .cluster(let cluster): cluster.connectedCount()
        }
    }

    public struct CacheStatistics: Sendable {
        /// Keys held, and bytes as the cache counts them.
        public var entries: Int
        public var bytes: Int
        /// Lookups answered from the cache, and not, since the start.
        public var hits: Int
        public var misses: Int
    }

    /// The client-side cache's size and hits; nil without one.
    public func cacheStatistics() -> CacheStatistics? {
        self.tracking?.cache.statistics
    }

    /// Whether every tracking link made so far is up; nil without a cache.
    public func trackingUp() -> Bool? {
        self.tracking.map { $0.allUp }
    }

    /// Closes every connection. Commands in flight fail with ``RedisClientError/connectionClosed``,
    /// later ones with ``RedisClientError/shutdown``.
    public func shutdown() async {
        await self.tracking?.shutdown()
        switch self.backend {
        case .single(let pool): await pool.shutdown()
        case .cluster(let cluster): await cluster.shutdown()
        }
    }
}
