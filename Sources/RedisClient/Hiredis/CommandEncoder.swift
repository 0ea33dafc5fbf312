import CHiredis
import NIOCore

/// Encodes a command as RESP with hiredis's `redisFormatCommandArgv`.
/// Public for the micro-benchmarks (`Benchmarks/Micro`).
public enum CommandEncoder {
    public static func encode(_ command: RedisCommand, into buffer: inout ByteBuffer) {
        let count = command.count
        // argv and its lengths live on the stack: no heap allocation beyond hiredis's own.
        withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: count) { argv in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: count) { lengths in
                command.bytes.withUnsafeBufferPointer { storage in
                    // An empty argument still needs a valid pointer; hiredis reads zero bytes from it.
                    let base = UnsafeRawPointer(storage.baseAddress) ?? UnsafeRawPointer(bitPattern: 1)!
                    var start = 0
                    for (index, end) in command.ends.enumerated() {
                        argv[index] = base.advanced(by: start).assumingMemoryBound(to: CChar.self)
                        lengths[index] = end - start
                        start = end
                    }
                    var target: UnsafeMutablePointer<CChar>?
                    let length = redisFormatCommandArgv(&target, Int32(count), argv.baseAddress, lengths.baseAddress)
                    guard length > 0, let target else {
                        // hiredis only fails here when malloc fails.
                        fatalError("hiredis: redisFormatCommandArgv failed to allocate")
                    }
                    defer { redisFreeCommand(target) }
                    buffer.writeBytes(UnsafeRawBufferPointer(start: target, count: Int(length)))
                }
            }
        }
    }
}
