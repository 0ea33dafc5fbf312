import AuthCore

/// A strict pass over a JSON body before it is decoded: valid UTF-8, valid JSON (RFC 8259), at
/// most `maxDepth` levels of nesting, and no object with the same key twice (which parsers resolve
/// differently, a classic way to smuggle a second value past a check).
struct StrictJSON {
    static let maxDepth = 16

    enum Failure: Error, Equatable {
        case invalidUTF8
        case invalidJSON
        case tooDeep
        case duplicateKey(String)
    }

    private let bytes: [UInt8]
    private var index = 0

    static func validate(_ bytes: [UInt8]) throws(Failure) {
        guard String(validating: bytes, as: UTF8.self) != nil else { throw .invalidUTF8 }
        var parser = StrictJSON(bytes: bytes)
        parser.skipWhitespace()
        try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw .invalidJSON }
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private var current: UInt8? { self.index < self.bytes.count ? self.bytes[self.index] : nil }

    private mutating func skipWhitespace() {
        while let byte = self.current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
            self.index += 1
        }
    }

    private mutating func expect(_ literal: String) throws(Failure) {
        for byte in literal.utf8 {
            guard self.current == byte else { throw .invalidJSON }
            self.index += 1
        }
    }

    private mutating func value(depth: Int) throws(Failure) {
        switch self.current {
        case UInt8(ascii: "{"): try self.object(depth: depth + 1)
        case UInt8(ascii: "["): try self.array(depth: depth + 1)
        case UInt8(ascii: "\""): _ = try self.string()
        case UInt8(ascii: "t"): try self.expect("true")
        case UInt8(ascii: "f"): try self.expect("false")
        case UInt8(ascii: "n"): try self.expect("null")
        case .some(let byte) where byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte):
            try self.number()
        default: throw .invalidJSON
        }
    }

    private mutating func object(depth: Int) throws(Failure) {
        guard depth <= Self.maxDepth else { throw .tooDeep }
        self.index += 1
        self.skipWhitespace()
        if self.current == UInt8(ascii: "}") {
            self.index += 1
            return
        }
        var keys = Set<[UInt8]>()
        while true {
            self.skipWhitespace()
            guard self.current == UInt8(ascii: "\"") else { throw .invalidJSON }
            let key = try self.string()
            guard keys.insert(key).inserted else { throw .duplicateKey(String(decoding: key, as: UTF8.self)) }
            self.skipWhitespace()
            try self.expect(":")
            self.skipWhitespace()
            try self.value(depth: depth)
            self.skipWhitespace()
            switch self.current {
            case UInt8(ascii: ","): self.index += 1
            case UInt8(ascii: "}"):
                self.index += 1
                return
            default: throw .invalidJSON
            }
        }
    }

    private mutating func array(depth: Int) throws(Failure) {
        guard depth <= Self.maxDepth else { throw .tooDeep }
        self.index += 1
        self.skipWhitespace()
        if self.current == UInt8(ascii: "]") {
            self.index += 1
            return
        }
        while true {
            self.skipWhitespace()
            try self.value(depth: depth)
            self.skipWhitespace()
            switch self.current {
            case UInt8(ascii: ","): self.index += 1
            case UInt8(ascii: "]"):
                self.index += 1
                return
            default: throw .invalidJSON
            }
        }
    }

    /// Returns the string's content with every escape decoded (`\u0075` is `u`, surrogate pairs
    /// included), so that keys are compared as the decoder will see them: a key spelled twice in
    /// two ways is still a duplicate.
    private mutating func string() throws(Failure) -> [UInt8] {
        self.index += 1
        var content: [UInt8] = []
        while let byte = self.current {
            self.index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return content
            case UInt8(ascii: "\\"):
                guard let decoded = JOSEJSON.unescape(self.bytes, at: &self.index) else { throw .invalidJSON }
                content += decoded
            case 0x00..<0x20:
                throw .invalidJSON
            default:
                content.append(byte)
            }
        }
        throw .invalidJSON
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`: no leading zeros (RFC 8259 §6).
    private mutating func number() throws(Failure) {
        if self.current == UInt8(ascii: "-") { self.index += 1 }
        let leadingZero = self.current == UInt8(ascii: "0")
        let integral = self.digits()
        guard integral > 0, !(leadingZero && integral > 1) else { throw .invalidJSON }
        if self.current == UInt8(ascii: ".") {
            self.index += 1
            guard self.digits() > 0 else { throw .invalidJSON }
        }
        if self.current == UInt8(ascii: "e") || self.current == UInt8(ascii: "E") {
            self.index += 1
            if self.current == UInt8(ascii: "+") || self.current == UInt8(ascii: "-") { self.index += 1 }
            guard self.digits() > 0 else { throw .invalidJSON }
        }
    }

    private mutating func digits() -> Int {
        let start = self.index
        while let byte = self.current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { self.index += 1 }
        return self.index - start
    }
}
