import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Limits and timeouts of the HTTP server.
public struct HTTPServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Larger request bodies get 413.
    public var maxBodyBytes = 64 * 1024
    /// A connection with nothing to read for this long is closed.
    public var idleTimeout: TimeAmount = .seconds(60)
    /// A request whose body has not fully arrived this long after its head gets 408 and the
    /// connection is closed: a slow client cannot hold a connection by dribbling its body.
    public var requestReadTimeout: TimeAmount = .seconds(10)
    /// Proxies whose `X-Forwarded-For` is believed: a request from one of them is taken to come
    /// from the right-most address in that header that is not a trusted proxy. Empty: the peer's
    /// address, always.
    public var trustedProxies = TrustedProxies()
    /// Most connections open at once. At the cap a new connection sheds the oldest one that owes no
    /// response (an idle or half-sent one), or is refused when every one is busy; the process never
    /// runs out of descriptors. By default, the descriptor limit less 128 for Redis and files.
    public var maxConnections = HTTPServerConfiguration.defaultMaxConnections
    /// On shutdown, requests in flight get this long to finish.
    public var shutdownGracePeriod: TimeAmount = .seconds(10)

    public init() {}

    public static var defaultMaxConnections: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else {
            return 65_536
        }
        return max(16, min(Int(clamping: limit.rlim_cur) - 128, 1_000_000))
    }
}

/// Whether a connection owes a response, for the server's connection cap.
final class ConnectionActivity: Sendable {
    private let state = Atomic<Bool>(false)

    var busy: Bool {
        get { self.state.load(ordering: .relaxed) }
        set { self.state.store(newValue, ordering: .relaxed) }
    }
}

