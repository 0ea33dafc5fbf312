import Testing

@testable import RedisClient

@Suite("RESP reader (hiredis's parser), fed raw bytes")
struct RESPReaderTests {
    /// Feeds `bytes` in pieces split at `offsets` and collects every reply.
    private func parse(_ bytes: [UInt8], splitAt offsets: [Int] = []) throws -> [RedisValue] {
        let reader = RESPReader()
        var values: [RedisValue] = []
        var start = 0
        for end in offsets + [bytes.count] where end >= start {
            try bytes[start..<end].withUnsafeBytes { try reader.feed($0) }
            while let value = try reader.next() { values.append(value) }
            start = end
        }
        return values
    }

    private func parse(_ text: String) throws -> [RedisValue] {
        try self.parse(Array(text.utf8))
    }

    @Test func everyReplyType() throws {
        #expect(try self.parse("+OK\r\n") == [.simpleString("OK")])
        #expect(try self.parse("-ERR wrong\r\n") == [.error(RedisServerError(message: "ERR wrong"))])
        #expect(try self.parse(":-42\r\n") == [.integer(-42)])
        #expect(try self.parse("$5\r\nhello\r\n") == [.bulkString(Array("hello".utf8))])
        #expect(try self.parse("$0\r\n\r\n") == [.bulkString([])])
        #expect(try self.parse("*0\r\n") == [.array([])])
    }

    @Test func nilBulkAndNilArrayAreBothNull() throws {
        #expect(try self.parse("$-1\r\n*-1\r\n") == [.null, .null])
    }

    @Test func bulkStringsAreBinarySafe() throws {
        let payload: [UInt8] = [0, 13, 10, 255, 36]
        #expect(try self.parse(Array("$5\r\n".utf8) + payload + Array("\r\n".utf8)) == [.bulkString(payload)])
    }

    @Test func nestedArraysWithNilAndErrors() throws {
        let text = "*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n-WRONGTYPE bad\r\n"
        let expected: RedisValue = .array([
            .integer(1), .array([.bulkString([97]), .null]), .error(RedisServerError(message: "WRONGTYPE bad")),
        ])
        #expect(try self.parse(text) == [expected])
    }

    @Test func emptyArraysCloseTheArraysTheyFill() throws {
        let text = "*3\r\n*0\r\n*1\r\n*0\r\n*2\r\n*1\r\n:5\r\n*0\r\n:6\r\n"
        let expected: [RedisValue] = [
            .array([.array([]), .array([.array([])]), .array([.array([.integer(5)]), .array([])])]),
            .integer(6),
        ]
        #expect(try self.parse(text) == expected)
    }

    @Test func aReaderDroppedWithAReplyHalfReadIsFreed() throws {
        for _ in 0..<100 {
            let reader = RESPReader()
            try Array("*3\r\n:1\r\n*2\r\n$1\r\na\r\n".utf8).withUnsafeBytes { try reader.feed($0) }
            #expect(try reader.next() == nil)
        }
    }

    @Test func aReplySplitAtEveryByteOffsetIsReassembled() throws {
        let text = "*4\r\n+OK\r\n:12345\r\n$11\r\nhello world\r\n*2\r\n$-1\r\n-ERR x\r\n"
        let bytes = Array(text.utf8)
        let whole = try self.parse(bytes)
        #expect(whole.count == 1)
        for offset in 0...bytes.count {
            #expect(try self.parse(bytes, splitAt: [offset]) == whole, "split at \(offset)")
        }
        // And one byte at a time.
        #expect(try self.parse(bytes, splitAt: Array(0...bytes.count)) == whole)
    }

    @Test func manyRepliesInOneRead() throws {
        let text = String(repeating: ":7\r\n", count: 1000)
        #expect(try self.parse(text) == Array(repeating: .integer(7), count: 1000))
    }

    @Test func aOneMebibyteBulkString() throws {
        let payload = [UInt8](repeating: 120, count: 1 << 20)
        let bytes = Array("$\(payload.count)\r\n".utf8) + payload + Array("\r\n".utf8)
        // Arrives in 64 KiB reads, as it would from a socket.
        let offsets = Array(stride(from: 65536, to: bytes.count, by: 65536))
        #expect(try self.parse(bytes, splitAt: offsets) == [.bulkString(payload)])
    }

    @Test(arguments: ["?what\r\n", "$abc\r\n", ":12x\r\n", "*-2x\r\n", "*2\r\n:1\r\n?bad\r\n"])
    func aMalformedStreamIsAProtocolError(text: String) {
        #expect {
            _ = try self.parse(text)
        } throws: { error in
            guard case RedisClientError.protocolError = error else { return false }
            return true
        }
    }

    @Test func nestingDeeperThanTheCapIsRefused() {
        let text = String(repeating: "*1\r\n", count: 12) + ":1\r\n"
        #expect(throws: RedisClientError.self) { _ = try self.parse(text) }
    }
}
