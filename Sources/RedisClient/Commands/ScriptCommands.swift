extension RedisClient {
    /// [EVALSHA](https://redis.io/commands/evalsha): runs a script by its SHA-1.
    ///
    /// When Redis does not know the script (it restarted, or `SCRIPT FLUSH` ran), it is loaded with
    /// [SCRIPT LOAD](https://redis.io/commands/script-load) and the call retried once, so callers
    /// never see `NOSCRIPT`.
    public func evalSHA(_ script: RedisScript, keys: [String], arguments: [String]) async throws -> RedisValue {
        let command = script.evalSHA(keys: keys, arguments: arguments)
        do {
            return try await self.send(command)
        } catch let error as RedisServerError where error.code == "NOSCRIPT" {
            try await self.scriptLoad(script)
            return try await self.send(command)
        }
    }

    /// [SCRIPT LOAD](https://redis.io/commands/script-load): loads a script into the script cache
    /// (of every primary, on a cluster).
    public func scriptLoad(_ script: RedisScript) async throws {
        for reply in try await self.broadcast(RedisCommand("SCRIPT", ["LOAD", script.source])) {
            if case .error(let error) = reply { throw error }
            guard reply.string == script.sha1 else { throw RedisClientError.unexpectedReply(command: "SCRIPT LOAD") }
        }
    }
}
