import Crypto

/// Unguessable identifiers for sessions and tokens: 128 bits from a CSPRNG, as 32 lowercase hex
/// digits.
public enum RandomID {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func make() -> String {
        // BoringSSL's CSPRNG (seeded and reseeded from getrandom): no system call per id, where
        // SystemRandomNumberGenerator makes one per 8 bytes.
        let bytes = SymmetricKey(size: .bits128)
        return bytes.withUnsafeBytes { buffer in
            var text = [UInt8]()
            text.reserveCapacity(32)
            for byte in buffer {
                text.append(Self.digits[Int(byte >> 4)])
                text.append(Self.digits[Int(byte & 0xF)])
            }
            return String(decoding: text, as: UTF8.self)
        }
    }

    /// `count` random bytes as hex, for secrets.
    public static func hexBytes(_ count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in
            let byte = UInt8.random(in: .min ... .max, using: &generator)
            return (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
    }
}
