/// The one JSON reader (RFC 8259) of authd: JOSE headers and JWT claims, and request bodies.
///
/// Strict, with one set of rules for every caller: exactly one value and nothing after it but
/// white space, valid UTF-8, no lone surrogate, no nesting deeper than the caller's limit, and no
/// object with the same member name twice, names compared after their escapes are decoded (so
/// `"a"` and `"\u0061"` are the same name: parsers resolve duplicates differently, a classic way
/// to smuggle a second value past a check; RFC 7515 §5.2 allows refusing them in JOSE).
///
/// Tokens are read on every authenticated request, and `JSONDecoder` was the largest single cost
/// of that path (about 7 µs of 56). The reader keeps what its callers need: strings, integers,
/// booleans, `null`, arrays of strings and objects; any other valid value is kept as ``Value/other``.
public enum JSONReader {
    public enum Value: Equatable, Sendable {
        case string(String)
        /// A number with no fraction or exponent that fits in an `Int`.
        case integer(Int)
        case strings([String])
        case bool(Bool)
        case null
        /// An object, with its members in order (a DPoP proof's `jwk`, a token's `cnf`).
        case object(Members)
        /// Any other value: another number, or an array of anything but strings.
        case other
    }

    /// The members of a nested object, in order, with unique names.
    public struct Members: Equatable, Sendable {
        public var list: [(name: String, value: Value)]

        public init(_ list: [(name: String, value: Value)]) {
            self.list = list
        }

        /// The value of the member `name`, or `nil`.
        public subscript(name: String) -> Value? {
            self.list.first(where: { $0.name == name })?.value
        }

        public static func == (lhs: Members, rhs: Members) -> Bool {
            lhs.list.count == rhs.list.count
                && zip(lhs.list, rhs.list).allSatisfy { $0.name == $1.name && $0.value == $1.value }
        }
    }

    /// Why bytes are not what the caller accepts, worded by the caller.
    public enum Failure: Error, Equatable, Sendable {
        case invalidUTF8
        case invalidJSON
        /// Nested deeper than the limit given.
        case tooDeep
        /// The first member name given twice in one object.
        case duplicateName(String)
        /// Valid JSON, but not an object.
        case notAnObject
    }

    /// The nesting a JOSE header or a claims set may have.
    public static let joseMaximumDepth = 8

    /// The members of the object in `bytes`, in order, or `nil` when it is not one valid JSON
    /// object with unique member names, nested at most `maximumDepth` deep.
    public static func object(_ bytes: [UInt8], maximumDepth: Int = joseMaximumDepth) -> [(
        name: String, value: Value
    )]? {
        var reader = Reader(bytes: bytes, maximumDepth: maximumDepth)
        guard let members = reader.object(depth: 1), reader.atEnd else { return nil }
        return members
    }

    /// The members of the object in `bytes`, or why it is not one: the same rules as
    /// ``object(_:maximumDepth:)``, for callers that word the refusal.
    public static func members(_ bytes: [UInt8], maximumDepth: Int) throws(Failure) -> [(name: String, value: Value)] {
        var reader = Reader(bytes: bytes, maximumDepth: maximumDepth)
        reader.skipSpace()
        guard reader.peek == UInt8(ascii: "{") else {
            guard reader.value(depth: 0) != nil, reader.atEnd else { throw Self.failure(of: reader) }
            throw .notAnObject
        }
        guard let members = reader.object(depth: 1), reader.atEnd else { throw Self.failure(of: reader) }
        return members
    }

    /// What a read that stopped short ran into. Invalid UTF-8 anywhere is named as such, before
    /// any other fault. (A read that succeeds has seen valid UTF-8: its strings are checked, and
    /// outside strings only ASCII is JSON.)
    private static func failure(of reader: Reader) -> Failure {
        String(validating: reader.bytes, as: UTF8.self) == nil ? .invalidUTF8 : reader.failure
    }

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

    private struct Reader {
        let bytes: [UInt8]
        let maximumDepth: Int
        var index = 0
        /// Why the read stopped, once a method has returned `nil`.
        var failure = Failure.invalidJSON

        init(bytes: [UInt8], maximumDepth: Int) {
            self.bytes = bytes
            self.maximumDepth = maximumDepth
        }

        var atEnd: Bool {
            mutating get {
                self.skipSpace()
                return self.index == self.bytes.count
            }
        }

        var peek: UInt8? {
            self.index < self.bytes.count ? self.bytes[self.index] : nil
        }

