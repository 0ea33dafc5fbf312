import CHiredis
import NIOCore

/// Encodes a command as RESP with hiredis's `redisFormatCommandArgv`.
enum CommandEncoder {
    static func encode(_ command: RedisCommand, into buffer: inout ByteBuffer) {
        command.bytes.withUnsafeBufferPointer { storage in
            let base = UnsafeRawPointer(storage.baseAddress)
            var argv: [UnsafePointer<CChar>?] = []
            var lengths: [Int] = []
            argv.reserveCapacity(command.count)
            lengths.reserveCapacity(command.count)
            var start = 0
            for end in command.ends {
                // An empty argument still needs a valid pointer; hiredis reads zero bytes from it.
                argv.append(
                    (base ?? UnsafeRawPointer(bitPattern: 1)!).advanced(by: start).assumingMemoryBound(to: CChar.self))
                lengths.append(end - start)
                start = end
            }
            var target: UnsafeMutablePointer<CChar>?
            let length = redisFormatCommandArgv(&target, Int32(command.count), &argv, &lengths)
            guard length > 0, let target else {
                // hiredis only fails here when malloc fails.
                fatalError("hiredis: redisFormatCommandArgv failed to allocate")
            }
            defer { redisFreeCommand(target) }
            buffer.writeBytes(UnsafeRawBufferPointer(start: target, count: Int(length)))
        }
    }
}
