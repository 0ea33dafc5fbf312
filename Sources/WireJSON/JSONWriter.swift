import ASCIIDigits

/// The one JSON writer: writes an object member by member, in the order given. Token claims and
/// headers, and every response body, are written with it; bodies list their members in sorted
/// order, so that the same response is the same bytes. Nested objects and arrays are written by a
/// writer of their own and added with ``add(_:json:)``.
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

    public mutating func add(_ name: StaticString, _ value: Bool) {
        self.name(name)
        self.bytes.append(contentsOf: value ? Array("true".utf8) : Array("false".utf8))
    }

    public mutating func add(_ name: StaticString, _ values: [String]) {
        self.name(name)
        JSONArray.append(strings: values, to: &self.bytes)
    }

    /// A member whose value is JSON already written: a finished object or array.
    public mutating func add(_ name: StaticString, json value: [UInt8]) {
        self.name(name)
        self.bytes.append(contentsOf: value)
    }

    /// A member whose name is not known in advance (a map's key), escaped as any string is.
    public mutating func add(member name: String, _ value: String) {
        if self.bytes.count > 1 { self.bytes.append(UInt8(ascii: ",")) }
        JSONString.append(name, to: &self.bytes)
        self.bytes.append(UInt8(ascii: ":"))
        JSONString.append(value, to: &self.bytes)
    }

    /// A member whose name is not known in advance, and whose value is JSON already written.
    public mutating func add(member name: String, json value: [UInt8]) {
        if self.bytes.count > 1 { self.bytes.append(UInt8(ascii: ",")) }
        JSONString.append(name, to: &self.bytes)
        self.bytes.append(UInt8(ascii: ":"))
        self.bytes.append(contentsOf: value)
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

/// JSON arrays, of strings or of values written already.
public enum JSONArray {
    /// `values` as an array of JSON values written already (finished objects, for instance).
    public static func of(_ values: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        bytes.reserveCapacity(2 + values.reduce(0) { $0 + $1.count + 1 })
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: value)
        }
        bytes.append(UInt8(ascii: "]"))
        return bytes
    }

    /// Appends `values` as an array of JSON strings.
    public static func append(strings values: [String], to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            JSONString.append(value, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }
}
