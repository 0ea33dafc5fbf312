/// The JSON of JOSE headers and JWT claims (RFC 8259): a strict reader of one object. Its writer
/// is ``JSONObjectWriter``. The HTTP layer also reads the refresh request's small body with it.
///
/// Tokens are read on every authenticated request, and `JSONDecoder` was the largest single cost
/// of that path (about 7 µs of 56). This reader keeps what the codec needs: strings, integers,
/// and arrays of strings; any other valid value is kept as ``Value/other``. It refuses what is not
/// one well-formed JSON object: trailing bytes, invalid UTF-8, lone surrogates, nesting deeper
/// than ``maximumDepth``, and duplicate member names (RFC 7515 §5.2 allows refusing them).
public enum JOSEJSON {
    /// Whether any of eight bytes is a quote, a backslash or a control character (below 0x20):
    /// the bytes a JSON string cannot hold as they are. Exact, with the classic bit tricks for a
    /// zero byte (`x ^ c` for each of the two characters) and for a byte below a bound.
    @inline(__always)
    static func mayNeedEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let hasQuote = (quote &- ones) & ~quote
        let hasBackslash = (backslash &- ones) & ~backslash
        let hasControl = (word &- ones &* 0x20) & ~word
        return (hasQuote | hasBackslash | hasControl) & highs != 0
    }

    public enum Value: Equatable, Sendable {
        case string(String)
        /// A number with no fraction or exponent that fits in an `Int`.
        case integer(Int)
        case strings([String])
        /// Any other value: `true`, `false`, `null`, another number, object or array.
        case other
    }

    public static let maximumDepth = 8

    /// The members of the object in `bytes`, in order, or `nil` when it is not one valid JSON
    /// object with unique member names.
    public static func object(_ bytes: [UInt8]) -> [(name: String, value: Value)]? {
        var reader = Reader(bytes: bytes)
        guard let members = reader.object(depth: 1), reader.atEnd else { return nil }
        return members
    }

    /// The UTF-8 bytes of the JSON escape (RFC 8259 §7) whose backslash is just before
    /// `bytes[index]`, with `index` moved past it; `nil` for an invalid escape or a lone surrogate.
    /// The one escape decoder of both JSON readers (this one and the HTTP layer's strict pass), so
    /// that they agree on what a string, and so a member name, is.
    public static func unescape(_ bytes: [UInt8], at index: inout Int) -> [UInt8]? {
        guard index < bytes.count else { return nil }
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): return [byte]
        case UInt8(ascii: "b"): return [0x08]
        case UInt8(ascii: "f"): return [0x0C]
        case UInt8(ascii: "n"): return [0x0A]
        case UInt8(ascii: "r"): return [0x0D]
        case UInt8(ascii: "t"): return [0x09]
        case UInt8(ascii: "u"):
            guard var scalar = Self.hex4(bytes, at: &index) else { return nil }
            if (0xD800..<0xDC00).contains(scalar) {
                // A high surrogate must be followed by an escaped low one.
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                else { return nil }
                index += 2
                guard let low = Self.hex4(bytes, at: &index), (0xDC00..<0xE000).contains(low) else { return nil }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let unicode = Unicode.Scalar(scalar) else { return nil }
            return Array(String(Character(unicode)).utf8)
        default:
            return nil
        }
    }

    /// Four hex digits (no sign, unlike `UInt32(_:radix:)`) at `index`, moved past them.
    private static func hex4(_ bytes: [UInt8], at index: inout Int) -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for byte in bytes[index..<(index + 4)] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        index += 4
        return value
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        var atEnd: Bool {
            mutating get {
                self.skipSpace()
                return self.index == self.bytes.count
            }
        }

        private var peek: UInt8? {
            self.index < self.bytes.count ? self.bytes[self.index] : nil
        }

        private mutating func skipSpace() {
            while let byte = self.peek,
                byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
                    || byte == UInt8(ascii: "\t")
            {
                self.index += 1
            }
        }

        private mutating func consume(_ byte: UInt8) -> Bool {
            self.skipSpace()
            guard self.peek == byte else { return false }
            self.index += 1
            return true
        }

        mutating func object(depth: Int) -> [(name: String, value: Value)]? {
            guard depth <= JOSEJSON.maximumDepth, self.consume(UInt8(ascii: "{")) else { return nil }
            var members: [(name: String, value: Value)] = []
            // A token's claims fit without growing the array.
            members.reserveCapacity(12)
            if self.consume(UInt8(ascii: "}")) { return members }
            repeat {
                self.skipSpace()
                guard let name = self.string(), self.consume(UInt8(ascii: ":")),
                    let value = self.value(depth: depth),
                    !members.contains(where: { $0.name == name })
                else { return nil }
                members.append((name, value))
            } while self.consume(UInt8(ascii: ","))
            return self.consume(UInt8(ascii: "}")) ? members : nil
        }

        private mutating func value(depth: Int) -> Value? {
            self.skipSpace()
            switch self.peek {
            case UInt8(ascii: "\""):
                return self.string().map(Value.string)
            case UInt8(ascii: "{"):
                return self.object(depth: depth + 1).map { _ in .other }
            case UInt8(ascii: "["):
                return self.array(depth: depth + 1)
            case UInt8(ascii: "t"):
                return self.literal("true")
            case UInt8(ascii: "f"):
                return self.literal("false")
            case UInt8(ascii: "n"):
                return self.literal("null")
            default:
                return self.number()
            }
        }

        private mutating func array(depth: Int) -> Value? {
            guard depth <= JOSEJSON.maximumDepth, self.consume(UInt8(ascii: "[")) else { return nil }
            var strings: [String]? = []
            if self.consume(UInt8(ascii: "]")) { return .strings([]) }
            repeat {
                guard let value = self.value(depth: depth) else { return nil }
                if case .string(let string) = value { strings?.append(string) } else { strings = nil }
            } while self.consume(UInt8(ascii: ","))
            guard self.consume(UInt8(ascii: "]")) else { return nil }
            return strings.map(Value.strings) ?? .other
        }

        private mutating func literal(_ text: StaticString) -> Value? {
            let count = text.utf8CodeUnitCount
            guard self.index + count <= self.bytes.count,
                text.withUTF8Buffer({ self.bytes[self.index..<(self.index + count)].elementsEqual($0) })
            else { return nil }
            self.index += count
            return .other
        }

        /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
        private mutating func number() -> Value? {
            let start = self.index
            let isDigit = { (byte: UInt8) in (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
            if self.peek == UInt8(ascii: "-") { self.index += 1 }
            guard let first = self.peek, isDigit(first) else { return nil }
            self.index += 1
            if first != UInt8(ascii: "0") {
                while let byte = self.peek, isDigit(byte) { self.index += 1 }
            }
            var integral = true
            if self.peek == UInt8(ascii: ".") {
                integral = false
                self.index += 1
                guard let byte = self.peek, isDigit(byte) else { return nil }
                while let byte = self.peek, isDigit(byte) { self.index += 1 }
            }
            if self.peek == UInt8(ascii: "e") || self.peek == UInt8(ascii: "E") {
                integral = false
                self.index += 1
                if self.peek == UInt8(ascii: "+") || self.peek == UInt8(ascii: "-") { self.index += 1 }
                guard let byte = self.peek, isDigit(byte) else { return nil }
                while let byte = self.peek, isDigit(byte) { self.index += 1 }
            }
            guard integral, let value = Int(String(decoding: self.bytes[start..<self.index], as: UTF8.self)) else {
                return .other
            }
            return .integer(value)
        }

        /// A string at the current position (its opening quote).
        private mutating func string() -> String? {
            guard self.peek == UInt8(ascii: "\"") else { return nil }
            self.index += 1
            let start = self.index
            // Without escapes (the usual case) the bytes are the string's. Scanned eight bytes at a
            // time while none is a quote, a backslash or a control character.
            let (end, ascii) = self.bytes.withUnsafeBufferPointer { bytes -> (Int, Bool) in
                var index = start
                var seen: UInt64 = 0
                while index < bytes.count {
                    if bytes.count - index >= 8 {
                        let word = UnsafeRawPointer(bytes.baseAddress! + index).loadUnaligned(as: UInt64.self)
                        if !JOSEJSON.mayNeedEscape(word) {
                            seen |= word
                            index += 8
                            continue
                        }
                    }
                    let byte = bytes[index]
                    if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { break }
                    seen |= UInt64(byte)
                    index += 1
                }
                return (index, seen & 0x8080_8080_8080_8080 == 0)
            }
            self.index = end
            if self.peek == UInt8(ascii: "\"") {
                defer { self.index += 1 }
                let range = start..<self.index
                // ASCII is valid UTF-8 as it is; anything else is checked.
                return ascii
                    ? self.bytes.withUnsafeBufferPointer {
                        String(decoding: UnsafeBufferPointer(rebasing: $0[range]), as: UTF8.self)
                    }
                    : String(validating: self.bytes[range], as: UTF8.self)
            }
            var decoded = Array(self.bytes[start..<self.index])
            while let byte = self.peek {
                self.index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(validating: decoded, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let escaped = self.escape() else { return nil }
                    decoded.append(contentsOf: escaped)
                case 0..<0x20:
                    return nil
                default:
                    decoded.append(byte)
                }
            }
            return nil
        }

        /// The UTF-8 bytes of the escape after a backslash.
        private mutating func escape() -> [UInt8]? {
            JOSEJSON.unescape(self.bytes, at: &self.index)
        }
    }
}

