import ASCIIDigits
import CoreMetrics
import Logging
import MetricHandles
import NIOConcurrencyHelpers
import NIOCore

/// This client's side of the revocation barrier (``CoherenceConfiguration``): one connection
/// subscribed to this instance's acknowledgement channel, and the barriers waiting on it.
///
/// A barrier, called once a write has been answered: takes a nonce; publishes `INSTANCE NONCE` on
/// the marker channel of every node with registered links, and reads the registry (one script on
/// one server; on a cluster, the registry read and then a `PUBLISH` to each node); then waits until
/// every registered link has acknowledged the marker, or for the longest lease among those that
/// have not. A link acknowledges a marker after it has applied every invalidation Redis queued
/// before it, on the same connection; a link that cannot acknowledge stops using its cache when its
/// lease ends, so that when the barrier returns, no registered link can still answer from a reply
/// that the write invalidated.
final class RevocationBarrier: Sendable {
    /// Random, per process: the name of this instance's acknowledgement channel.
    let instance = Hex.encode((0..<8).map { _ in UInt8.random(in: .min ... .max) })
    let coherence: CoherenceConfiguration
    private let configuration: RedisConfiguration
    private let eventLoop: any EventLoop
    private let logger: Logger

    private struct Waiter {
        var acknowledged: Set<String> = []
        /// The registered members, once the round has read them.
        var expected: Set<String>?
        let promise: EventLoopPromise<Void>
    }

    private struct State {
        var nextNonce: UInt64 = 0
        var waiters: [UInt64: Waiter] = [:]
        var link: (any Channel)?
        var failures = 0
        var shutdown = false
    }

    private let state = NIOLockedValueBox(State())

    init(configuration: RedisConfiguration, coherence: CoherenceConfiguration, eventLoop: any EventLoop, logger: Logger)
    {
        self.configuration = configuration
        self.coherence = coherence
        self.eventLoop = eventLoop
        self.logger = logger
    }

    /// Whether the acknowledgement connection is subscribed.
    var isUp: Bool { self.state.withLockedValue { $0.link != nil } }

    /// How a barrier ended.
    struct Outcome: Sendable {
        /// Links registered when it ran, and how many acknowledged in time.
        var registered: Int
        var acknowledged: Int
    }

    /// Runs one barrier; `round` publishes the marker it is given and returns the registry, or nil
    /// when the registry cannot be read (on a cluster, its shard is down while the write's is up):
    /// then the barrier waits out this instance's lease, which is enough without knowing who
    /// caches (a cache that has not applied the write's invalidation has had no `PING` answered
    /// since before the write, so its lease ends within one lease of it), and every cache stops
    /// answering anyway while it cannot renew.
    func run(_ round: (_ marker: String) async throws -> [String]?) async throws -> Outcome {
        let started = NIODeadline.now()
        let promise = self.eventLoop.makePromise(of: Void.self)
        let (nonce, ackLinkUp) = self.state.withLockedValue { state in
            state.nextNonce &+= 1
            state.waiters[state.nextNonce] = Waiter(promise: promise)
            return (state.nextNonce, state.link != nil)
        }
        let registry: [String]?
        do {
            registry = try await round("\(self.instance) \(nonce)")
        } catch {
            self.finish(nonce)
            promise.succeed()
            throw error
        }
        guard let members = registry else {
            self.finish(nonce)
            promise.succeed()
            try? await self.eventLoop.scheduleTask(in: self.coherence.lease) {}.futureResult.get()
            BarrierMetrics.registryUnavailable(nanoseconds: (NIODeadline.now() - started).nanoseconds)
            return Outcome(registered: 0, acknowledged: 0)
        }
        // The longest lease among those not acknowledged yet bounds the wait.
        let (missing, bound) = self.state.withLockedValue { state -> (Int, Int) in
            guard var waiter = state.waiters[nonce] else { return (0, 0) }
            waiter.expected = Set(members)
            state.waiters[nonce] = waiter
            let missing = members.filter { !waiter.acknowledged.contains($0) }
            return (missing.count, missing.compactMap { CoherenceMember($0)?.leaseMilliseconds }.max() ?? 0)
        }
        if missing == 0 {
            promise.succeed()
        } else {
            let timeout = self.eventLoop.scheduleTask(in: .milliseconds(Int64(min(bound, 60_000)))) {
                promise.succeed()
            }
            try? await promise.futureResult.get()
            timeout.cancel()
        }
        let acknowledged = self.finish(nonce)
        BarrierMetrics.completed(
            registered: members.count, acknowledged: acknowledged, ackLinkUp: ackLinkUp,
            nanoseconds: (NIODeadline.now() - started).nanoseconds)
        return Outcome(registered: members.count, acknowledged: acknowledged)
    }

    /// Forgets a barrier; returns how many of its registered members acknowledged it.
    @discardableResult
    private func finish(_ nonce: UInt64) -> Int {
        self.state.withLockedValue { state in
            guard let waiter = state.waiters.removeValue(forKey: nonce) else { return 0 }
            return waiter.expected.map { $0.intersection(waiter.acknowledged).count } ?? 0
        }
    }

