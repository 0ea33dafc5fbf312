extension RedisClient {
    /// [HSET](https://redis.io/commands/hset): sets fields of a hash.
    /// - Returns: how many fields were new.
    @discardableResult
    public func hset(_ key: String, fields: [(field: String, value: String)]) async throws -> Int {
        var command = RedisCommand("HSET", [key])
        for (field, value) in fields {
            command.append(field)
            command.append(value)
        }
        return try await self.send(command, as: \.int)
    }

    /// [HGETALL](https://redis.io/commands/hgetall): every field of a hash; empty when the key does not exist.
    public func hgetall(_ key: String) async throws -> [String: String] {
        let reply = try await self.send(RedisCommand("HGETALL", [key]))
        guard let items = reply.array, items.count % 2 == 0 else {
            throw RedisClientError.unexpectedReply(command: "HGETALL")
        }
        var fields: [String: String] = [:]
        for index in stride(from: 0, to: items.count, by: 2) {
            guard let field = items[index].string, let value = items[index + 1].string else {
                throw RedisClientError.unexpectedReply(command: "HGETALL")
            }
            fields[field] = value
        }
        return fields
    }

    /// [HDEL](https://redis.io/commands/hdel): removes fields of a hash.
    /// - Returns: how many of them existed.
    @discardableResult
    public func hdel(_ key: String, fields: [String]) async throws -> Int {
        try await self.send(RedisCommand("HDEL", [key] + fields), as: \.int)
    }
}
