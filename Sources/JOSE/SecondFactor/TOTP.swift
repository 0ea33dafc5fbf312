import Crypto

/// Time-based one-time passwords (RFC 6238) over HOTP (RFC 4226), as authenticator apps make
/// them: HMAC-SHA1, 6 digits, 30-second steps from the Unix epoch. The digits and the hash are
/// parameters only for RFC 6238's test vectors (8 digits, SHA-1).
public enum TOTP {
    /// Seconds per step.
    public static let period = 30
    public static let digits = 6
    /// The secret's length: 160 bits, RFC 4226 §4's recommendation.
    public static let secretBytes = 20

    /// The step that `time` (unix seconds) falls in. Times before 1970 are step 0.
    public static func step(at time: Int) -> Int {
        max(time, 0) / Self.period
    }

    /// The code of `step` (RFC 4226 §5.3's dynamic truncation), `digits` long with leading zeros.
    public static func code(secret: [UInt8], step: Int, digits: Int = Self.digits) -> String {
        var counter = UInt64(clamping: max(step, 0)).bigEndian
        let mac = withUnsafeBytes(of: &counter) { counter in
            Array(HMAC<Insecure.SHA1>.authenticationCode(for: counter, using: SymmetricKey(data: secret)))
        }
        let offset = Int(mac[mac.count - 1] & 0x0F)
        let binary =
            (UInt32(mac[offset] & 0x7F) << 24) | (UInt32(mac[offset + 1]) << 16) | (UInt32(mac[offset + 2]) << 8)
            | UInt32(mac[offset + 3])
        var modulus: UInt32 = 1
        for _ in 0..<min(max(digits, 1), 9) { modulus *= 10 }
        let value = String(binary % modulus)
        return String(repeating: "0", count: max(digits - value.utf8.count, 0)) + value
    }

    /// The step among `step - drift ... step + drift` whose code `code` is, or nil. Every candidate
    /// is computed and compared in constant time, so the answer takes as long whichever matched.
    public static func matchingStep(of code: String, secret: [UInt8], around step: Int, drift: Int) -> Int? {
        let given = Array(code.utf8)
        guard given.count == Self.digits, given.allSatisfy({ (48...57).contains($0) }) else { return nil }
        var found: Int?
        for candidate in (step - drift)...(step + drift) where candidate >= 0 {
            if ConstantTime.equal(Array(Self.code(secret: secret, step: candidate).utf8), given), found == nil {
                found = candidate
            }
        }
        return found
    }

    /// The `otpauth://` URI authenticator apps read from a QR code (Google Authenticator's Key Uri
    /// Format): `otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER&algorithm=SHA1&digits=6&period=30`.
    public static func provisioningURI(secret: [UInt8], issuer: String, account: String) -> String {
        let label = Self.percentEncode(issuer) + ":" + Self.percentEncode(account)
        return "otpauth://totp/\(label)?secret=\(Base32.encode(secret))&issuer=\(Self.percentEncode(issuer))"
            + "&algorithm=SHA1&digits=\(Self.digits)&period=\(Self.period)"
    }

    /// RFC 3986 unreserved characters as they are, every other byte as `%XX`.
    static func percentEncode(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                encoded += "%"
                encoded.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                encoded.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0x0F)]))
            }
        }
        return encoded
    }
}

/// RFC 4648 §6 base32, the alphabet of TOTP secrets, without padding (as authenticators write it).
public enum Base32 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count * 8 + 4) / 5)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                output.append(Self.alphabet[Int((buffer >> UInt32(bits)) & 31)])
            }
        }
        if bits > 0 { output.append(Self.alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return String(decoding: output, as: UTF8.self)
    }

    /// The bytes of `text` (either case, `=` padding and spaces ignored), or nil for any other
    /// character.
    public static func decode(_ text: String) -> [UInt8]? {
        var output: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for character in text.utf8 where character != UInt8(ascii: "=") && character != UInt8(ascii: " ") {
            let value: UInt8
            switch character {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = character - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = character - UInt8(ascii: "a")
            case UInt8(ascii: "2")...UInt8(ascii: "7"): value = character - UInt8(ascii: "2") + 26
            default: return nil
            }
            buffer = (buffer << 5) | UInt32(value)
            bits += 5
            if bits >= 8 {
                bits -= 8
                output.append(UInt8((buffer >> UInt32(bits)) & 0xFF))
            }
            buffer &= (1 << UInt32(bits)) - 1
        }
        return output
    }
}
