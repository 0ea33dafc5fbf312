/// One Redis command and its arguments, kept in a single contiguous byte buffer.
///
/// Arguments are binary safe. The name is kept apart for logs and errors: arguments are never
/// logged, because they can hold passwords and tokens.
public struct RedisCommand: Sendable {
    /// The command's name, such as `GET` or `EVALSHA`.
    public let name: String
    /// Every argument, the name first, back to back.
    private(set) var bytes: [UInt8]
    /// The end offset of each argument in `bytes`.
    private(set) var ends: [Int]

    public init(_ name: String) {
        self.init(name, reservingArguments: 4, bytes: 64)
    }

    public init(_ name: String, _ arguments: [String]) {
        self.init(
            name, reservingArguments: arguments.count + 4,
            bytes: arguments.reduce(64) { $0 + $1.utf8.count })
        for argument in arguments { self.append(argument) }
    }

    /// A command with room for `arguments` more arguments of `bytes` bytes in all, so that
    /// appending them allocates nothing.
    public init(_ name: String, reservingArguments arguments: Int, bytes: Int) {
        self.name = name
        self.bytes = []
        self.bytes.reserveCapacity(name.utf8.count + bytes)
        self.bytes.append(contentsOf: name.utf8)
        self.ends = []
        self.ends.reserveCapacity(1 + arguments)
        self.ends.append(self.bytes.count)
    }

    public mutating func append(_ argument: String) {
        self.bytes.append(contentsOf: argument.utf8)
        self.ends.append(self.bytes.count)
    }

    public mutating func append(_ argument: Int) {
        self.append(String(argument))
    }

    public mutating func append(bytes argument: some Sequence<UInt8>) {
        self.bytes.append(contentsOf: argument)
        self.ends.append(self.bytes.count)
    }

    /// The number of arguments, the name included.
    public var count: Int { self.ends.count }
}
