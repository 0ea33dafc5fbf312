import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Tracking on one Redis server: a connection subscribed to `__redis__:invalidate`, and a connection
/// whose reads the server tracks (`CLIENT TRACKING on REDIRECT`), its invalidations sent to the
/// first. hiredis 0.14 speaks RESP2, which has no push replies on the reading connection, hence the
/// second connection.
///
/// Both are opened to the same address (after a `ROLE` check when the address came from
/// Sentinel), the subscription before tracking starts. Fails closed: when either connection drops,
/// or the subscriber does not answer a `PING` within ``ClientCacheConfiguration/healthCheckInterval``,
/// both are closed, the cache is emptied, and reads go back to the client's pool until the pair is
/// up again (reconnected with the pool's backoff).
final class TrackingLink: Sendable {
    private enum State {
        case idle
        case connecting(attempt: UInt64)
        case up(Live, ping: RepeatedTask, attempt: UInt64)
        case backingOff(Scheduled<Void>, failures: Int)
        case shutdown
    }

    static let channelName = "__redis__:invalidate"

    /// Its name in metrics and logs.
    let label: String
    private let eventLoop: any EventLoop
    private let configuration: RedisConfiguration
    private let cacheConfiguration: ClientCacheConfiguration
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
        /// The subscriber's socket, and whether its pipeline is handling bytes right now.
        var descriptor: CInt
        var activity: ReadActivity
    }

    private let live = NIOLockedValueBox<Live?>(nil)

    init(
        label: String,
        eventLoop: any EventLoop,
        configuration: RedisConfiguration,
        cache: ClientSideCache,
        logger: Logger,
        resolve: @escaping @Sendable (any EventLoop) -> EventLoopFuture<RedisConfiguration.Endpoint>
    ) {
        self.label = label
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.cacheConfiguration = configuration.clientCache ?? ClientCacheConfiguration()
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

    /// Whether a cached reply may be used now: tracking is up, and no invalidation waits unread in
    /// the subscriber's socket or half-handled in its pipeline.
    var isQuiet: Bool {
        guard let (descriptor, activity) = self.live.withLockedValue({ $0.map { ($0.descriptor, $0.activity) } })
        else { return false }
        return !activity.isReading && !SubscriberSocket.hasUnreadBytes(descriptor)
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
            switch previous {
            case .up(let live, let ping, _):
                ping.cancel()
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
        self.open(attempt: attempt).whenComplete { result in
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

    /// The subscriber first (its id, then `SUBSCRIBE`), then the reader, told to send its
    /// invalidations to the subscriber.
    private func open(attempt: UInt64) -> EventLoopFuture<Live> {
        let configuration = self.configuration
        let primaryOnly = configuration.sentinel != nil
        let loop = self.eventLoop
        let timeout = configuration.connectTimeout
        let activity = ReadActivity()
        // An address Sentinel gave must be the primary's, for both connections.
        let checked: @Sendable (any Channel) -> EventLoopFuture<any Channel> = { channel in
            primaryOnly
                ? RedisConnection.checkPrimary(channel, configuration: configuration)
                : loop.makeSucceededFuture(channel)
        }
        return self.resolve(loop).flatMap { endpoint in
            SubscriberSocket.open(endpoint, timeout: timeout, on: loop).flatMap { descriptor in
                RedisConnection.connect(
                    on: loop, to: endpoint, configuration: configuration,
                    invalidations: { keys in self.received(keys) }, socket: (descriptor, activity)
                )
                .map { ($0, descriptor) }
            }
            .flatMap { subscriber, descriptor in
                checked(subscriber)
                    .flatMap { _ in
                        RedisConnection.request(RedisCommand("CLIENT", ["ID"]), on: subscriber, timeout: timeout)
                    }
                    .flatMap { id in
                        RedisConnection.request(
                            RedisCommand("SUBSCRIBE", [Self.channelName]), on: subscriber, timeout: timeout
                        )
                        .flatMapThrowing { reply -> Int in
                            guard let id = id.int, reply.array?.first?.string == "subscribe" else {
                                throw RedisClientError.unexpectedReply(command: "SUBSCRIBE")
                            }
                            return id
                        }
                    }
                    .flatMap { id in
                        RedisConnection.connect(on: loop, to: endpoint, configuration: configuration)
                            .flatMap { reader in
                                checked(reader)
                                    .flatMap { _ in
                                        RedisConnection.request(
                                            self.trackingCommand(redirectTo: id), on: reader, timeout: timeout)
                                    }
                                    .flatMapThrowing { reply in
                                        if case .error(let error) = reply { throw error }
                                        return Live(
                                            reader: reader, subscriber: subscriber, descriptor: descriptor,
                                            activity: activity)
                                    }
                                    .flatMapErrorThrowing { error in
                                        reader.close(promise: nil)
                                        throw error
                                    }
                            }
                    }
                    .flatMapErrorThrowing { error in
                        subscriber.close(promise: nil)
                        throw error
                    }
            }
        }
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
        let interval = self.cacheConfiguration.healthCheckInterval
        // A PING the subscriber does not answer within the interval closes it (the command
        // handler's deadline), which ends the pair below.
        let ping = self.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            RedisConnection.request(RedisCommand("PING"), on: subscriber, timeout: interval).whenFailure { _ in
                subscriber.close(promise: nil)
            }
        }
        self.state.value = .up(live, ping: ping, attempt: attempt)
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

    /// Either connection of the pair is gone: tracking is over until both are back.
    private func lost(attempt: UInt64) {
        guard case .up(let live, let ping, let current) = self.state.value, current == attempt else { return }
        // No reader first, then the flush: a read that began after the flush never uses this pair.
        self.live.withLockedValue { $0 = nil }
        self.cache.flush("lost")
        ping.cancel()
        live.subscriber.close(promise: nil)
        live.reader.close(promise: nil)
        CacheMetrics.tracking(self.label, up: false)
        self.logger.warning(
            "redis tracking lost; cache emptied, reads go to the pool", metadata: ["node": "\(self.label)"])
        self.connect()
    }

    private func received(_ keys: [[UInt8]]?) {
        guard let keys else {
            self.cache.flush("flush")
            return
        }
        self.cache.invalidate(keys)
    }
}
