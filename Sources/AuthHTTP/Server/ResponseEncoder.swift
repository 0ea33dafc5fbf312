import ASCIIDigits
import NIOCore
import NIOHTTP1

/// Encodes a whole response, status line, headers and body, into one buffer, written with one
/// `writev` entry.
///
/// authd writes this itself rather than through `HTTPResponseEncoder` and its header validator: on
/// the verify path those two, with the three wrapped response parts they take, cost about as much
/// CPU as the token check. What they did is done here:
/// - framing: `content-length` always, except on statuses that have no body (1xx, 204, 304);
///   a route's own framing headers are dropped;
/// - no body in an answer to `HEAD` (RFC 9110 §9.3.2);
/// - no header whose name or value could split the response (CR, LF, NUL, or a name that is not a
///   token): such a header is dropped. authd's headers are its own, and the one value a client
///   chooses, the request id, is checked before it is used.
enum ResponseEncoder {
    static func encode(
        _ response: HTTPResponse,
        requestID: String?,
        keepAlive: Bool,
        isHeadRequest: Bool,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        let code = response.status.code
        let mayHaveBody = code >= 200 && code != 204 && code != 304
        let bodyBytes = mayHaveBody ? (response.body?.readableBytes ?? 0) : 0
        var buffer = allocator.buffer(capacity: 160 + bodyBytes + response.headers.count * 48)
        buffer.writeStaticString("HTTP/1.1 ")
        Self.writeDecimal(Int(code), to: &buffer)
        buffer.writeInteger(UInt8(ascii: " "))
        buffer.writeString(response.status.reasonPhrase)
        buffer.writeStaticString("\r\n")
        for (name, value) in response.headers where Self.isSafe(name: name, value: value) {
            if Self.isFraming(name) { continue }
            Self.writeHeader(name, value, to: &buffer)
        }
        if mayHaveBody {
            buffer.writeStaticString("content-length: ")
            Self.writeDecimal(bodyBytes, to: &buffer)
            buffer.writeStaticString("\r\n")
        }
        if !keepAlive {
            buffer.writeStaticString("connection: close\r\n")
        }
        // No body of authd's is to be sniffed into something else (an error page as HTML).
        buffer.writeStaticString("x-content-type-options: nosniff\r\n")
        if let requestID, Self.isSafe(name: "x-request-id", value: requestID) {
            Self.writeHeader("x-request-id", requestID, to: &buffer)
        }
        buffer.writeStaticString("\r\n")
        if mayHaveBody, !isHeadRequest, var body = response.body {
            buffer.writeBuffer(&body)
        }
        return buffer
    }

    private static func writeHeader(_ name: String, _ value: String, to buffer: inout ByteBuffer) {
        buffer.writeString(name)
        buffer.writeStaticString(": ")
        buffer.writeString(value)
        buffer.writeStaticString("\r\n")
    }

    private static func writeDecimal(_ value: Int, to buffer: inout ByteBuffer) {
        precondition(value >= 0)
        ASCIIDecimal.withDigits(of: UInt(value)) { _ = buffer.writeBytes($0) }
    }

    /// Framing is this encoder's job: a route's own `content-length` or `transfer-encoding`
    /// would contradict the body written.
    private static func isFraming(_ name: String) -> Bool {
        name.utf8.count >= 14
            && (Self.equalsIgnoringCase(name, "content-length") || Self.equalsIgnoringCase(name, "transfer-encoding"))
    }

    private static func equalsIgnoringCase(_ name: String, _ lowercased: String) -> Bool {
        guard name.utf8.count == lowercased.utf8.count else { return false }
        return zip(name.utf8, lowercased.utf8).allSatisfy { byte, lower in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 == lower : byte == lower
        }
    }

    /// A name must be an RFC 9110 token; a value must not hold CR, LF or NUL.
    static func isSafe(name: String, value: String) -> Bool {
        var name = name
        var value = value
        // Over the contiguous UTF-8 bytes: iterating a string's UTF-8 view cost several times more.
        let nameIsToken = name.withUTF8 { bytes in
            guard !bytes.isEmpty else { return false }
            for byte in bytes where !Self.isTokenByte(byte) { return false }
            return true
        }
        return nameIsToken
            && value.withUTF8 { bytes in
                for byte in bytes where byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") || byte == 0 {
                    return false
                }
                return true
            }
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "!"), UInt8(ascii: "#"),
            UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"),
            UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"),
            UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}
