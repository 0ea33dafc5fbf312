import Crypto

/// A Lua script run with `EVALSHA`. Its SHA-1 is computed here, so the first call need not load it.
public struct RedisScript: Sendable, Hashable {
    public let source: String
    /// The lowercase hex SHA-1 of `source`, as Redis computes it.
    public let sha1: String

    public init(_ source: String) {
        self.source = source
        self.sha1 = Insecure.SHA1.hash(data: Array(source.utf8))
            .map { byte in
                let hex = String(byte, radix: 16)
                return byte < 16 ? "0" + hex : hex
            }
            .joined()
    }
}

extension RedisScript {
    /// The [EVALSHA](https://redis.io/commands/evalsha) command that runs this script, for use in
    /// a ``RedisClient/pipeline(_:)``. ``RedisClient/evalSHA(_:keys:arguments:)`` also handles
    /// `NOSCRIPT`; a pipeline's caller must.
    public func evalSHA(keys: [String], arguments: [String]) -> RedisCommand {
        var command = RedisCommand(
            "EVALSHA", reservingArguments: 2 + keys.count + arguments.count,
            bytes: keys.reduce(48) { $0 + $1.utf8.count } + arguments.reduce(0) { $0 + $1.utf8.count })
        command.append(self.sha1)
        command.append(keys.count)
        for key in keys { command.append(key) }
        for argument in arguments { command.append(argument) }
        return command
    }
}
