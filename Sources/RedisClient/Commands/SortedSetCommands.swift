extension RedisClient {
    /// [ZADD](https://redis.io/commands/zadd): adds members with scores, or updates their scores.
    /// - Returns: how many members were new.
    @discardableResult
    public func zadd(_ key: String, members: [(score: Double, member: String)]) async throws -> Int {
        var command = RedisCommand("ZADD", [key])
        for (score, member) in members {
            command.append(Self.format(score))
            command.append(member)
        }
        return try await self.send(command, as: \.int)
    }

    /// [ZRANGE](https://redis.io/commands/zrange) by index, lowest score first, with the scores.
    public func zrange(_ key: String, start: Int = 0, stop: Int = -1) async throws -> [(
        member: String, score: Double
    )] {
        let reply = try await self.send(RedisCommand("ZRANGE", [key, String(start), String(stop), "WITHSCORES"]))
        guard let items = reply.array, items.count % 2 == 0 else {
            throw RedisClientError.unexpectedReply(command: "ZRANGE")
        }
        return try stride(from: 0, to: items.count, by: 2).map { index in
            guard let member = items[index].string, let score = items[index + 1].string.flatMap(Double.init) else {
                throw RedisClientError.unexpectedReply(command: "ZRANGE")
            }
            return (member, score)
        }
    }

    /// [ZREM](https://redis.io/commands/zrem): removes members.
    /// - Returns: how many of them were there.
    @discardableResult
    public func zrem(_ key: String, members: [String]) async throws -> Int {
        try await self.send(RedisCommand("ZREM", [key] + members), as: \.int)
    }

    /// [ZREMRANGEBYSCORE](https://redis.io/commands/zremrangebyscore): removes the members whose
    /// score is within `min...max` (Redis syntax: `-inf`, `(5`, `+inf` work too).
    /// - Returns: how many were removed.
    @discardableResult
    public func zremrangebyscore(_ key: String, min: String, max: String) async throws -> Int {
        try await self.send(RedisCommand("ZREMRANGEBYSCORE", [key, min, max]), as: \.int)
    }

    private static func format(_ score: Double) -> String {
        if score == score.rounded(), abs(score) < 1e15 { return String(Int(score)) }
        return String(score)
    }
}
