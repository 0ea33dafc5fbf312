extension RedisClient {
    /// Sends a command and converts its reply, turning a reply of the wrong shape into
    /// ``RedisClientError/unexpectedReply(command:)``.
    func send<T>(_ command: RedisCommand, as convert: (RedisValue) -> T?) async throws -> T {
        let reply = try await self.send(command)
        guard let value = convert(reply) else { throw RedisClientError.unexpectedReply(command: command.name) }
        return value
    }
}
