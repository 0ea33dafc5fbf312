/// Unguessable identifiers for sessions and tokens: 128 bits from the system's CSPRNG
/// (getrandom on Linux), as 32 lowercase hex digits.
public enum RandomID {
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return self.hex(UInt64.random(in: .min ... .max, using: &generator))
            + self.hex(UInt64.random(in: .min ... .max, using: &generator))
    }

    /// `count` random bytes as hex, for secrets.
    public static func hexBytes(_ count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in
            let byte = UInt8.random(in: .min ... .max, using: &generator)
            return (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
