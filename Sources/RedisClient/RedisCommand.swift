import ASCIIDigits
import NIOCore

/// One Redis command and its arguments, encoded as RESP as they are appended.
///
/// Each argument is stored as a RESP bulk string (`$3\r\nGET\r\n`), back to back in one buffer,
/// so writing the command is its array header and one copy. Arguments are binary safe. The name is
/// kept apart for logs and errors: arguments are never logged, because they can hold passwords and
/// tokens.
public struct RedisCommand: Sendable {
    /// The command's name, such as `GET` or `EVALSHA`.
    public let name: String
    /// Every argument, the name first, each encoded as a RESP bulk string.
    private var encoded: [UInt8]
    /// The number of arguments, the name included.
    public private(set) var count: Int

    public init(_ name: String) {
        self.init(name, reservingArguments: 4, bytes: 64)
    }

    public init(_ name: String, _ arguments: [String]) {
        self.init(
            name, reservingArguments: arguments.count, bytes: arguments.reduce(0) { $0 + $1.utf8.count })
        for argument in arguments { self.append(argument) }
    }

    /// A command with room for `arguments` more arguments of `bytes` bytes in all, so that
    /// appending them allocates nothing.
    public init(_ name: String, reservingArguments arguments: Int, bytes: Int) {
        self.name = name
        self.encoded = []
        self.count = 0
        // Each argument adds `$`, up to 10 length digits and two CRLFs.
        self.encoded.reserveCapacity(name.utf8.count + bytes + 16 * (arguments + 1))
        self.append(name)
    }

    public mutating func append(_ argument: String) {
        var argument = argument
        // Over the contiguous UTF-8 bytes: appending a string's UTF-8 view is the slow path.
        argument.withUTF8 { self.append(bytes: $0) }
    }

    public mutating func append(_ argument: Int) {
        self.append(String(argument))
    }

    /// One argument as a RESP bulk string: `$`, its length, CRLF, its bytes, CRLF.
    public mutating func append(bytes argument: some Collection<UInt8>) {
        self.count += 1
        self.encoded.append(UInt8(ascii: "$"))
        ASCIIDecimal.append(argument.count, to: &self.encoded)
        self.encoded.append(13)
        self.encoded.append(10)
        self.encoded.append(contentsOf: argument)
        self.encoded.append(13)
        self.encoded.append(10)
    }

    /// Writes the command as a RESP array of bulk strings, as hiredis's `redisFormatCommandArgv`
    /// would (a test holds the two to the same bytes).
    public func encode(into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: 16 + self.encoded.count)
        buffer.writeInteger(UInt8(ascii: "*"))
        ASCIIDecimal.withDigits(of: UInt(self.count)) { _ = buffer.writeBytes($0) }
        buffer.writeInteger(UInt16(0x0D0A))
        buffer.writeBytes(self.encoded)
    }

    /// The first `limit` arguments (the name first), read back from the encoded bytes in one pass.
    func arguments(upTo limit: Int) -> [ArraySlice<UInt8>] {
        var arguments: [ArraySlice<UInt8>] = []
        arguments.reserveCapacity(min(limit, self.count))
        var position = 0
        while position < self.encoded.count, arguments.count < limit {
            // `$`, the length's digits, CRLF, the bytes, CRLF.
            position += 1
            var length = 0
            while self.encoded[position] != 13 {
                length = length * 10 + Int(self.encoded[position] &- 48)
                position += 1
            }
            position += 2
            arguments.append(self.encoded[position..<(position + length)])
            position += length + 2
        }
        return arguments
    }

    /// The argument at `index` (0 is the name), read back from the encoded bytes.
    func argument(_ index: Int) -> ArraySlice<UInt8>? {
        let arguments = self.arguments(upTo: index + 1)
        return arguments.count > index ? arguments[index] : nil
    }

    /// The command's arguments as encoded, the name first: what a cached reply is found by.
    var signature: [UInt8] { self.encoded }

    /// The bytes ``encode(into:)`` writes, for tests.
    var resp: [UInt8] {
        var buffer = ByteBuffer()
        self.encode(into: &buffer)
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }
}
