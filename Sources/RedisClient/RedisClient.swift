import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A Redis client over a small, fixed set of multiplexed, self-healing connections.
///
/// Each connection lives on one event loop of the group it is given (share the HTTP server's),
/// and any number of commands can be in flight on it at once. A caller on one of those event loops
/// uses that loop's connection and pays no thread hop.
///
/// Errors are typed: ``RedisServerError`` for an error reply, ``RedisClientError`` for everything
/// else (``RedisClientError/unavailable`` during an outage, so that callers can answer 503).
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    private let slots: [RedisConnectionSlot]
    private let nextSlot = NIOLockedValueBox(0)

    /// Creates the client and starts connecting in the background. It never blocks and never
    /// throws for an unreachable server: commands fail with ``RedisClientError/unavailable``
    /// until a connection is up.
    public init(configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        let loops = Array(eventLoopGroup.makeIterator())
        self.slots = (0..<max(1, configuration.poolSize)).map { index in
            RedisConnectionSlot(
                index: index,
                eventLoop: loops[index % loops.count],
                configuration: configuration,
                logger: logger
            )
        }
        for slot in self.slots {
            RedisMetrics.connection(slot.index, up: false)
            slot.start()
        }
    }

    /// Sends one command and returns its reply. An error reply is thrown as ``RedisServerError``.
    public func send(_ command: RedisCommand) async throws -> RedisValue {
        try await self.slot().send(command, deadline: .now() + self.configuration.commandTimeout)
    }

    /// Sends a command given by name and text arguments, such as `send("GET", ["key"])`.
    @discardableResult
    public func send(_ name: String, _ arguments: [String]) async throws -> RedisValue {
        try await self.send(RedisCommand(name, arguments))
    }

    /// Sends several commands in one write and returns all their replies in order. Error replies
    /// are returned as ``RedisValue/error(_:)`` in their place, not thrown; a connection failure
    /// fails the whole batch. Not a transaction: other callers' commands may run in between.
    public func pipeline(_ commands: [RedisCommand]) async throws -> [RedisValue] {
        try await self.pipelineFuture(commands).get()
    }

    public func pipelineFuture(_ commands: [RedisCommand]) -> EventLoopFuture<[RedisValue]> {
        self.slot().send(batch: commands, deadline: .now() + self.configuration.commandTimeout)
    }

    /// How many of the pool's connections are up right now.
    public func connectedCount() -> Int {
        self.slots.count(where: \.isConnected)
    }

    /// Closes every connection. Commands in flight fail with ``RedisClientError/connectionClosed``,
    /// later ones with ``RedisClientError/shutdown``.
    public func shutdown() async {
        for slot in self.slots {
            try? await slot.shutdown().get()
        }
    }

    /// The current event loop's connection when called on one of them, else the next in turn.
    /// A connection that is down is passed over for one that is up, so that while connections
    /// come back one by one after an outage, no command fails that one of them could carry.
    private func slot() -> RedisConnectionSlot {
        if self.slots.count == 1 { return self.slots[0] }
        let preferred =
            self.slots.first(where: { $0.eventLoop.inEventLoop })
            ?? self.slots[
                self.nextSlot.withLockedValue { next in
                    defer { next = (next + 1) % self.slots.count }
                    return next
                }
            ]
        if preferred.isConnected { return preferred }
        return self.slots.first(where: \.isConnected) ?? preferred
    }
}
