import Logging
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// Tracking on one Redis server: a connection subscribed to `__redis__:invalidate`, and a connection
/// whose reads the server tracks (`CLIENT TRACKING on REDIRECT`), its invalidations sent to the
/// first. hiredis 0.14 speaks RESP2, which has no push replies on the reading connection, hence the
/// second connection.
///
/// Both are opened to the same address (after a `ROLE` check when the address came from
/// Sentinel), the subscription before tracking starts. Fails closed: when either connection drops,
/// or the subscriber does not answer a `PING` within ``ClientSideCacheConfiguration/healthCheckInterval``,
/// both are closed, the cache is emptied, and reads go back to the client's pool until the pair is
/// up again (reconnected with the pool's backoff).
///
/// **The lease.** Its cache may answer only until ``leaseDeadline``: the lease from the last `PING`
/// the subscriber answered (everything Redis queued on it before that `PING` has been applied),
/// and, with a barrier (``CoherenceConfiguration``), from the last renewal of its registration that
/// Redis confirmed, less a tenth for the clocks. A renewal that finds the registration lapsed
/// empties the cache first: a barrier may have passed without waiting for this link. The
/// subscriber also listens for the barrier's markers and acknowledges each one on the reader, after
/// every invalidation queued before it.
final class InvalidationLink: Sendable {
    private enum State {
        case idle
        case connecting(attempt: UInt64)
        case up(Live, renewal: RepeatedTask, attempt: UInt64)
        case backingOff(Scheduled<Void>, failures: Int)
        case shutdown
    }

    static let channelName = "__redis__:invalidate"
    /// The label of the only link (not on a cluster): its name in metrics, and its node in the
    /// barrier's registry and marker channel.
    static let singleLabel = "0"

    /// Its name in metrics and logs.
    let label: String
    private let eventLoop: any EventLoop
    private let configuration: RedisConfiguration
    private let cacheConfiguration: ClientSideCacheConfiguration
    private let cache: ClientSideCache
    /// Where the server is: its address, or Sentinel's answer.
    private let resolve: @Sendable (any EventLoop) -> EventLoopFuture<RedisConfiguration.Endpoint>
    private let logger: Logger
    private let state: NIOLoopBoundBox<State>
    private let attempts: NIOLoopBoundBox<(next: UInt64, failures: Int)>
    /// The pair while it is up, for callers on any thread.
    private struct Live {
        var reader: any Channel
        var subscriber: any Channel
    }

    private let live = NIOLockedValueBox<Live?>(nil)
    /// Until when (``LeaseClock``) the cache may answer for this link; 0: not at all.
    private let deadline = Atomic<Int64>(0)
    /// When the last `PING` the subscriber answered, and the last renewal Redis confirmed, were
    /// sent (``LeaseClock``), for the pair that is up.
    private let confirmed: NIOLoopBoundBox<(subscriber: Int64?, registry: Int64?)>
    private let coherence: CoherenceConfiguration?
    private let registrar: Registrar?
    /// This link in the registry.
    let member: CoherenceMember?

    init(
        label: String,
        eventLoop: any EventLoop,
        configuration: RedisConfiguration,
        cache: ClientSideCache,
        logger: Logger,
        resolve: @escaping @Sendable (any EventLoop) -> EventLoopFuture<RedisConfiguration.Endpoint>,
        registrar: Registrar? = nil
    ) {
        self.label = label
        self.coherence = configuration.coherence
        self.registrar = configuration.coherence == nil ? nil : registrar
        self.member = self.registrar.map {
            CoherenceMember(
                leaseMilliseconds: configuration.coherence!.leaseMilliseconds, instance: $0.instance, node: label)
        }
        self.confirmed = .makeBoxSendingValue((nil, nil), eventLoop: eventLoop)
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.cacheConfiguration = configuration.clientSideCache ?? ClientSideCacheConfiguration()
        self.cache = cache
        self.resolve = resolve
        self.logger = logger
        self.state = .makeBoxSendingValue(.idle, eventLoop: eventLoop)
        self.attempts = .makeBoxSendingValue((0, 0), eventLoop: eventLoop)
    }

