/// How long a key set by ``RedisClient/set(_:to:expiration:condition:)`` lives.
public enum RedisExpiration: Sendable, Hashable {
    /// `EX seconds`
    case seconds(Int)
    /// `PX milliseconds`
    case milliseconds(Int)
}

/// When ``RedisClient/set(_:to:expiration:condition:)`` writes.
public enum RedisSetCondition: Sendable, Hashable {
    case always
    /// `NX`: only when the key does not exist.
    case ifNotExists
    /// `XX`: only when the key exists.
    case ifExists
}

extension RedisClient {
    /// [GET](https://redis.io/commands/get): the value of a key, or `nil` when it does not exist.
    public func get(_ key: String) async throws -> String? {
        let reply = try await self.send(RedisCommand("GET", [key]))
        return reply.isNull ? nil : reply.string
    }

    /// [SET](https://redis.io/commands/set) with optional `EX`/`PX` and `NX`/`XX`.
    /// - Returns: whether the value was written (`false` when `NX` or `XX` stopped it).
    @discardableResult
    public func set(
        _ key: String,
        to value: String,
        expiration: RedisExpiration? = nil,
        condition: RedisSetCondition = .always
    ) async throws -> Bool {
        var command = RedisCommand("SET", [key, value])
        switch expiration {
        case .seconds(let seconds): command.append("EX"); command.append(seconds)
        case .milliseconds(let milliseconds): command.append("PX"); command.append(milliseconds)
        case nil: break
        }
        switch condition {
        case .always: break
        case .ifNotExists: command.append("NX")
        case .ifExists: command.append("XX")
        }
        return try await self.send(command) == .simpleString("OK")
    }
}
