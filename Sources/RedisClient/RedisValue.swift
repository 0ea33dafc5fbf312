/// A Redis reply, copied out of hiredis into a Swift value.
///
/// In RESP2 (the protocol hiredis 0.14 speaks) a nil bulk string and a nil array are the same
/// `.null`. Error replies nested inside an array (for example in `EXEC` results) stay `.error`;
/// an error as the whole reply is thrown as ``RedisServerError`` instead.
public enum RedisValue: Sendable, Hashable {
    case simpleString(String)
    case bulkString([UInt8])
    case integer(Int)
    case array([RedisValue])
    case null
    case error(RedisServerError)
}

extension RedisValue {
    /// The reply as text: a simple or bulk string (decoded as UTF-8), or an integer.
    public var string: String? {
        switch self {
        case .simpleString(let s): s
        case .bulkString(let bytes): String(decoding: bytes, as: UTF8.self)
        case .integer(let i): String(i)
        default: nil
        }
    }

    /// The reply as an integer: an integer reply, or a string that holds one.
    public var int: Int? {
        switch self {
        case .integer(let i): i
        case .simpleString, .bulkString: self.string.flatMap { Int($0) }
        default: nil
        }
    }

    /// The elements of an array reply, or `nil` for any other kind.
    public var array: [RedisValue]? {
        if case .array(let elements) = self { elements } else { nil }
    }

    public var isNull: Bool {
        if case .null = self { true } else { false }
    }
}
