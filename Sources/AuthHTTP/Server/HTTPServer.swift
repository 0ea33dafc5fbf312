import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

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
    /// Take the client's address from `X-Forwarded-For` (set this only behind a proxy that sets it).
    public var trustForwardedFor = false
    /// On shutdown, requests in flight get this long to finish.
    public var shutdownGracePeriod: TimeAmount = .seconds(10)

    public init() {}
}

/// An HTTP/1.1 server on bare SwiftNIO: `NIOHTTP1`'s codec, keep-alive and pipelining, one router.
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    private let group: any EventLoopGroup
    private let router: Router
    private let logger: Logger
    private let listener = NIOLockedValueBox<(any Channel)?>(nil)
    private let connections = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    private let tracker = RequestTracker()

    public init(configuration: HTTPServerConfiguration, group: any EventLoopGroup, router: Router, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.router = router
        self.logger = logger
    }

    /// Requests being handled right now.
    public var requestsInFlight: Int { self.tracker.count }

    /// Binds and starts accepting. Returns the port, which is useful when asked for port 0.
    @discardableResult
    public func start() async throws -> Int {
        let configuration = self.configuration
        let router = self.router
        let logger = self.logger
        let tracker = self.tracker
        let channel = try await ServerBootstrap(group: self.group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                self.track(channel)
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(readTimeout: configuration.idleTimeout))
                    // No HTTPResponseEncoder or HTTPServerPipelineHandler: HTTPRequestHandler
                    // encodes its responses and orders pipelined requests itself.
                    try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                    try sync.addHandler(
                        HTTPRequestHandler(
                            router: router, maxBodyBytes: configuration.maxBodyBytes,
                            readTimeout: configuration.requestReadTimeout,
                            trustForwardedFor: configuration.trustForwardedFor, tracker: tracker, logger: logger
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

    /// Stops accepting, lets requests in flight finish (up to the grace period), then closes
    /// every connection.
    public func shutdown() async {
        guard let listener = self.listener.withLockedValue({ $0 }) else { return }
        try? await listener.close()
        let open = self.connections.withLockedValue { Array($0.values) }
        for channel in open {
            // HTTPServerPipelineHandler finishes the response in flight, then closes.
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

    private func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        self.connections.withLockedValue { $0[id] = channel }
        channel.closeFuture.whenComplete { _ in
            _ = self.connections.withLockedValue { $0.removeValue(forKey: id) }
        }
    }
}
