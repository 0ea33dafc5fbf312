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
        guard count % 4 != 1 else { return nil }
        return Self.values.withUnsafeBufferPointer { values -> [UInt8]? in
            var output: [UInt8] = []
            output.reserveCapacity(count * 3 / 4)
            var group: UInt32 = 0
            var pending = 0
            for byte in text {
                let value = values[Int(byte)]
                guard value != 0xFF else { return nil }
                group = group << 6 | UInt32(value)
                pending += 1
                if pending == 4 {
                    output.append(UInt8(truncatingIfNeeded: group >> 16))
                    output.append(UInt8(truncatingIfNeeded: group >> 8))
                    output.append(UInt8(truncatingIfNeeded: group))
                    group = 0
                    pending = 0
                }
            }
            switch pending {
            case 2:
                guard group & 0xF == 0 else { return nil }
                output.append(UInt8(truncatingIfNeeded: group >> 4))
            case 3:
                guard group & 0x3 == 0 else { return nil }
                output.append(UInt8(truncatingIfNeeded: group >> 10))
                output.append(UInt8(truncatingIfNeeded: group >> 2))
            default:
                break
            }
            return output
        }
    }

    /// Decodes the base64url text of a string.
    public static func decode(_ text: String) -> [UInt8]? {
        Self.decode(text.utf8)
    }
}