/// Writes a flat JSON object, member by member, in the order given: the claims of tokens, and
/// the bodies of the hottest responses (which list their members in sorted order, as
/// `JSONEncoder` with `.sortedKeys` would).
public struct JSONObjectWriter {
    private(set) var bytes: [UInt8] = [UInt8(ascii: "{")]

    /// - Parameter capacity: room for the finished object, so that writing it allocates once.
    public init(capacity: Int = 256) {
        self.bytes.reserveCapacity(capacity)
    }

    public mutating func add(_ name: StaticString, _ value: String) {
        self.name(name)
        Self.appendString(value, to: &self.bytes)
    }

    public mutating func add(_ name: StaticString, _ value: Int) {
        self.name(name)
        if value < 0 { self.bytes.append(UInt8(ascii: "-")) }
        let magnitude = value.magnitude
        var divisor: UInt = 1
        while divisor <= magnitude / 10 { divisor *= 10 }
        repeat {
            self.bytes.append(UInt8(ascii: "0") + UInt8(magnitude / divisor % 10))
            divisor /= 10
        } while divisor > 0
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

    /// A JSON string, escaping what RFC 8259 §7 requires and nothing else. Runs of bytes that
    /// need no escape (all of a token) are copied whole.
    static func appendString(_ value: String, to bytes: inout [UInt8]) {
        var value = value
        // Over the contiguous bytes, runs append with one copy each.
        value.withUTF8 { Self.appendString(utf8: $0, to: &bytes) }
    }

    private static func appendString(utf8: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
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
                !JOSEJSON.mayNeedEscape(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
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
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: "\\u00".utf8)
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0xF)])
            }
            index += 1
            run = index
        }
        bytes.append(contentsOf: UnsafeBufferPointer(start: base + run, count: index - run))
        bytes.append(UInt8(ascii: "\""))
    }
}
