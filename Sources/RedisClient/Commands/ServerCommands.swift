extension RedisClient {
    /// [PING](https://redis.io/commands/ping): a round trip to the server.
    public func ping() async throws {
        guard try await self.send(RedisCommand("PING")) == .simpleString("PONG") else {
            throw RedisClientError.unexpectedReply(command: "PING")
        }
    }
}