        mutating func skipSpace() {
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

        private mutating func fail(_ failure: Failure) -> Bool {
            self.failure = failure
            return false
        }

        mutating func object(depth: Int) -> [(name: String, value: Value)]? {
            guard depth <= self.maximumDepth || self.fail(.tooDeep), self.consume(UInt8(ascii: "{")) else { return nil }
            var members: [(name: String, value: Value)] = []
            // A token's claims fit without growing the array.
            members.reserveCapacity(12)
            // Names are compared one by one while there are few (a token's dozen); past that, a set
            // keeps a hostile body's thousands of names from costing their square.
            var names: Set<String>? = nil
            if self.consume(UInt8(ascii: "}")) { return members }
            repeat {
                self.skipSpace()
                guard let name = self.string(), self.consume(UInt8(ascii: ":")), let value = self.value(depth: depth)
                else { return nil }
                let repeated: Bool
                if members.count < 16 {
                    repeated = members.contains(where: { $0.name == name })
                } else {
                    if names == nil { names = Set(members.map(\.name)) }
                    repeated = !names!.insert(name).inserted
                }
                guard !repeated || self.fail(.duplicateName(name)) else { return nil }
                members.append((name, value))
            } while self.consume(UInt8(ascii: ","))
            return self.consume(UInt8(ascii: "}")) ? members : nil
        }

        mutating func value(depth: Int) -> Value? {
            self.skipSpace()
            switch self.peek {
            case UInt8(ascii: "\""):
                return self.string().map(Value.string)
            case UInt8(ascii: "{"):
                return self.object(depth: depth + 1).map { .object(Members($0)) }
            case UInt8(ascii: "["):
                return self.array(depth: depth + 1)
            case UInt8(ascii: "t"):
                return self.literal("true", .bool(true))
            case UInt8(ascii: "f"):
                return self.literal("false", .bool(false))
            case UInt8(ascii: "n"):
                return self.literal("null", .null)
            default:
                return self.number()
            }
        }

        private mutating func array(depth: Int) -> Value? {
            guard depth <= self.maximumDepth || self.fail(.tooDeep), self.consume(UInt8(ascii: "[")) else { return nil }
            var strings: [String]? = []
            if self.consume(UInt8(ascii: "]")) { return .strings([]) }
            repeat {
                guard let value = self.value(depth: depth) else { return nil }
                if case .string(let string) = value { strings?.append(string) } else { strings = nil }
            } while self.consume(UInt8(ascii: ","))
            guard self.consume(UInt8(ascii: "]")) else { return nil }
            return strings.map(Value.strings) ?? .other
        }

        private mutating func literal(_ text: StaticString, _ value: Value) -> Value? {
            let count = text.utf8CodeUnitCount
            guard self.index + count <= self.bytes.count,
                text.withUTF8Buffer({ self.bytes[self.index..<(self.index + count)].elementsEqual($0) })
            else { return nil }
            self.index += count
            return value
        }

        /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`: no leading zeros (RFC 8259 §6).
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
                        if !JSONReader.mayNeedEscape(word) {
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
                if ascii {
                    return self.bytes.withUnsafeBufferPointer {
                        String(decoding: UnsafeBufferPointer(rebasing: $0[range]), as: UTF8.self)
                    }
                }
                return self.validated(self.bytes[range])
            }
            var decoded = Array(self.bytes[start..<self.index])
            while let byte = self.peek {
                self.index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return self.validated(decoded[...])
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

        private mutating func validated(_ bytes: ArraySlice<UInt8>) -> String? {
            guard let string = String(validating: bytes, as: UTF8.self) else {
                self.failure = .invalidUTF8
                return nil
            }
            return string
        }

        /// The UTF-8 bytes of the escape (RFC 8259 §7) after a backslash; `nil` for an invalid
        /// escape or a lone surrogate.
        private mutating func escape() -> [UInt8]? {
            guard let byte = self.peek else { return nil }
            self.index += 1
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): return [byte]
            case UInt8(ascii: "b"): return [0x08]
            case UInt8(ascii: "f"): return [0x0C]
            case UInt8(ascii: "n"): return [0x0A]
            case UInt8(ascii: "r"): return [0x0D]
            case UInt8(ascii: "t"): return [0x09]
            case UInt8(ascii: "u"):
                guard var scalar = self.hex4() else { return nil }
                if (0xD800..<0xDC00).contains(scalar) {
                    // A high surrogate must be followed by an escaped low one.
                    guard self.index + 1 < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\\"),
                        self.bytes[self.index + 1] == UInt8(ascii: "u")
                    else { return nil }
                    self.index += 2
                    guard let low = self.hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let unicode = Unicode.Scalar(scalar) else { return nil }
                return Array(String(Character(unicode)).utf8)
            default:
                return nil
            }
        }

        /// Four hex digits (no sign, unlike `UInt32(_:radix:)`), moved past.
        private mutating func hex4() -> UInt32? {
            guard self.index + 4 <= self.bytes.count else { return nil }
            var value: UInt32 = 0
            for byte in self.bytes[self.index..<(self.index + 4)] {
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                value = value << 4 | UInt32(digit)
            }
            self.index += 4
            return value
        }
    }
}
