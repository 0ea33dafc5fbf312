import Logging
import NIOConcurrencyHelpers
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
    /// The client-side cache, when ``RedisConfiguration/clientSideCache`` is set.
    let tracking: ClientSideCacheInvalidator?
    /// The revocation barrier, when ``RedisConfiguration/coherence`` is set.
    let barrier: RevocationBarrier?
    /// This client, for the tracking links' registrations (which go through its pool); emptied
    /// at shutdown.
    private let reference: ClientReference

    /// Creates the client and starts connecting in the background. It never blocks and never
    /// throws for an unreachable server: commands fail with ``RedisClientError/unavailable``
    /// until a connection is up.
    public init(configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        let loops = Array(eventLoopGroup.makeIterator())
        let reference = ClientReference()
        self.reference = reference
        let barrier = configuration.coherence.map {
            RevocationBarrier(configuration: configuration, coherence: $0, eventLoop: loops[0], logger: logger)
        }
        self.barrier = barrier
        let registrar = barrier.map { barrier in
            Registrar(
                instance: barrier.instance,
                register: { member in try await reference.client?.register(member) ?? false },
                deregister: { member in await reference.client?.deregister(member) })
        }
        let tracking = configuration.clientSideCache.map {
            ClientSideCacheInvalidator(
                configuration: configuration, cache: $0, loops: loops, logger: logger, registrar: registrar)
        }
        self.tracking = tracking
        if configuration.cluster != nil {
            self.backend = .cluster(RedisCluster(configuration: configuration, loops: loops, logger: logger))
        } else {
            self.backend = .single(RedisNodePool(configuration: configuration, loops: loops, label: "", logger: logger))
        }
        reference.set(self)
        barrier?.start()
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
    /// the key changed, when ``RedisConfiguration/clientSideCache`` is set (otherwise as
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
        // A kept reply is used only while its link's lease holds (see ``InvalidationLink``).
        if let hit = tracking.cache.lookup(key, signature: signature, usable: { link?.mayServe == true }) {
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
    func trackingLink(forKey key: [UInt8]) -> InvalidationLink? {
        guard let tracking = self.tracking else { return nil }
        switch self.backend {
        case .single: return tracking.link(for: nil)
        case .cluster(let cluster):
            // The cache follows the slot map here, before any reply of it is used: this client owns
            // both, and decides what a change means (the cluster tells no one).
            let route = cluster.route(ofKey: key)
            tracking.follow(mapVersion: route.mapVersion) { cluster.primaries }
            return route.owner.flatMap { tracking.link(for: $0) }
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

    /// Every key that matches a pattern, by iterating [SCAN](https://redis.io/commands/scan) to
    /// its end: on a cluster, on every primary. Unlike `KEYS`, this never blocks a server for long.
    public func scanAll(match pattern: String, count: Int = 1000) async throws -> [String] {
        let deadline = NIODeadline.now() + self.configuration.commandTimeout
        switch self.backend {
        case .single:
            return try await self.scanAll(match: pattern, count: count) { command in try await self.send(command) }
        case .cluster(let cluster):
            var keys: [String] = []
            for node in try await cluster.primaryAddresses(deadline: deadline) {
                keys += try await self.scanAll(match: pattern, count: count) { command in
                    try await cluster.send(
                        command, toNode: node, deadline: NIODeadline.now() + self.configuration.commandTimeout)
                }
            }
            return keys
        }
    }

    private func scanAll(
        match pattern: String, count: Int, _ send: (RedisCommand) async throws -> RedisValue
    ) async throws -> [String] {
        var cursor = 0
        var keys: [String] = []
        repeat {
            let step = try Self.scanStep(try await send(Self.scanCommand(cursor: cursor, match: pattern, count: count)))
            keys += step.keys
            cursor = step.cursor
        } while cursor != 0
        return keys
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

    /// Whether every tracking link made so far may answer from the cache (up, and its lease
    /// confirmed); nil without a cache.
    public func trackingServing() -> Bool? {
        self.tracking.map { $0.allServing }
    }

    /// Whether every tracking link made so far is up; nil without a cache.
    public func trackingUp() -> Bool? {
        self.tracking.map { $0.allUp }
    }

    /// Closes every connection. Commands in flight fail with ``RedisClientError/connectionClosed``,
    /// later ones with ``RedisClientError/shutdown``.
    public func shutdown() async {
        await self.tracking?.shutdown()
        await self.barrier?.shutdown()
        self.reference.set(nil)
        switch self.backend {
        case .single(let pool): await pool.shutdown()
        case .cluster(let cluster): await cluster.shutdown()
        }
    }
}

// MARK: The revocation barrier

extension RedisClient {
    /// Call once a write has been answered: returns when no client of the deployment
    /// (``RedisConfiguration/coherence``) can still answer from its cache a reply that the write
    /// invalidated. Each registered cache either acknowledged, having applied the write's
    /// invalidation, or had its lease run out. Returns nil without a barrier configured.
    ///
    /// Throws as ``send(_:)-(RedisCommand)`` does when Redis cannot be asked.
    @discardableResult
    public func barrier() async throws -> BarrierOutcome? {
        guard let barrier = self.barrier else { return nil }
        let coherence = barrier.coherence
        let outcome = try await barrier.run { marker in
            switch self.backend {
            case .single:
                // The marker and the registry read in one script, so one round trip.
                let reply = try await self.evalSHA(
                    CoherenceScripts.round, keys: [coherence.registryKey],
                    arguments: [coherence.markerChannel(node: InvalidationLink.singleLabel), marker])
                return reply.array?.compactMap(\.string) ?? []
            case .cluster(let cluster):
                // The registry, then a marker to each node whose links are registered: on the
                // node itself, behind the invalidations it queued (a message published on one node
                // reaches the others' subscribers through the bus, in no order with their own).
                let reply: RedisValue
                do {
                    reply = try await self.evalSHA(
                        CoherenceScripts.round, keys: [coherence.registryKey], arguments: ["", marker])
                } catch is RedisClientError {
                    // The registry's shard is down (the write's was up): wait out the lease.
                    return nil
                }
                let members = reply.array?.compactMap(\.string) ?? []
                let nodes = Set(members.compactMap { CoherenceMember($0)?.node })
                let deadline = NIODeadline.now() + self.configuration.commandTimeout
                await withTaskGroup(of: Void.self) { group in
                    for node in nodes {
                        group.addTask {
                            // A node that cannot be reached: its links cannot acknowledge, and
                            // the barrier waits out their leases.
                            _ = try? await cluster.send(
                                RedisCommand("PUBLISH", [coherence.markerChannel(node: node), marker]),
                                toNode: node, deadline: deadline)
                        }
                    }
                }
                return members
            }
        }
        return BarrierOutcome(registered: outcome.registered, acknowledged: outcome.acknowledged)
    }

    /// Whether the barrier's acknowledgement channel is subscribed (nil without a barrier): until
    /// it is, a barrier waits out the leases of the registered caches.
    public func barrierReady() -> Bool? {
        self.barrier.map(\.isUp)
    }

    fileprivate func register(_ member: CoherenceMember) async throws -> Bool {
        guard let coherence = self.configuration.coherence else { return false }
        let reply = try await self.evalSHA(
            CoherenceScripts.register, keys: [coherence.registryKey],
            arguments: [member.text, String(member.leaseMilliseconds)])
        return reply.int == 1
    }

    fileprivate func deregister(_ member: CoherenceMember) async {
        guard let coherence = self.configuration.coherence else { return }
        _ = try? await self.evalSHA(
            CoherenceScripts.deregister, keys: [coherence.registryKey], arguments: [member.text])
    }
}

/// What a barrier found: the caches registered, and how many acknowledged in time (the others'
/// leases ran out).
public struct BarrierOutcome: Sendable {
    public var registered: Int
    public var acknowledged: Int
}

/// The client, for the closures its tracking links register through; emptied at shutdown, which
/// ends the cycle.
final class ClientReference: Sendable {
    private let box = NIOLockedValueBox<RedisClient?>(nil)

    var client: RedisClient? { self.box.withLockedValue { $0 } }

    func set(_ client: RedisClient?) { self.box.withLockedValue { $0 = client } }
}
