import NIOCore

/// Asks Redis Sentinel where the primary is (`SENTINEL get-master-addr-by-name`).
enum Sentinel {
    /// The first answer from the sentinels, tried in order; fails when none of them knows.
    static func primaryAddress(
        _ sentinel: SentinelConfiguration,
        on eventLoop: any EventLoop,
        configuration: RedisConfiguration
    ) -> EventLoopFuture<RedisConfiguration.Endpoint> {
        var attempt: EventLoopFuture<RedisConfiguration.Endpoint> = eventLoop.makeFailedFuture(
            RedisClientError.connectFailed("no sentinel answered for '\(sentinel.primaryName)'")
        )
        for address in sentinel.sentinels {
            attempt = attempt.flatMapError { _ in
                self.ask(address, for: sentinel.primaryName, on: eventLoop, configuration: configuration)
            }
        }
        return attempt
    }

    private static func ask(
        _ address: SentinelConfiguration.Address,
        for name: String,
        on eventLoop: any EventLoop,
        configuration: RedisConfiguration
    ) -> EventLoopFuture<RedisConfiguration.Endpoint> {
        RedisConnection.ask(
            RedisCommand("SENTINEL", ["get-master-addr-by-name", name]),
            at: .tcp(host: address.host, port: address.port),
            on: eventLoop, configuration: configuration, handshake: false
        )
        .flatMapThrowing { reply in
            guard let parts = reply.array, parts.count == 2, let host = parts[0].string, let port = parts[1].int
            else {
                throw RedisClientError.connectFailed("sentinel \(address.host):\(address.port) does not know '\(name)'")
            }
            return .tcp(host: host, port: port)
        }
    }
}
