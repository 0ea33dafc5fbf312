import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// One multiplexed connection to Redis that re-opens itself, bound to one event loop.
///
/// All state lives on that event loop (`NIOLoopBoundBox`), so no lock is needed.
///
/// - While connected, commands are written at once and pipelined.
/// - While the first connect of a healthy connection is in progress, commands wait for it (bounded by the
///   connect timeout).
/// - After a failure, commands fail fast with ``RedisClientError/unavailable`` until a reconnect,
///   retried with capped exponential backoff, succeeds.
final class ReconnectingConnection: Sendable {
    private enum State {
        case idle
        /// `failures` counts the attempts that failed in a row before this one.
        case connecting(EventLoopFuture<any Channel>, failures: Int)
        /// The channel, and its command handler, which takes commands directly.
        case connected(any Channel, RedisCommandHandler)
        case backingOff(failures: Int, retry: Scheduled<Void>)
        case shutdown
    }

    let eventLoop: any EventLoop
    /// The connection's name in metrics: its number in the pool, after the node's address in a cluster.
    let label: String
    private let configuration: RedisConfiguration
    private let logger: Logger
    private let state: NIOLoopBoundBox<State>
    /// Mirrors "state is connected" for readers on other threads, so the client can route around
    /// a connection that is down.
    private let up = NIOLockedValueBox(false)
    /// Set while connecting fails because AUTH or TLS is refused: a configuration error, not an
    /// outage.
    /// Commands then fail with it rather than with ``RedisClientError/unavailable``, so that every
    /// caller (and every 503's log line) names the cause.
    private let configurationFailure: NIOLoopBoundBox<RedisClientError?>

    init(label: String, eventLoop: any EventLoop, configuration: RedisConfiguration, logger: Logger) {
        self.label = label
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.logger = logger
        self.state = .makeBoxSendingValue(.idle, eventLoop: eventLoop)
        self.configurationFailure = .makeBoxSendingValue(nil, eventLoop: eventLoop)
    }

    /// Whether a connection is up right now.
    var isConnected: Bool {
        self.up.withLockedValue { $0 }
    }

    func start() {
        self.eventLoop.execute {
            guard case .idle = self.state.value else { return }
            self.connect(failures: 0)
        }
    }

    /// The reply, for a caller that awaits it.
    func send(_ command: RedisCommand, deadline: NIODeadline) async throws -> RedisValue {
        try await withUnsafeThrowingContinuation { continuation in
            self.submit(.awaiting(command, continuation, deadline: deadline))
        }
    }

    func send(batch commands: [RedisCommand], deadline: NIODeadline) -> EventLoopFuture<[RedisValue]> {
        let promise = self.eventLoop.makePromise(of: [RedisValue].self)
        self.submit(.batch(commands, promise, deadline: deadline))
        return promise.futureResult
    }

    func shutdown() -> EventLoopFuture<Void> {
        self.eventLoop.flatSubmit {
            let previous = self.state.value
            self.state.value = .shutdown
            self.up.withLockedValue { $0 = false }
            switch previous {
            case .connected(let channel, _):
                return channel.close().recover { _ in }
            case .connecting(let future, _):
                return future.flatMap { $0.close() }.recover { _ in }
            case .backingOff(_, let retry):
                retry.cancel()
                return self.eventLoop.makeSucceededVoidFuture()
            case .idle, .shutdown:
                return self.eventLoop.makeSucceededVoidFuture()
            }
        }
    }

    // MARK: - On the event loop

    private func submit(_ request: RedisRequest) {
        if self.eventLoop.inEventLoop {
            self.submitOnLoop(request)
        } else {
            self.eventLoop.execute { self.submitOnLoop(request) }
        }
    }

    private func submitOnLoop(_ request: RedisRequest) {
        switch self.state.value {
        case .connected(_, let handler):
            handler.submit(request)
        case .connecting(let attempt, failures: 0):
            // Runs after connect()'s own callback on the same future, which has set the state.
            attempt.whenComplete { result in
                switch (result, self.state.value) {
                case (.success, .connected(_, let handler)): handler.submit(request)
                case (.failure(let error), _): request.fail(error)
                case (.success, _): request.fail(RedisClientError.connectionClosed)
                }
            }
        case .shutdown:
            request.fail(RedisClientError.shutdown)
        case .idle, .connecting, .backingOff:
            RedisMetrics.error("unavailable")
            request.fail(self.configurationFailure.value ?? RedisClientError.unavailable)
        }
    }

    private func connect(failures: Int) {
        let attempt = RedisConnection.connect(
            on: self.eventLoop,
            configuration: self.configuration,
            logger: self.logger
        )
        self.state.value = .connecting(attempt, failures: failures)
        attempt.whenComplete { result in
            guard case .connecting = self.state.value else {
                // Shut down while connecting: shutdown() closes the channel.
                return
            }
            switch result {
            case .success(let channel):
                guard let handler = try? channel.pipeline.syncOperations.handler(type: RedisCommandHandler.self)
                else {
                    // Closed between its handshake and now (its handlers are gone): a failed
                    // attempt like any other.
                    self.scheduleReconnect(failures: failures + 1, error: RedisClientError.connectionClosed)
                    return
                }
                if failures > 0 {
                    self.logger.info("redis connection restored", metadata: ["redis": "\(self.configuration)"])
                }
                self.state.value = .connected(channel, handler)
                self.configurationFailure.value = nil
                self.up.withLockedValue { $0 = true }
                RedisMetrics.connection(self.label, up: true)
                channel.closeFuture.whenComplete { _ in self.connectionClosed(channel) }
            case .failure(let error):
                // The latest attempt decides: a server that later stops answering is an outage.
                switch error {
                case RedisClientError.authenticationFailed, RedisClientError.tlsFailed:
                    self.configurationFailure.value = error as? RedisClientError
                default:
                    self.configurationFailure.value = nil
                }
                self.scheduleReconnect(failures: failures + 1, error: error)
            }
        }
    }

    private func connectionClosed(_ channel: any Channel) {
        guard case .connected(let current, _) = self.state.value, current === channel else { return }
        self.up.withLockedValue { $0 = false }
        RedisMetrics.connection(self.label, up: false)
        self.logger.warning("redis connection lost", metadata: ["redis": "\(self.configuration)"])
        // Reconnect at once, but fail new commands fast until it is up.
        self.connect(failures: 1)
    }

    private func scheduleReconnect(failures: Int, error: any Error) {
        let delay = self.configuration.reconnectDelay(afterFailures: failures)
        // Log the first failure loudly and later ones quietly, so an outage does not flood the log.
        let level: Logger.Level = failures <= 2 ? .warning : .debug
        self.logger.log(
            level: level,
            "redis connect failed",
            metadata: [
                "redis": "\(self.configuration)", "error": "\(error)",
                "retry_in_ms": "\(delay.nanoseconds / 1_000_000)",
            ]
        )
        let retry = self.eventLoop.scheduleTask(in: delay) {
            guard case .backingOff = self.state.value else { return }
            self.connect(failures: failures)
        }
        self.state.value = .backingOff(failures: failures, retry: retry)
    }
}
