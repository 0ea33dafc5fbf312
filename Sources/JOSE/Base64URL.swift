/// Base64url without padding (RFC 4648 §5), the encoding of every JWS segment (RFC 7515 §2).
///
/// Decoding is strict: padding, whitespace, characters outside the alphabet, a length that no
/// encoding produces, and non-zero leftover bits are all refused, so one byte string has one
/// encoding.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Each ASCII byte's 6-bit value; 0xFF for bytes outside the alphabet.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, byte) in Self.alphabet.enumerated() { table[Int(byte)] = UInt8(value) }
        return table
    }()

    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var output: [UInt8] = []
        Self.encode(bytes, appendingTo: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// Appends the encoding of `bytes` to `output`.
    public static func encode(_ bytes: some Collection<UInt8>, appendingTo output: inout [UInt8]) {
        if bytes.withContiguousStorageIfAvailable({ Self.encode(buffer: $0, appendingTo: &output) }) == nil {
            Array(bytes).withUnsafeBufferPointer { Self.encode(buffer: $0, appendingTo: &output) }
        }
    }

    private static func encode(buffer bytes: UnsafeBufferPointer<UInt8>, appendingTo output: inout [UInt8]) {
        let whole = bytes.count / 3 * 3
        let encodedCount = whole / 3 * 4 + [0, 2, 3][bytes.count - whole]
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: encodedCount))
        Self.alphabet.withUnsafeBufferPointer { alphabet in
            output.withUnsafeMutableBufferPointer { output in
                var out = start
                var index = 0
                while index < whole {
                    let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
                    output[out] = alphabet[Int(group >> 18 & 63)]
                    output[out + 1] = alphabet[Int(group >> 12 & 63)]
                    output[out + 2] = alphabet[Int(group >> 6 & 63)]
                    output[out + 3] = alphabet[Int(group & 63)]
                    index += 3
                    out += 4
                }
                switch bytes.count - whole {
                case 1:
                    let group = UInt32(bytes[index]) << 16
                    output[out] = alphabet[Int(group >> 18 & 63)]
                    output[out + 1] = alphabet[Int(group >> 12 & 63)]
                case 2:
                    let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
                    output[out] = alphabet[Int(group >> 18 & 63)]
                    output[out + 1] = alphabet[Int(group >> 12 & 63)]
                    output[out + 2] = alphabet[Int(group >> 6 & 63)]
                default:
                    break
                }
            }
        }
    }

    public static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        if let decoded = text.withContiguousStorageIfAvailable({ Self.decode(buffer: $0) }) { return decoded }
        return Array(text).withUnsafeBufferPointer { Self.decode(buffer: $0) }
    }

    private static func decode(buffer text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let count = text.count
        let tail = count % 4
        guard tail != 1 else { return nil }
        let whole = count - tail
        // Every 4 characters are 3 bytes; 2 or 3 trailing characters are 1 or 2 more.
        let decodedCount = whole / 4 * 3 + (tail == 0 ? 0 : tail - 1)
        var valid = true
        // Written in place through a pointer: appending byte by byte cost a uniqueness and an
        // exclusivity check per byte, more than the decoding itself.
        let output = [UInt8](unsafeUninitializedCapacity: decodedCount) { output, initialized in
            initialized = 0
            valid = Self.values.withUnsafeBufferPointer { values in
                var index = 0
                var out = 0
                var bad: UInt8 = 0
                while index < whole {
                    let a = values[Int(text[index])]
                    let b = values[Int(text[index + 1])]
                    let c = values[Int(text[index + 2])]
                    let d = values[Int(text[index + 3])]
                    bad |= (a | b | c | d) & 0xC0
                    let group = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                    output[out] = UInt8(truncatingIfNeeded: group >> 16)
                    output[out + 1] = UInt8(truncatingIfNeeded: group >> 8)
                    output[out + 2] = UInt8(truncatingIfNeeded: group)
                    index += 4
                    out += 3
                }
                switch tail {
                case 2:
                    let a = values[Int(text[index])]
                    let b = values[Int(text[index + 1])]
                    // The leftover bits must be zero.
                    guard (a | b) & 0xC0 == 0, b & 0xF == 0 else { return false }
                    output[out] = a << 2 | b >> 4
                case 3:
                    let a = values[Int(text[index])]
                    let b = values[Int(text[index + 1])]
                    let c = values[Int(text[index + 2])]
                    guard (a | b | c) & 0xC0 == 0, c & 0x3 == 0 else { return false }
                    output[out] = a << 2 | b >> 4
                    output[out + 1] = b << 4 | c >> 2
                default:
                    break
                }
                // 0xFF marks a byte outside the alphabet; every real value is below 64.
                return bad == 0
            }
            if valid { initialized = decodedCount }
        }
        return valid ? output : nil
    }

    /// Decodes the base64url text of a string.
    public static func decode(_ text: String) -> [UInt8]? {
        Self.decode(text.utf8)
    }
}
