extension RedisClient {
    /// [DEL](https://redis.io/commands/del): deletes keys.
    /// - Returns: how many of them existed.
    @discardableResult
    public func delete(_ keys: [String]) async throws -> Int {
        try await self.send(RedisCommand("DEL", keys), as: \.int)
    }

    /// [EXISTS](https://redis.io/commands/exists): how many of the keys exist.
    public func exists(_ keys: [String]) async throws -> Int {
        try await self.send(RedisCommand("EXISTS", keys), as: \.int)
    }

    /// [EXPIRE](https://redis.io/commands/expire): sets a key's time to live in seconds.
    /// - Returns: whether the key exists (and so got the TTL).
    @discardableResult
    public func expire(_ key: String, seconds: Int) async throws -> Bool {
        try await self.send(RedisCommand("EXPIRE", [key, String(seconds)]), as: \.int) == 1
    }

    /// [TTL](https://redis.io/commands/ttl): seconds left; -1 for a key without a TTL, -2 for none.
    public func ttl(_ key: String) async throws -> Int {
        try await self.send(RedisCommand("TTL", [key]), as: \.int)
    }

    /// [PTTL](https://redis.io/commands/pttl): milliseconds left; -1 without a TTL, -2 for no key.
    public func pttl(_ key: String) async throws -> Int {
        try await self.send(RedisCommand("PTTL", [key]), as: \.int)
    }

    /// [SCAN](https://redis.io/commands/scan): one step of a cursor over the keyspace.
    /// - Returns: the next cursor (0 when done) and this step's keys.
    public func scan(cursor: Int, match pattern: String? = nil, count: Int? = nil) async throws -> (
        cursor: Int, keys: [String]
    ) {
        try Self.scanStep(try await self.send(Self.scanCommand(cursor: cursor, match: pattern, count: count)))
    }

    /// One `SCAN` step's command, for ``scan(cursor:match:count:)`` and ``scanAll(match:count:)``.
    static func scanCommand(cursor: Int, match pattern: String?, count: Int?) -> RedisCommand {
        var command = RedisCommand("SCAN", [String(cursor)])
        if let pattern { command.append("MATCH"); command.append(pattern) }
        if let count { command.append("COUNT"); command.append(count) }
        return command
    }

    /// One `SCAN` step's reply: the next cursor (0 when done) and the keys.
    static func scanStep(_ reply: RedisValue) throws -> (cursor: Int, keys: [String]) {
        guard let parts = reply.array, parts.count == 2, let next = parts[0].int, let keys = parts[1].array else {
            throw RedisClientError.unexpectedReply(command: "SCAN")
        }
        return (next, keys.compactMap(\.string))
    }
}