    /// The tracked reading connection while the pair is up (tests hold its reads back with it).
    var readerChannel: (any Channel)? {
        self.live.withLockedValue { $0?.reader }
    }

    /// The subscribed connection while the pair is up (tests hold its invalidations back with it).
    var subscriberChannel: (any Channel)? {
        self.live.withLockedValue { $0?.subscriber }
    }

    var isUp: Bool {
        self.live.withLockedValue { $0 != nil }
    }

    /// Whether a cached reply may be used now: the lease holds.
    var mayServe: Bool {
        let deadline = self.deadline.load(ordering: .acquiring)
        return deadline != 0 && LeaseClock.now() < deadline
    }

    func start() {
        CacheMetrics.tracking(self.label, up: false)
        self.eventLoop.execute {
            guard case .idle = self.state.value else { return }
            self.connect()
        }
    }

    /// Sends a read on the tracked connection and stores its reply unless it was overtaken. Nil
    /// when tracking is not up: the caller asks the pool instead, and nothing is stored.
    func read(_ command: RedisCommand, key: [UInt8], signature: [UInt8], deadline: NIODeadline) async throws
        -> RedisValue?
    {
        // The ticket is taken before the connection is looked at: a flush between the two (the
        // pair lost) then always drops this read's reply.
        let ticket = self.cache.begin(key)
        guard let channel = self.live.withLockedValue({ $0?.reader }) else {
            self.cache.abandon(ticket)
            return nil
        }
        let promise = channel.eventLoop.makePromise(of: RedisValue.self)
        channel.writeAndFlush(RedisRequest.one(command, promise, deadline: deadline), promise: nil)
        do {
            let reply = try await promise.futureResult.get()
            self.cache.finish(ticket, signature: signature, reply: reply)
            return reply
        } catch {
            self.cache.abandon(ticket)
            throw error
        }
    }

    func shutdown() -> EventLoopFuture<Void> {
        self.eventLoop.flatSubmit {
            let previous = self.state.value
            self.state.value = .shutdown
            self.live.withLockedValue { $0 = nil }
            self.deadline.store(0, ordering: .releasing)
            self.deregister()
            switch previous {
            case .up(let live, let renewal, _):
                renewal.cancel()
                self.cache.flush("lost")
                return live.subscriber.close().and(live.reader.close()).map { _ in }.recover { _ in }
            case .backingOff(let retry, _):
                retry.cancel()
            default:
                break
            }
            return self.eventLoop.makeSucceededVoidFuture()
        }
    }

    // MARK: Connecting

    private func connect() {
        self.attempts.value.next += 1
        let attempt = self.attempts.value.next
        self.state.value = .connecting(attempt: attempt)
        let opened = self.eventLoop.makePromise(of: Live.self)
        opened.completeWithTask { try await self.open() }
        opened.futureResult.whenComplete { result in
            guard case .connecting(let current) = self.state.value, current == attempt else {
                // Shut down meanwhile.
                if case .success(let live) = result {
                    live.subscriber.close(promise: nil)
                    live.reader.close(promise: nil)
                }
                return
            }
            switch result {
            case .success(let live):
                self.established(live, attempt: attempt)
            case .failure(let error):
                self.attempts.value.failures += 1
                let failures = self.attempts.value.failures
                if failures == 1 || failures.isMultiple(of: 20) {
                    self.logger.warning(
                        "redis tracking not established; reads go to the pool",
                        metadata: ["node": "\(self.label)", "error": "\(error)", "failures": "\(failures)"])
                }
                let delay = self.configuration.reconnectDelay(afterFailures: failures)
                let retry = self.eventLoop.scheduleTask(in: delay) {
                    guard case .backingOff = self.state.value else { return }
                    self.connect()
                }
                self.state.value = .backingOff(retry, failures: failures)
            }
        }
    }