    /// An acknowledgement: `NONCE MEMBER`.
    private func acknowledged(_ payload: RedisValue) {
        guard case .bulkString(let bytes) = payload, let space = bytes.firstIndex(of: 32),
            let nonce = UInt64(String(decoding: bytes[..<space], as: UTF8.self))
        else { return }
        let member = String(decoding: bytes[(space + 1)...], as: UTF8.self)
        let done = self.state.withLockedValue { state -> EventLoopPromise<Void>? in
            guard var waiter = state.waiters[nonce] else { return nil }
            waiter.acknowledged.insert(member)
            state.waiters[nonce] = waiter
            guard let expected = waiter.expected, expected.isSubset(of: waiter.acknowledged) else { return nil }
            return waiter.promise
        }
        done?.succeed()
    }

    // MARK: The acknowledgement connection

    func start() {
        self.eventLoop.execute { self.connect() }
    }

    func shutdown() async {
        let link = self.state.withLockedValue { state in
            state.shutdown = true
            defer { state.link = nil }
            return state.link
        }
        try? await link?.close()
    }

    /// The server, or the primary Sentinel names; on a cluster, the seed nodes in turn (a message
    /// published on any node reaches every node's subscribers).
    private func connect() {
        let failures = self.state.withLockedValue { $0.failures }
        let target: RedisConfiguration =
            if let cluster = self.configuration.cluster, !cluster.nodes.isEmpty {
                self.configuration.node(
                    host: cluster.nodes[failures % cluster.nodes.count].host,
                    port: cluster.nodes[failures % cluster.nodes.count].port)
            } else {
                self.configuration
            }
        let channel = self.coherence.ackChannel(instance: self.instance)
        let timeout = self.configuration.connectTimeout
        RedisConnection.connect(
            on: self.eventLoop, configuration: target, logger: self.logger,
            messages: { _, payload in self.acknowledged(payload) }
        ).flatMap { link in
            RedisConnection.request(RedisCommand("SUBSCRIBE", [channel]), on: link, timeout: timeout)
                .flatMapThrowing { reply -> any Channel in
                    guard reply.array?.first?.string == "subscribe" else {
                        link.close(promise: nil)
                        throw RedisClientError.unexpectedReply(command: "SUBSCRIBE")
                    }
                    return link
                }
        }.whenComplete { result in
            switch result {
            case .success(let link):
                let kept = self.state.withLockedValue { state -> Bool in
                    guard !state.shutdown else { return false }
                    state.link = link
                    state.failures = 0
                    return true
                }
                guard kept else {
                    link.close(promise: nil)
                    return
                }
                // Without a PING now and then, a link cut silently would look up for ever; while
                // it is down, barriers wait out the leases instead of their acknowledgements.
                let ping = self.eventLoop.scheduleRepeatedTask(
                    initialDelay: self.configuration.commandTimeout, delay: self.configuration.commandTimeout
                ) { _ in
                    RedisConnection.request(RedisCommand("PING"), on: link, timeout: self.configuration.commandTimeout)
                        .whenFailure { _ in link.close(promise: nil) }
                }
                link.closeFuture.whenComplete { _ in
                    ping.cancel()
                    let again = self.state.withLockedValue { state -> Bool in
                        if state.link === link { state.link = nil }
                        return !state.shutdown
                    }
                    if again { self.eventLoop.execute { self.connect() } }
                }
            case .failure(let error):
                let (failures, shutdown) = self.state.withLockedValue { state in
                    state.failures += 1
                    return (state.failures, state.shutdown)
                }
                guard !shutdown else { return }
                if failures == 1 || failures.isMultiple(of: 20) {
                    self.logger.warning(
                        "revocation barrier: acknowledgement channel not subscribed; barriers wait out the leases",
                        metadata: ["error": "\(error)", "failures": "\(failures)"])
                }
                self.eventLoop.scheduleTask(in: self.configuration.reconnectDelay(afterFailures: failures)) {
                    self.connect()
                }
            }
        }
    }
}

/// The barrier's metrics.
enum BarrierMetrics {
    private static let counters = MetricHandles<String, Counter>()

    /// A barrier that could not read the registry and waited out the lease.
    static func registryUnavailable(nanoseconds: Int64) {
        Timer(label: "authd_revocation_barrier_seconds").recordNanoseconds(nanoseconds)
        Self.counters("registry") {
            Counter(label: "authd_revocation_barrier_timeouts_total", dimensions: [("cause", "registry_unavailable")])
        }.increment()
    }

    static func completed(registered: Int, acknowledged: Int, ackLinkUp: Bool, nanoseconds: Int64) {
        Timer(label: "authd_revocation_barrier_seconds").recordNanoseconds(nanoseconds)
        if acknowledged > 0 {
            Self.counters("acks") { Counter(label: "authd_revocation_barrier_acks_total") }
                .increment(by: acknowledged)
        }
        let missing = registered - acknowledged
        guard missing > 0 else { return }
        // `no_ack`: a registered link did not answer within its lease (stopped, cut off, or slow);
        // `ack_channel_down`: this instance's acknowledgement connection was down.
        let cause = ackLinkUp ? "no_ack" : "ack_channel_down"
        Self.counters(cause) {
            Counter(label: "authd_revocation_barrier_timeouts_total", dimensions: [("cause", cause)])
        }.increment(by: missing)
    }
}
