/// An error reply sent by the Redis server, such as `-ERR ...`, `-NOSCRIPT ...` or `-WRONGTYPE ...`.
///
/// The connection that carried it is healthy; only the command failed.
public struct RedisServerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The whole error line without the leading `-`, for example `WRONGTYPE Operation against a key ...`.
    public let message: String

    public init(message: String) {
        self.message = message
    }

    /// The error's code: its first word, such as `ERR`, `NOSCRIPT` or `WRONGTYPE`.
    public var code: Substring {
        self.message.prefix(while: { $0 != " " })
    }

    public var description: String { "Redis error: \(self.message)" }
}

/// A failure of the client or of the connection, as opposed to an error reply from the server.
///
/// No case ever carries a password or a command argument.
public enum RedisClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No connection to Redis is up right now: commands fail fast during an outage.
    case unavailable
    /// The connection closed while the command was in flight; it may or may not have run.
    case connectionClosed
    /// No reply came within the command timeout. The connection is closed and re-opened,
    /// because a pipelined connection cannot skip a missing reply.
    case timeout
    /// The connect, or its handshake (AUTH, SELECT, CLIENT SETNAME), did not finish in time.
    case connectTimeout
    /// The connect failed, for example because nothing listens on the port. The text names the
    /// socket error and address only.
    case connectFailed(String)
    /// The bytes from the server were not valid RESP.
    case protocolError(String)
    /// AUTH was refused. The text is the server's reply, which never repeats the password.
    case authenticationFailed(String)
    /// TLS to the server failed; the text names the cause (an expired certificate, a host name the
    /// certificate does not carry, a CA that did not sign it, a client certificate missing).
    case tlsFailed(String)
    /// The connection URL or an option is invalid.
    case invalidConfiguration(String)
    /// The reply had another shape than the command's helper expects.
    case unexpectedReply(command: String)
    /// The client was shut down.
    case shutdown

    public var description: String {
        switch self {
        case .unavailable: "Redis is unavailable"
        case .connectionClosed: "the Redis connection closed with the command in flight"
        case .timeout: "Redis did not answer within the command timeout"
        case .connectTimeout: "connecting to Redis timed out"
        case .connectFailed(let why): "connecting to Redis failed: \(why)"
        case .tlsFailed(let why): "TLS to Redis failed: \(why)"
        case .protocolError(let why): "Redis protocol error: \(why)"
        case .authenticationFailed(let reply): "Redis authentication failed: \(reply)"
        case .invalidConfiguration(let why): "invalid Redis configuration: \(why)"
        case .unexpectedReply(let command): "unexpected reply to Redis \(command)"
        case .shutdown: "the Redis client is shut down"
        }
    }
}