    /// The subscriber first (its id, then `SUBSCRIBE` to the invalidations and to this node's
    /// barrier markers), then the reader, told to send its invalidations to the subscriber. A
    /// connection opened by an attempt that fails is closed.
    private func open() async throws -> Live {
        let configuration = self.configuration
        let loop = self.eventLoop
        let timeout = configuration.connectTimeout
        let endpoint = try await self.resolve(loop).get()
        let subscriber = try await RedisConnection.connect(
            on: loop, to: endpoint, configuration: configuration,
            messages: { channel, payload in self.received(channel: channel, payload) }
        ).get()
        do {
            try await self.checkPrimary(subscriber)
            let id = try await RedisConnection.request(RedisCommand("CLIENT", ["ID"]), on: subscriber, timeout: timeout)
                .get()
            // One SUBSCRIBE a channel, sent at once: each answers with one reply.
            let channels = [Self.channelName] + (self.coherence.map { [$0.markerChannel(node: self.label)] } ?? [])
            let subscribed = channels.map { channel in
                RedisConnection.request(RedisCommand("SUBSCRIBE", [channel]), on: subscriber, timeout: timeout)
            }
            let replies = try await EventLoopFuture.whenAllSucceed(subscribed, on: loop).get()
            guard let id = id.int, replies.allSatisfy({ $0.array?.first?.string == "subscribe" }) else {
                throw RedisClientError.unexpectedReply(command: "SUBSCRIBE")
            }
            let reader = try await RedisConnection.connect(on: loop, to: endpoint, configuration: configuration).get()
            do {
                try await self.checkPrimary(reader)
                let reply = try await RedisConnection.request(
                    self.trackingCommand(redirectTo: id), on: reader, timeout: timeout
                ).get()
                if case .error(let error) = reply { throw error }
                return Live(reader: reader, subscriber: subscriber)
            } catch {
                reader.close(promise: nil)
                throw error
            }
        } catch {
            subscriber.close(promise: nil)
            throw error
        }
    }

    /// An address Sentinel gave must be the primary's, for both connections.
    private func checkPrimary(_ channel: any Channel) async throws {
        guard self.configuration.sentinel != nil else { return }
        _ = try await RedisConnection.checkPrimary(channel, configuration: self.configuration).get()
    }

    private func trackingCommand(redirectTo id: Int) -> RedisCommand {
        var command = RedisCommand("CLIENT", ["TRACKING", "on", "REDIRECT", String(id)])
        if case .broadcast(let prefixes) = self.cacheConfiguration.tracking {
            command.append("BCAST")
            for prefix in prefixes {
                command.append("PREFIX")
                command.append(prefix)
            }
        }
        return command
    }

