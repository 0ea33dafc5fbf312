import Logging
import NIOConcurrencyHelpers
import NIOCore

/// A small, fixed set of multiplexed, self-healing connections to one Redis server (or to the
/// primary Sentinel names), one per event loop.
///
/// A caller on one of those event loops uses that loop's connection and pays no thread hop.
final class RedisNodePool: Sendable {
    let configuration: RedisConfiguration
    private let connections: [ReconnectingConnection]
    private let nextConnection = NIOLockedValueBox(0)

    /// `label`: what the connection metrics name this pool by, before each connection's number
    /// ("" for the only pool, so that they are "0", "1", ...).
    init(configuration: RedisConfiguration, loops: [any EventLoop], label: String, logger: Logger) {
        self.configuration = configuration
        self.connections = (0..<max(1, configuration.poolSize)).map { index in
            ReconnectingConnection(
                label: label.isEmpty ? String(index) : "\(label)/\(index)",
                eventLoop: loops[index % loops.count],
                configuration: configuration,
                logger: logger
            )
        }
        for connection in self.connections {
            RedisMetrics.connection(connection.label, up: false)
            connection.start()
        }
    }

    func send(_ command: RedisCommand, deadline: NIODeadline) async throws -> RedisValue {
        try await self.connection().send(command, deadline: deadline)
    }

    func send(batch commands: [RedisCommand], deadline: NIODeadline) -> EventLoopFuture<[RedisValue]> {
        self.connection().send(batch: commands, deadline: deadline)
    }

    func connectedCount() -> Int {
        self.connections.count(where: \.isConnected)
    }

    func shutdown() async {
        for connection in self.connections {
            try? await connection.shutdown().get()
        }
    }

    /// The current event loop's connection when called on one of them, else the next in turn.
    /// A connection that is down is passed over for one that is up, so that while connections
    /// come back one by one after an outage, no command fails that one of them could carry.
    private func connection() -> ReconnectingConnection {
        if self.connections.count == 1 { return self.connections[0] }
        let preferred =
            self.connections.first(where: { $0.eventLoop.inEventLoop })
            ?? self.connections[
                self.nextConnection.withLockedValue { next in
                    defer { next = (next + 1) % self.connections.count }
                    return next
                }
            ]
        if preferred.isConnected { return preferred }
        return self.connections.first(where: \.isConnected) ?? preferred
    }
}
