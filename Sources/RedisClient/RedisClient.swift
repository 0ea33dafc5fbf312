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

    /// Creates the client and starts connecting in the background. It never blocks and never
    /// throws for an unreachable server: commands fail with ``RedisClientError/unavailable``
    /// until a connection is up.
    public init(configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        let loops = Array(eventLoopGroup.makeIterator())
        if configuration.cluster != nil {
            self.backend = .cluster(RedisCluster(configuration: configuration, loops: loops, logger: logger))
        } else {
            self.backend = .single(RedisNodePool(configuration: configuration, loops: loops, label: "", logger: logger))
        }
    }

    /// Sends one command and returns its reply. An error reply is thrown as ``RedisServerError``.
    public func send(_ command: RedisCommand) async throws -> RedisValue {
        let deadline = NIODeadline.now() + self.configuration.commandTimeout
        switch self.backend {
        case .single(let pool): return try await pool.send(command, deadline: deadline)
        case .cluster(let cluster): return try await cluster.send(command, deadline: deadline)
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

    /// Closes every connection. Commands in flight fail with ``RedisClientError/connectionClosed``,
    /// later ones with ``RedisClientError/shutdown``.
    public func shutdown() async {
        switch self.backend {
        case .single(let pool): await pool.shutdown()
        case .cluster(let cluster): await cluster.shutdown()
        }
    }
}
