import WireJSON

/// A request body read from a JSON object: each body type takes its fields from the members that
/// ``JSONReader`` read, once, and nothing else parses the body.
protocol JSONRequestBody {
    init(fields: JSONFields) throws(HTTPError)
}

/// The members of a request's JSON object, with typed lookups that word a wrong field as a 400 a
/// client developer can act on. Members not asked for are ignored; `null` counts as absent for an
/// optional field.
struct JSONFields {
    let members: [(name: String, value: JSONReader.Value)]

    private func value(_ name: String) -> JSONReader.Value? {
        self.members.first(where: { $0.name == name })?.value
    }

    /// The string `name`, or `nil` when it is absent or `null`.
    func string(_ name: String) throws(HTTPError) -> String? {
        switch self.value(name) {
        case nil, .null: return nil
        case .string(let value): return value
        case .integer, .bool, .strings, .object, .other: throw .badRequest("field '\(name)' must be of type string")
        }
    }

    /// The whole number `name`, or `nil` when it is absent or `null`.
    func int(_ name: String) throws(HTTPError) -> Int? {
        switch self.value(name) {
        case nil, .null: return nil
        case .integer(let value): return value
        case .string, .bool, .strings, .object, .other: throw .badRequest("field '\(name)' must be a whole number")
        }
    }

    /// The boolean `name`, or `nil` when it is absent or `null`.
    func bool(_ name: String) throws(HTTPError) -> Bool? {
        switch self.value(name) {
        case nil, .null: return nil
        case .bool(let value): return value
        case .string, .integer, .strings, .object, .other: throw .badRequest("field '\(name)' must be true or false")
        }
    }

    /// The array of strings `name`, or `nil` when it is absent or `null`.
    func strings(_ name: String) throws(HTTPError) -> [String]? {
        switch self.value(name) {
        case nil, .null: return nil
        case .strings(let value): return value
        case .string, .integer, .bool, .object, .other: throw .badRequest("field '\(name)' must be an array of strings")
        }
    }

    /// The string `name`, which must be there.
    func requiredString(_ name: String) throws(HTTPError) -> String {
        switch self.value(name) {
        case nil: throw .badRequest("missing field '\(name)'")
        case .null: throw .badRequest("field '\(name)' must not be null")
        case .string(let value): return value
        case .integer, .bool, .strings, .object, .other: throw .badRequest("field '\(name)' must be of type string")
        }
    }
}

extension HTTPRequest {
    /// How deep a request body may nest.
    static let maximumJSONDepth = 16

    /// Reads the body as a JSON object of type `T`, turning every kind of bad input into a 400
    /// with a description a client developer can act on.
    func decodeJSON<T: JSONRequestBody>(_: T.Type) throws(HTTPError) -> T {
        guard let body = self.body, body.readableBytes > 0 else {
            throw .badRequest("the request needs a JSON body")
        }
        let members: [(name: String, value: JSONReader.Value)]
        do {
            members = try JSONReader.members(Array(body.readableBytesView), maximumDepth: Self.maximumJSONDepth)
        } catch {
            switch error {
            case .invalidUTF8: throw .badRequest("the body is not valid UTF-8")
            case .invalidJSON: throw .badRequest("the body is not valid JSON")
            case .tooDeep: throw .badRequest("the body is nested deeper than \(Self.maximumJSONDepth) levels")
            case .duplicateName(let name): throw .badRequest("field '\(name.prefix(64))' is given more than once")
            case .notAnObject: throw .badRequest("the body must be a JSON object")
            }
        }
        return try T(fields: JSONFields(members: members))
    }
}