/// An HTTP/1.1 server on bare SwiftNIO: `NIOHTTP1`'s codec, keep-alive and pipelining, one router.
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    private let group: any EventLoopGroup
    private let router: Router
    private let logger: Logger
    private let listener = NIOLockedValueBox<(any Channel)?>(nil)
    /// The port bound by ``start()``, or why it failed; and who waits for it meanwhile.
    private let bound = NIOLockedValueBox(Bound.waiting([]))

    private enum Bound {
        case waiting([CheckedContinuation<Int, any Error>])
        case done(Result<Int, any Error>)
    }
    private let connections = NIOLockedValueBox(Connections())
    private let tracker = RequestTracker()

    public init(configuration: HTTPServerConfiguration, group: any EventLoopGroup, router: Router, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.router = router
        self.logger = logger
    }

    /// Requests being handled right now.
    public var requestsInFlight: Int { self.tracker.count }

    /// The port the server listens on, once ``start()`` has bound it; throws what `start()` threw.
    public var listeningPort: Int {
        get async throws {
            try await withCheckedThrowingContinuation { continuation in
                let result = self.bound.withLockedValue { bound -> Result<Int, any Error>? in
                    switch bound {
                    case .waiting(let waiters):
                        bound = .waiting(waiters + [continuation])
                        return nil
                    case .done(let result):
                        return result
                    }
                }
                if let result { continuation.resume(with: result) }
            }
        }
    }

    private func settle(_ result: Result<Int, any Error>) {
        let waiters = self.bound.withLockedValue { bound -> [CheckedContinuation<Int, any Error>] in
            guard case .waiting(let waiters) = bound else { return [] }
            bound = .done(result)
            return waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }

    /// Binds and starts accepting. Returns the port, which is useful when asked for port 0.
    @discardableResult
    public func start() async throws -> Int {
        do {
            let port = try await self.bind()
            self.settle(.success(port))
            return port
        } catch {
            self.settle(.failure(error))
            throw error
        }
    }

    private func bind() async throws -> Int {
        let configuration = self.configuration
        let router = self.router
        let logger = self.logger
        let tracker = self.tracker
        let channel = try await ServerBootstrap(group: self.group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            // A client that shuts its sending side down still gets the answers to what it sent
            // (HTTPConnectionStateMachine closes the connection after them).
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                let activity = ConnectionActivity()
                guard self.admit(channel, activity: activity) else {
                    logger.warning(
                        "connection refused: every connection is busy",
                        metadata: ["cap": "\(configuration.maxConnections)"])
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(readTimeout: configuration.idleTimeout))
                    // No HTTPResponseEncoder or HTTPServerPipelineHandler: HTTPRequestHandler
                    // encodes its responses and orders pipelined requests itself.
                    // The decoder's buffer holds only what it has not parsed yet: part of one
                    // request, or everything after a request that asked to upgrade (the decoder
                    // stops there), which the bound turns into a closed connection.
                    try sync.addHandler(
                        ByteToMessageHandler(
                            HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes),
                            maximumBufferSize: Self.maximumUnparsedBytes))
                    try sync.addHandler(
                        HTTPRequestHandler(
                            router: router, maxBodyBytes: configuration.maxBodyBytes,
                            readTimeout: configuration.requestReadTimeout,
                            trustedProxies: configuration.trustedProxies, tracker: tracker, activity: activity,
                            logger: logger
                        )
                    )
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        self.listener.withLockedValue { $0 = channel }
        let port = channel.localAddress?.port ?? configuration.port
        self.logger.info("listening", metadata: ["host": "\(configuration.host)", "port": "\(port)"])
        return port
    }

    /// The most bytes a connection's decoder keeps unparsed (a head is at most 80 KiB to NIO's
    /// parser; one read brings at most 64 KiB).
    static let maximumUnparsedBytes = 256 * 1024

    /// Stops accepting, lets requests in flight finish (up to the grace period), then closes
    /// every connection.
    public func shutdown() async {
        self.settle(.failure(ChannelError.ioOnClosedChannel))
        guard let listener = self.listener.withLockedValue({ $0 }) else { return }
        try? await listener.close()
        let open = self.connections.withLockedValue { $0.open.values.map(\.channel) }
        for channel in open {
            // HTTPRequestHandler finishes the response in flight, then closes.
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        let deadline = NIODeadline.now() + self.configuration.shutdownGracePeriod
        for channel in open {
            let remaining = deadline - .now()
            let closed = channel.closeFuture
            let timeout = channel.eventLoop.scheduleTask(in: max(remaining, .zero)) { channel.close(promise: nil) }
            try? await closed.get()
            timeout.cancel()
        }
        // Requests whose clients hung up may still be running; they are cancelled, but let them end.
        let remaining = deadline - .now()
        await self.tracker.waitUntilIdle(timeout: .nanoseconds(max(remaining.nanoseconds, 0)))
        self.logger.info("http server stopped")
    }

    /// Counts a new connection in, shedding the oldest one that owes no response when at the cap.
    /// Returns `false` when the cap is reached and every connection is busy.
    private func admit(_ channel: any Channel, activity: ConnectionActivity) -> Bool {
        let id = ObjectIdentifier(channel)
        let cap = self.configuration.maxConnections
        let (admitted, shed) = self.connections.withLockedValue { connections -> (Bool, (any Channel)?) in
            var shed: (any Channel)?
            if connections.open.count >= cap {
                guard
                    let oldest = connections.open.filter({ !$0.value.activity.busy })
                        .min(by: { $0.value.order < $1.value.order })
                else { return (false, nil) }
                connections.open.removeValue(forKey: oldest.key)
                shed = oldest.value.channel
            }
            connections.next += 1
            connections.open[id] = Connections.Entry(order: connections.next, channel: channel, activity: activity)
            return (true, shed)
        }
        if let shed {
            self.logger.notice(
                "connection cap reached; closing the oldest idle connection", metadata: ["cap": "\(cap)"])
            shed.close(promise: nil)
        }
        guard admitted else { return false }
        channel.closeFuture.whenComplete { _ in
            _ = self.connections.withLockedValue { $0.open.removeValue(forKey: id) }
        }
        return true
    }
}

/// The open connections, in the order they were accepted.
private struct Connections {
    struct Entry {
        var order: UInt64
        var channel: any Channel
        var activity: ConnectionActivity
    }

    var open: [ObjectIdentifier: Entry] = [:]
    var next: UInt64 = 0
}
