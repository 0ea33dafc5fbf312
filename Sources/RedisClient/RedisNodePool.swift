import Logging
import NIOConcurrencyHelpers
import NIOCore

/// A small, fixed set of multiplexed, self-healing connections to one Redis server (or to the
/// primary Sentinel names), one per event loop.
///
/// A caller on one of those event loops uses that loop's connection and pays no thread hop.
final class RedisNodePool: Sendable {
    let configuration: RedisConfiguration
    private let slots: [RedisConnectionSlot]
    private let nextSlot = NIOLockedValueBox(0)

    /// `label`: what the connection metrics name this pool by, before each connection's number
    /// ("" for the only pool, so that they are "0", "1", ...).
    init(configuration: RedisConfiguration, loops: [any EventLoop], label: String, logger: Logger) {
        self.configuration = configuration
        self.slots = (0..<max(1, configuration.poolSize)).map { index in
            RedisConnectionSlot(
                label: label.isEmpty ? String(index) : "\(label)/\(index)",
                eventLoop: loops[index % loops.count],
                configuration: configuration,
                logger: logger
            )
        }
        for slot in self.slots {
            RedisMetrics.connection(slot.label, up: false)
            slot.start()
        }
    }

    func send(_ command: RedisCommand, deadline: NIODeadline) async throws -> RedisValue {
        try await self.slot().send(command, deadline: deadline)
    }

    func send(batch commands: [RedisCommand], deadline: NIODeadline) -> EventLoopFuture<[RedisValue]> {
        self.slot().send(batch: commands, deadline: deadline)
    }

    func connectedCount() -> Int {
        self.slots.count(where: \.isConnected)
    }

    func shutdown() async {
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
