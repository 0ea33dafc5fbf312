/// Writes a flat JSON object, member by member, in the order given: the claims and headers of
/// tokens, and the bodies of the hottest responses (which list their members in sorted order, as
/// `JSONEncoder` with `.sortedKeys` would).
public struct JSONObjectWriter {
    private var bytes: [UInt8] = [UInt8(ascii: "{")]

    /// - Parameter capacity: room for the finished object, so that writing it allocates once.
    public init(capacity: Int = 256) {
        self.bytes.reserveCapacity(capacity)
    }

    public mutating func add(_ name: StaticString, _ value: String) {
        self.name(name)
        JSONString.append(value, to: &self.bytes)
    }

    public mutating func add(_ name: StaticString, _ value: Int) {
        self.name(name)
        ASCIIDecimal.append(value, to: &self.bytes)
    }

    /// The finished object.
    public mutating func finish() -> [UInt8] {
        self.bytes.append(UInt8(ascii: "}"))
        return self.bytes
    }

    private mutating func name(_ name: StaticString) {
        if self.bytes.count > 1 { self.bytes.append(UInt8(ascii: ",")) }
        self.bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { self.bytes.append(contentsOf: $0) }
        self.bytes.append(UInt8(ascii: "\""))
        self.bytes.append(UInt8(ascii: ":"))
    }
}

/// The one JSON string escaper: what RFC 8259 §7 requires and nothing else.
public enum JSONString {
    /// `value` as a JSON string, quotes included.
    public static func quoted(_ value: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(value.utf8.count + 2)
        Self.append(value, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `value` as a JSON string. Runs of bytes that need no escape (all of a token) are
    /// copied whole.
    public static func append(_ value: String, to bytes: inout [UInt8]) {
        var value = value
        // Over the contiguous bytes, runs append with one copy each.
        value.withUTF8 { Self.append(utf8: $0, to: &bytes) }
    }

    private static func append(utf8: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        guard let base = utf8.baseAddress else {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        let count = utf8.count
        var run = 0
        var index = 0
        while index < count {
            // Eight bytes at a time while none needs an escape (all of a token).
            if count - index >= 8,
                !JSONReader.mayNeedEscape(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
            {
                index += 8
                continue
            }
            let byte = base[index]
            if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                index += 1
                continue
            }
            bytes.append(contentsOf: UnsafeBufferPointer(start: base + run, count: index - run))
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(byte)
            case UInt8(ascii: "\n"): bytes.append(contentsOf: "\\n".utf8)
            case UInt8(ascii: "\r"): bytes.append(contentsOf: "\\r".utf8)
            case UInt8(ascii: "\t"): bytes.append(contentsOf: "\\t".utf8)
            default:
                bytes.append(contentsOf: "\\u00".utf8)
                bytes.append(Hex.digit(byte >> 4))
                bytes.append(Hex.digit(byte & 0xF))
            }
            index += 1
            run = index
        }
        bytes.append(contentsOf: UnsafeBufferPointer(start: base + run, count: index - run))
        bytes.append(UInt8(ascii: "\""))
    }
}

/// The one printer of decimal integers: JSON numbers, and the lengths in HTTP headers and RESP.
/// Inlined into its callers, so that each gets it specialized: across modules, the generic
/// version cost a metadata lookup per number.
public enum ASCIIDecimal {
    /// Appends `value` in decimal, with a `-` when it is negative (`Int.min` included).
    @inlinable
    public static func append(_ value: Int, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        Self.withDigits(of: value.magnitude) { bytes.append(contentsOf: $0) }
    }

    /// Calls `body` with the decimal digits of `value`, written on the stack.
    @inlinable
    public static func withDigits<Result>(of value: UInt, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = digits.count
            var rest = value
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
            } while rest > 0
            return body(UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }
}

/// The one hex encoder: lower-case digits, two per byte.
public enum Hex {
    /// The lower-case hex digit of the low four bits of `nibble`.
    @inline(__always)
    public static func digit(_ nibble: UInt8) -> UInt8 {
        let value = nibble & 0xF
        return value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }

    /// `bytes` as lower-case hex, two digits a byte.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var digits: [UInt8] = []
        digits.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            digits.append(Self.digit(byte >> 4))
            digits.append(Self.digit(byte))
        }
        return String(decoding: digits, as: UTF8.self)
    }
}
