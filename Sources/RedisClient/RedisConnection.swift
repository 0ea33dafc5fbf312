import Logging
import NIOCore
import NIOPosix

/// Opens one connection: the NIO channel with its RESP pipeline, then the handshake.
enum RedisConnection {
    static func connect(
        on eventLoop: any EventLoop,
        configuration: RedisConfiguration,
        logger: Logger,
        messages: (@Sendable (_ channel: [UInt8], _ payload: RedisValue) -> Void)? = nil
    ) -> EventLoopFuture<any Channel> {
        guard let sentinel = configuration.sentinel else {
            return self.connect(
                on: eventLoop, to: configuration.endpoint, configuration: configuration, messages: messages)
        }
        // Ask the sentinels where the primary is, then check that it really is the primary: just
        // after a failover, a stale answer or a demoted server must not take writes.
        return Sentinel.primaryAddress(sentinel, on: eventLoop, configuration: configuration)
            .flatMap { endpoint in
                self.connect(on: eventLoop, to: endpoint, configuration: configuration, messages: messages)
            }
            .flatMap { channel in self.checkPrimary(channel, configuration: configuration) }
    }

    /// Fails, and closes the channel, unless the server is a primary (`ROLE`): for an address
    /// Sentinel gave, which may be stale or a demoted server just after a failover.
    static func checkPrimary(_ channel: any Channel, configuration: RedisConfiguration) -> EventLoopFuture<any Channel>
    {
        self.request(RedisCommand("ROLE"), on: channel, timeout: configuration.connectTimeout)
            .flatMapThrowing { role in
                guard role.array?.first?.string == "master" else {
                    channel.close(promise: nil)
                    throw RedisClientError.connectFailed("the address Sentinel gave is not the primary (yet)")
                }
                return channel
            }
            .flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw error
            }
    }

    /// One command on a channel that no slot owns yet (a check during connect, a one-off question).
    static func request(_ command: RedisCommand, on channel: any Channel, timeout: TimeAmount) -> EventLoopFuture<
        RedisValue
    > {
        let promise = channel.eventLoop.makePromise(of: RedisValue.self)
        channel.writeAndFlush(RedisRequest.one(command, promise, deadline: .now() + timeout), promise: nil)
        return promise.futureResult
    }

    /// Opens a connection to `endpoint`, sends `command`, and closes it: a question to a sentinel
    /// or to a cluster node, within the connect timeout.
    static func ask(
        _ command: RedisCommand,
        at endpoint: RedisConfiguration.Endpoint,
        on eventLoop: any EventLoop,
        configuration: RedisConfiguration,
        handshake: Bool = true
    ) -> EventLoopFuture<RedisValue> {
        self.connect(on: eventLoop, to: endpoint, configuration: configuration, handshake: handshake)
            .flatMap { channel in
                self.request(command, on: channel, timeout: configuration.connectTimeout)
                    .always { _ in channel.close(promise: nil) }
            }
    }

    /// Opens one connection to `endpoint` and runs the handshake.
    static func connect(
        on eventLoop: any EventLoop,
        to endpoint: RedisConfiguration.Endpoint,
        configuration: RedisConfiguration,
        handshake: Bool = true,
        messages: (@Sendable (_ channel: [UInt8], _ payload: RedisValue) -> Void)? = nil
    ) -> EventLoopFuture<any Channel> {
        let tls: (RedisTLS, host: String, port: Int)? =
            switch (configuration.tls, endpoint) {
            case (let tls?, .tcp(let host, let port)): (tls, host, port)
            default: nil
            }
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let (encryption, handshake) = try tls.0.handlers(host: tls.host, on: channel.eventLoop)
                        try channel.pipeline.syncOperations.addHandlers(encryption, handshake)
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RedisReplyDecoder()))
                    if let messages {
                        try channel.pipeline.syncOperations.addHandler(PubSubHandler(received: messages))
                    }
                    try channel.pipeline.syncOperations.addHandler(RedisCommandHandler())
                }
            }
        let connected: EventLoopFuture<any Channel> =
            switch endpoint {
            case .tcp(let host, let port): bootstrap.connect(host: host, port: port)
            case .unixSocket(let path): bootstrap.connect(unixDomainSocketPath: path)
            }
        // The TLS and Redis handshakes share the connect timeout: a server that accepts but never
        // answers must not hold the slot forever.
        let deadline = NIODeadline.now() + configuration.connectTimeout
        return connected.flatMap { channel in
            self.tlsHandshake(channel, deadline: deadline)
                .flatMap {
                    guard handshake else { return channel.eventLoop.makeSucceededVoidFuture() }
                    return self.handshake(channel, configuration: configuration, deadline: deadline)
                }
                .map { channel }
                .flatMapErrorThrowing { error in
                    channel.close(promise: nil)
                    throw error
                }
        }
        .flatMapError { error in
            switch error {
            case ChannelError.connectTimeout, RedisClientError.timeout:
                return eventLoop.makeFailedFuture(RedisClientError.connectTimeout)
            case let error as RedisClientError:
                return eventLoop.makeFailedFuture(error)
            case let error as RedisServerError:
                return eventLoop.makeFailedFuture(error)
            default:
                guard let tls, let why = RedisTLS.failure(error) else {
                    return eventLoop.makeFailedFuture(RedisClientError.connectFailed("\(error)"))
                }
                guard why.contains("CERTIFICATE_VERIFY_FAILED") else {
                    return eventLoop.makeFailedFuture(RedisClientError.tlsFailed("\(tls.host):\(tls.port): \(why)"))
                }
                return tls.0.diagnose(
                    host: tls.host, port: tls.port, on: eventLoop, timeout: configuration.connectTimeout
                )
                .flatMapThrowing { cause in throw RedisClientError.tlsFailed("\(tls.host):\(tls.port): \(cause)") }
            }
        }
    }

    /// Waits for the TLS handshake, when the connection has TLS, within the connect's deadline.
    private static func tlsHandshake(_ channel: any Channel, deadline: NIODeadline) -> EventLoopFuture<Void> {
        TLSHandshake.wait(on: channel, deadline: deadline)
            .flatMapErrorThrowing { error in
                // A plain server reads the ClientHello as the start of a command and waits.
                if case RedisClientError.connectionClosed = error, deadline <= .now() {
                    throw RedisClientError.tlsFailed("no TLS handshake by the connect timeout: \(RedisTLS.notTLS)")
                }
                throw error
            }
    }

    /// AUTH, SELECT and CLIENT SETNAME, pipelined in one round trip.
    private static func handshake(
        _ channel: any Channel,
        configuration: RedisConfiguration,
        deadline: NIODeadline
    ) -> EventLoopFuture<Void> {
        var commands: [RedisCommand] = []
        if let password = configuration.password {
            var auth = RedisCommand("AUTH")
            if let username = configuration.username { auth.append(username) }
            auth.append(password)
            commands.append(auth)
        }
        if configuration.database != 0 {
            commands.append(RedisCommand("SELECT", [String(configuration.database)]))
        }
        if let name = configuration.connectionName {
            commands.append(RedisCommand("CLIENT", ["SETNAME", name]))
        }
        guard !commands.isEmpty else { return channel.eventLoop.makeSucceededVoidFuture() }
        let promise = channel.eventLoop.makePromise(of: [RedisValue].self)
        channel.writeAndFlush(RedisRequest.batch(commands, promise, deadline: deadline), promise: nil)
        return promise.futureResult.flatMapThrowing { [commands] replies in
            for (command, reply) in zip(commands, replies) {
                guard case .error(let error) = reply else { continue }
                if command.name == "AUTH" || error.code == "NOAUTH" {
                    throw RedisClientError.authenticationFailed(error.message)
                }
                throw error
            }
        }
    }
}
