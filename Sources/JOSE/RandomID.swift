import ASCIIDigits
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Unguessable identifiers for sessions and tokens: 128 bits from the kernel's CSPRNG, as 32
/// lowercase hex digits.
public enum RandomID {
    public static func make() -> String {
        let bytes = RandomPool.next128()
        return withUnsafeBytes(of: bytes) { random in
            String(unsafeUninitializedCapacity: 32) { text in
                for (offset, byte) in random.enumerated() {
                    text[2 * offset] = Hex.digit(byte >> 4)
                    text[2 * offset + 1] = Hex.digit(byte)
                }
                return 32
            }
        }
    }

    /// Whether `text` has the form of an id made by ``make()``: 32 lowercase hex digits. Ids from
    /// outside (a URL path, the command line) are checked before they become part of a key.
    public static func isValid(_ text: String) -> Bool {
        text.utf8.count == 32
            && text.utf8.allSatisfy {
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                    || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
            }
    }

    /// `count` random bytes as hex, for secrets.
    public static func hexBytes(_ count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.encode((0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }
}

/// Random bytes drawn from the kernel's CSPRNG 4 KiB at a time, each byte handed out once.
///
/// swift-crypto's `SymmetricKey(size:)` and `SystemRandomNumberGenerator` make one system call per
/// 8 bytes: three per id, about 4% of a refresh's CPU. The bytes are the kernel's either way; they
/// are only fetched in bulk. (authd never forks, so no two processes share a pool.)
enum RandomPool {
    private static let capacity = 4096

    private struct Pool {
        var bytes = [UInt8](repeating: 0, count: RandomPool.capacity)
        var next = RandomPool.capacity
    }

    private static let pool = Mutex(Pool())

    /// 128 random bits.
    static func next128() -> (UInt64, UInt64) {
        Self.pool.withLock { pool in
            if pool.next + 16 > Self.capacity {
                pool.bytes.withUnsafeMutableBytes { Self.getrandom($0) }
                pool.next = 0
            }
            let start = pool.next
            pool.next += 16
            return pool.bytes.withUnsafeMutableBytes { bytes in
                let value = (
                    bytes.loadUnaligned(fromByteOffset: start, as: UInt64.self),
                    bytes.loadUnaligned(fromByteOffset: start + 8, as: UInt64.self)
                )
                // Handed out once: a copy left behind would be a copy of someone's id.
                UnsafeMutableRawBufferPointer(rebasing: bytes[start..<start + 16]).initializeMemory(
                    as: UInt8.self, repeating: 0)
                return value
            }
        }
    }

    /// `/dev/urandom`, opened once; `nil` where it cannot be opened.
    private static let urandom: Int32? = {
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        return fd >= 0 ? fd : nil
    }()

    /// Fills the buffer from `/dev/urandom` (the kernel's CSPRNG, as `getrandom` is), or else from
    /// `SystemRandomNumberGenerator`.
    private static func getrandom(_ buffer: UnsafeMutableRawBufferPointer) {
        var filled = 0
        if let fd = Self.urandom {
            while filled < buffer.count {
                let count = read(fd, buffer.baseAddress! + filled, buffer.count - filled)
                if count > 0 {
                    filled += count
                } else if count == 0 || errno != EINTR {
                    break
                }
            }
        }
        var generator = SystemRandomNumberGenerator()
        while filled < buffer.count {
            buffer[filled] = generator.next()
            filled += 1
        }
    }
}