    private func established(_ live: Live, attempt: UInt64) {
        let (subscriber, reader) = (live.subscriber, live.reader)
        // The lease is renewed every quarter of its length: a PING on the subscriber (the command
        // handler's deadline closes a subscriber that does not answer it, which ends the pair
        // below), a ROLE check on the reader when the address came from Sentinel, and the
        // registration.
        let period = TimeAmount.nanoseconds(max(self.leaseLength.nanoseconds / 4, 1_000_000))
        self.confirmed.value = (nil, nil)
        let renewal = self.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: period) { _ in
            self.renew(subscriber: subscriber, reader: reader, attempt: attempt)
        }
        self.state.value = .up(live, renewal: renewal, attempt: attempt)
        self.attempts.value.failures = 0
        self.live.withLockedValue { $0 = live }
        CacheMetrics.tracking(self.label, up: true)
        self.logger.info("redis tracking up", metadata: ["node": "\(self.label)"])
        for channel in [subscriber, reader] {
            channel.closeFuture.whenComplete { _ in
                self.eventLoop.execute { self.lost(attempt: attempt) }
            }
        }
    }

    /// How long the cache may answer after a confirmation: the barrier's lease, or without one the
    /// health-check interval.
    private var leaseLength: TimeAmount {
        self.coherence?.lease ?? self.cacheConfiguration.healthCheckInterval
    }

    private func renew(subscriber: any Channel, reader: any Channel, attempt: UInt64) {
        let sent = LeaseClock.now()
        let timeout = self.cacheConfiguration.healthCheckInterval
        RedisConnection.request(RedisCommand("PING"), on: subscriber, timeout: timeout).whenComplete { result in
            guard case .success = result else {
                subscriber.close(promise: nil)
                return
            }
            guard self.isCurrent(attempt) else { return }
            self.confirmed.value.subscriber = max(self.confirmed.value.subscriber ?? sent, sent)
            self.updateDeadline()
        }
        if self.configuration.sentinel != nil {
            // A primary demoted by a failover keeps its connections: the pair must move.
            RedisConnection.request(RedisCommand("ROLE"), on: reader, timeout: timeout).whenComplete { result in
                if case .success(let role) = result, role.array?.first?.string == "master" { return }
                reader.close(promise: nil)
            }
        }
        guard let registrar = self.registrar, let member = self.member else { return }
        let promise = self.eventLoop.makePromise(of: Bool.self)
        promise.completeWithTask { try await registrar.register(member) }
        promise.futureResult.whenSuccess { continuous in
            guard self.isCurrent(attempt) else { return }
            if !continuous {
                // The registration had lapsed (or this is the first): a barrier may have passed
                // without waiting for this link, so nothing read before now may be answered.
                self.cache.flush("lease")
            }
            self.confirmed.value.registry = max(self.confirmed.value.registry ?? sent, sent)
            self.updateDeadline()
        }
    }

    private func isCurrent(_ attempt: UInt64) -> Bool {
        if case .up(_, _, let current) = self.state.value { return current == attempt }
        return false
    }

    /// The lease from both confirmations (the registry's less a tenth of the lease, for the
    /// difference between this clock and the one Redis stamps leases with).
    private func updateDeadline() {
        let length = self.leaseLength.nanoseconds
        guard let subscriber = self.confirmed.value.subscriber else { return }
        var deadline = subscriber + length
        if self.registrar != nil {
            guard let registry = self.confirmed.value.registry else { return }
            deadline = min(deadline, registry + length - length / 10)
        }
        self.deadline.store(deadline, ordering: .releasing)
    }

    private func deregister() {
        guard let registrar = self.registrar, let member = self.member else { return }
        Task { await registrar.deregister(member) }
    }

    /// Either connection of the pair is gone: tracking is over until both are back.
    private func lost(attempt: UInt64) {
        guard case .up(let live, let renewal, let current) = self.state.value, current == attempt else { return }
        // No lease and no reader first, then the flush: a read that began after the flush never
        // uses this pair.
        self.deadline.store(0, ordering: .releasing)
        self.live.withLockedValue { $0 = nil }
        self.cache.flush("lost")
        self.deregister()
        renewal.cancel()
        live.subscriber.close(promise: nil)
        live.reader.close(promise: nil)
        CacheMetrics.tracking(self.label, up: false)
        self.logger.warning(
            "redis tracking lost; cache emptied, reads go to the pool", metadata: ["node": "\(self.label)"])
        self.connect()
    }

    /// A message on the subscriber, in the order Redis queued it: an invalidation, or a barrier's
    /// marker (`INSTANCE NONCE`), acknowledged once every invalidation before it has been applied.
    private func received(channel: [UInt8], _ payload: RedisValue) {
        if channel.elementsEqual(Self.channelName.utf8) {
            guard let keys = payload.invalidatedKeys else {
                self.cache.flush("flush")
                return
            }
            self.cache.invalidate(keys)
            return
        }
        guard let coherence = self.coherence, let member = self.member, case .bulkString(let marker) = payload,
            let space = marker.firstIndex(of: 32),
            let reader = self.live.withLockedValue({ $0?.reader })
        else { return }
        let instance = String(decoding: marker[..<space], as: UTF8.self)
        let nonce = String(decoding: marker[(space + 1)...], as: UTF8.self)
        // Not awaited: a lost acknowledgement only makes that barrier wait out this link's lease.
        _ = RedisConnection.request(
            RedisCommand("PUBLISH", [coherence.ackChannel(instance: instance), "\(nonce) \(member.text)"]),
            on: reader, timeout: self.configuration.commandTimeout)
    }
}

/// How a tracking link registers for the barrier: through the client's pool (the registry may be
/// on another node of a cluster than the link).
struct Registrar: Sendable {
    /// Names this process in the registry's members.
    let instance: String
    /// Renews the member's lease; true when the previous one still held.
    let register: @Sendable (CoherenceMember) async throws -> Bool
    let deregister: @Sendable (CoherenceMember) async -> Void
}
