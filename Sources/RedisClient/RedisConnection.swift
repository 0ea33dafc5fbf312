import Logging
import NIOCore
import NIOPosix

/// Opens one connection: the NIO channel with its RESP pipeline, then the handshake.
enum RedisConnection {
    static func connect(
        on eventLoop: any EventLoop,
        configuration: RedisConfiguration,
        logger: Logger
    ) -> EventLoopFuture<any Channel> {
        guard let sentinel = configuration.sentinel else {
            return self.connect(on: eventLoop, to: configuration.endpoint, configuration: configuration)
        }
        // Ask the sentinels where the primary is, then check that it really is the primary: just
        // after a failover, a stale answer or a demoted server must not take writes.
        return Sentinel.primaryAddress(sentinel, on: eventLoop, configuration: configuration)
            .flatMap { endpoint in
                self.connect(on: eventLoop, to: endpoint, configuration: configuration)
            }
            .flatMap { channel in
                let promise = eventLoop.makePromise(of: RedisValue.self)
                channel.writeAndFlush(
                    RedisRequest.one(RedisCommand("ROLE"), promise, deadline: .now() + configuration.connectTimeout),
                    promise: nil
                )
                return promise.futureResult.flatMapThrowing { role in
                    guard role.array?.first?.string == "master" else {
                        channel.close(promise: nil)
                        throw RedisClientError.connectFailed("the address Sentinel gave is not the primary (yet)")
                    }
                    return channel
                }
            }
    }

    /// Opens one connection to `endpoint` and runs the handshake.
    static func connect(
        on eventLoop: any EventLoop,
        to endpoint: RedisConfiguration.Endpoint,
        configuration: RedisConfiguration,
        handshake: Bool = true
    ) -> EventLoopFuture<any Channel> {
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(RedisReplyDecoder()),
                        RedisCommandHandler()
                    )
                }
            }
        let connected: EventLoopFuture<any Channel> =
            switch endpoint {
            case .tcp(let host, let port): bootstrap.connect(host: host, port: port)
            case .unixSocket(let path): bootstrap.connect(unixDomainSocketPath: path)
            }
        // The handshake shares the connect timeout: a server that accepts but never answers
        // must not hold the slot forever.
        let deadline = NIODeadline.now() + configuration.connectTimeout
        return connected.flatMap { channel in
            guard handshake else { return channel.eventLoop.makeSucceededFuture(channel) }
            return self.handshake(channel, configuration: configuration, deadline: deadline)
                .map { channel }
                .flatMapErrorThrowing { error in
                    channel.close(promise: nil)
                    throw error
                }
        }
        .flatMapErrorThrowing { error in
            switch error {
            case ChannelError.connectTimeout, RedisClientError.timeout: throw RedisClientError.connectTimeout
            case let error as RedisClientError: throw error
            case let error as RedisServerError: throw error
            default: throw RedisClientError.connectFailed("\(error)")
            }
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
