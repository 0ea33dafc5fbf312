import CHiredis

/// hiredis's pure RESP parser (`redisReaderCreate` / `redisReaderFeed` / `redisReaderGetReply`),
/// with no I/O of its own.
///
/// Each parsed reply is copied into a ``RedisValue`` at once and its C object freed. This file is
/// the only place that touches hiredis pointers.
///
/// Not thread-safe: one reader belongs to one channel and is used on its event loop only. Public
/// for the micro-benchmarks (`Benchmarks/Micro`).
public final class RESPReader {
    /// Deeper arrays than this are refused. hiredis itself stops at 7 levels.
    static let maxDepth = 8

    private let reader: UnsafeMutablePointer<redisReader>

    public init() {
        guard let reader = redisReaderCreate() else {
            // Only fails when malloc fails; there is no way to go on.
            fatalError("hiredis: redisReaderCreate failed to allocate")
        }
        self.reader = reader
    }

    deinit {
        redisReaderFree(self.reader)
    }

    /// Appends bytes received from the server.
    public func feed(_ bytes: UnsafeRawBufferPointer) throws(RedisClientError) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let status = redisReaderFeed(self.reader, base.assumingMemoryBound(to: CChar.self), bytes.count)
        guard status == REDIS_OK else { throw .protocolError(self.errorText) }
    }

    /// The next complete reply, or `nil` when more bytes are needed.
    public func next() throws(RedisClientError) -> RedisValue? {
        var reply: UnsafeMutableRawPointer?
        guard redisReaderGetReply(self.reader, &reply) == REDIS_OK else {
            throw .protocolError(self.errorText)
        }
        guard let reply else { return nil }
        defer { freeReplyObject(reply) }
        return try Self.value(of: reply.assumingMemoryBound(to: redisReply.self), depth: 0)
    }

    private var errorText: String {
        withUnsafeBytes(of: self.reader.pointee.errstr) { raw in
            let bytes = raw.prefix(while: { $0 != 0 })
            return bytes.isEmpty ? "invalid reply" : String(decoding: bytes, as: UTF8.self)
        }
    }

    private static func value(
        of reply: UnsafePointer<redisReply>,
        depth: Int
    ) throws(RedisClientError) -> RedisValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            return .bulkString(Self.bytes(r.str, r.len))
        case REDIS_REPLY_STATUS:
            return .simpleString(Self.string(r.str, r.len))
        case REDIS_REPLY_ERROR:
            return .error(RedisServerError(message: Self.string(r.str, r.len)))
        case REDIS_REPLY_INTEGER:
            return .integer(Int(r.integer))
        case REDIS_REPLY_NIL:
            return .null
        case REDIS_REPLY_ARRAY:
            guard depth < Self.maxDepth else { throw .protocolError("reply nested deeper than \(Self.maxDepth)") }
            var elements: [RedisValue] = []
            elements.reserveCapacity(r.elements)
            for index in 0..<r.elements {
                guard let element = r.element[index] else { throw .protocolError("missing array element") }
                elements.append(try Self.value(of: element, depth: depth + 1))
            }
            return .array(elements)
        default:
            throw .protocolError("unknown reply type \(r.type)")
        }
    }

    private static func string(_ pointer: UnsafeMutablePointer<CChar>?, _ count: Int) -> String {
        guard let pointer, count > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    private static func bytes(_ pointer: UnsafeMutablePointer<CChar>?, _ count: Int) -> [UInt8] {
        guard let pointer, count > 0 else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: pointer, count: count))
    }
}
