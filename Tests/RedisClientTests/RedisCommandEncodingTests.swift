import CHiredis
import Testing

@testable import RedisClient

/// Commands are encoded in Swift; hiredis's own formatter is the reference they must match byte
/// for byte.
@Suite("RedisCommand encoding matches hiredis's redisFormatCommandArgv")
struct RedisCommandEncodingTests {
    /// The bytes hiredis formats for the same arguments.
    private func hiredisFormat(_ arguments: [[UInt8]]) -> [UInt8] {
        // C copies of the arguments, one byte longer so that an empty one still has a pointer.
        let copies = arguments.map { bytes -> UnsafeMutablePointer<CChar> in
            let copy = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
            bytes.withUnsafeBytes { raw in
                if let base = raw.baseAddress {
                    UnsafeMutableRawPointer(copy).copyMemory(from: base, byteCount: raw.count)
                }
            }
            return copy
        }
        defer { copies.forEach { $0.deallocate() } }
        var argv = copies.map { UnsafePointer<CChar>?($0) }
        var lengths = arguments.map(\.count)
        var target: UnsafeMutablePointer<CChar>?
        let length = redisFormatCommandArgv(&target, Int32(arguments.count), &argv, &lengths)
        guard length > 0, let target else { return [] }
        defer { redisFreeCommand(target) }
        return [UInt8](UnsafeRawBufferPointer(start: target, count: Int(length)))
    }

    @Test(
        arguments: [
            ["PING"],
            ["GET", "key"],
            ["SET", "key", "", "EX", "10"],
            ["HMGET", "authd:session:alice:0123456789abcdef", "rt", "deny:fedcba9876543210"],
            ["SET", "k", String(repeating: "x", count: 1234)],
            ["SET", "ключ", "значение ✓"],
        ]
    )
    func textArguments(_ arguments: [String]) {
        let command = RedisCommand(arguments[0], Array(arguments.dropFirst()))
        #expect(command.count == arguments.count)
        #expect(command.resp == self.hiredisFormat(arguments.map { Array($0.utf8) }))
    }

    @Test func binaryAndIntegerArguments() {
        var command = RedisCommand("EVALSHA", reservingArguments: 1, bytes: 1)
        command.append(String(repeating: "f", count: 40))
        command.append(3)
        command.append(bytes: [0, 1, 13, 10, 255])
        command.append(bytes: [UInt8]())
        command.append(1_900_000_000)
        let expected = self.hiredisFormat([
            Array("EVALSHA".utf8), Array(String(repeating: "f", count: 40).utf8), Array("3".utf8),
            [0, 1, 13, 10, 255], [], Array("1900000000".utf8),
        ])
        #expect(command.count == 6)
        #expect(command.resp == expected)
    }

    @Test func manyArguments() {
        let arguments = ["DEL"] + (0..<120).map { "key:\($0)" }
        let command = RedisCommand("DEL", Array(arguments.dropFirst()))
        #expect(command.resp == self.hiredisFormat(arguments.map { Array($0.utf8) }))
    }
}
