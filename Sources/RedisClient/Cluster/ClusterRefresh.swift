import NIOCore

/// When the slot map is read again, apart from the reading: one refresh at a time (a caller during
/// one joins it), on demand at most once per given age (while no node answers, however many
/// commands ask), never after shutdown. `Running` is what a caller waits on (a future, in
/// ``RedisCluster``).
struct ClusterRefresh<Running: Sendable>: Sendable {
    enum Decision {
        /// Read the map now, and tell ``started(_:)`` what callers are to wait on.
        case start
        /// A refresh is running: wait for it.
        case join(Running)
        /// The last one ended less than the given age ago: nothing to do.
        case recent
        /// Shut down: no refresh.
        case shutDown
    }

    private var running: Running?
    private var lastEnded: NIODeadline?
    private var isShutDown = false

    init() {}

    /// A refresh is asked for at `now`, unless one ended less than `age` ago.
    mutating func requested(at now: NIODeadline, unlessWithin age: TimeAmount = .zero) -> Decision {
        if self.isShutDown { return .shutDown }
        if let running = self.running { return .join(running) }
        if let lastEnded = self.lastEnded, age > .zero, now - lastEnded < age { return .recent }
        return .start
    }

    mutating func started(_ running: Running) {
        self.running = running
    }

    /// The refresh ended at `now`, whether the map was read or no node answered.
    mutating func ended(at now: NIODeadline) {
        self.running = nil
        self.lastEnded = now
    }

    mutating func shutDown() {
        self.isShutDown = true
    }
}
