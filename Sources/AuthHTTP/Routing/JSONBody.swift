import Foundation
import WireJSON

extension HTTPRequest {
    /// How deep a request body may nest.
    static let maximumJSONDepth = 16

    /// Decodes the body as a JSON object of type `T`, turning every kind of bad input into a 400
    /// with a description a client developer can act on.
    public func decodeJSON<T: Decodable>(_: T.Type) throws(HTTPError) -> T {
        guard let body = self.body, body.readableBytes > 0 else {
            throw .badRequest("the request needs a JSON body")
        }
        let bytes = Array(body.readableBytesView)
        // One strict read words every fault of the JSON itself; the hot bodies then take their
        // fields from its members, and the others go through `JSONDecoder`, which words the
        // faults of the fields.
        let members: [(name: String, value: JSONReader.Value)]
        do {
            members = try JSONReader.members(bytes, maximumDepth: Self.maximumJSONDepth)
        } catch {
            switch error {
            case .invalidUTF8: throw .badRequest("the body is not valid UTF-8")
            case .invalidJSON: throw .badRequest("the body is not valid JSON")
            case .tooDeep: throw .badRequest("the body is nested deeper than \(Self.maximumJSONDepth) levels")
            case .duplicateName(let name): throw .badRequest("field '\(name.prefix(64))' is given more than once")
            case .notAnObject: throw .badRequest("the body must be a JSON object")
            }
        }
        if let direct = T.self as? any DirectJSONDecodable.Type, let value = direct.init(members: members) as? T {
            return value
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw .badRequest(Self.describe(error))
        } catch {
            throw .badRequest("the body is not valid JSON")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(let type, let context):
            let field = context.codingPath.last?.stringValue
            return field.map { "field '\($0)' must be of type \(Self.name(of: type))" }
                ?? "the body must be a JSON object"
        case .valueNotFound(_, let context), .keyNotFound(_, let context):
            if case .keyNotFound(let key, _) = error { return "missing field '\(key.stringValue)'" }
            return "field '\(context.codingPath.last?.stringValue ?? "?")' must not be null"
        case .dataCorrupted:
            return "the body is not valid JSON"
        @unknown default:
            return "the body is not valid JSON"
        }
    }

    private static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: "string"
        case is Int.Type, is Double.Type: "number"
        case is Bool.Type: "boolean"
        default: "object"
        }
    }
}

/// A request body on a hot path (`POST /token`) that reads itself from ``JSONReader``'s members,
/// without `JSONDecoder` (about 3 µs a request). It must accept only what `JSONDecoder` would,
/// with the same values, and return `nil` for anything else; a test holds it to that.
protocol DirectJSONDecodable: Decodable {
    init?(members: [(name: String, value: JSONReader.Value)])
}
