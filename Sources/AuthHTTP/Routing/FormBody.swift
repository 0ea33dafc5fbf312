import ASCIIDigits
import NIOCore

/// `application/x-www-form-urlencoded` bodies, as the OAuth endpoints take them (RFC 6749 App. B).
public enum FormBody {
    /// The fields of a form body. A field given twice is refused (RFC 6749 §3.2).
    public static func parse(_ body: ByteBuffer?) throws(HTTPError) -> [String: String] {
        guard let body, body.readableBytes > 0 else { throw .badRequest("the request needs a form body") }
        // Split on the bytes `&` and `=`: splitting a String would compare Characters, and a
        // combining mark after `&` makes one Character of the two, gluing two fields into one.
        var fields: [String: String] = [:]
        for pair in body.readableBytesView.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = self.percentDecode(bytes: parts[0]),
                let value = parts.count > 1 ? self.percentDecode(bytes: parts[1]) : ""
            else { throw .badRequest("the form body is not valid") }
            guard fields[name] == nil else {
                throw .badRequest("parameter '\(name.prefix(64))' is given more than once")
            }
            fields[name] = value
        }
        return fields
    }

    /// Decodes `+` and `%XX`; `nil` for a broken escape or invalid UTF-8.
    public static func percentDecode(_ text: String) -> String? {
        self.percentDecode(bytes: text.utf8)
    }

    static func percentDecode<Bytes: Collection<UInt8>>(bytes text: Bytes) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count)
        var iterator = text.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(Hex.value),
                    let low = iterator.next().flatMap(Hex.value)
                else { return nil }
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// A field that must be there and not empty.
    public static func required(_ name: String, in form: [String: String]) throws(HTTPError) -> String {
        guard let value = form[name], !value.isEmpty else { throw .badRequest("missing parameter '\(name)'") }
        return value
    }
}
