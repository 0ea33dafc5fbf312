import JOSE

/// What is wrong with the configuration, in words fit for an operator: the variable, what it must
/// be, and often an example.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// The environment, read variable by variable, each checked as it is read. The readers of each
/// component's settings (the files beside this one) are built on these.
struct EnvironmentReader {
    let env: [String: String]

    init(_ env: [String: String]) {
        self.env = env
    }

    subscript(_ name: String) -> String? { self.env[name] }

    /// The variable's value, `nil` when unset or empty.
    func nonEmpty(_ name: String) -> String? {
        self.env[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    func int(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let raw = self.env[name] else { return nil }
        guard let value = Int(raw), range.contains(value) else {
            throw ConfigurationError("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    func bool(_ name: String) throws -> Bool? {
        switch self.env[name]?.lowercased() {
        case nil: return nil
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigurationError("\(name) must be true or false")
        }
    }

    /// A token secret: set, long enough, and strong (``SecretStrength``).
    func secret(_ name: String) throws -> String {
        guard let value = self.env[name], !value.isEmpty else {
            throw ConfigurationError("\(name) is not set; generate one with `authd gen-secret` and put it in .env")
        }
        guard value.utf8.count >= TokenCodec.minimumSecretBytes else {
            throw ConfigurationError(
                "\(name) is too short (\(value.utf8.count) bytes, at least \(TokenCodec.minimumSecretBytes)); "
                    + "generate one with `authd gen-secret`"
            )
        }
        if let problem = SecretStrength.problem(with: value) {
            throw ConfigurationError("\(name) \(problem); generate one with `authd gen-secret`")
        }
        return value
    }

    /// A secret that may be unset (or empty); checked like any other when it is set.
    func optionalSecret(_ name: String) throws -> String? {
        guard self.nonEmpty(name) != nil else { return nil }
        return try self.secret(name)
    }

    /// `id:secret,id:secret`; each secret at least 16 bytes, and not weak.
    func clients(_ name: String) throws -> [String: String] {
        guard let raw = self.env[name], !raw.isEmpty else { return [:] }
        var clients: [String: String] = [:]
        for entry in raw.split(separator: ",") {
            let parts = entry.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty, parts[1].utf8.count >= 16 else {
                throw ConfigurationError(
                    "\(name) must be id:secret pairs separated by commas, each secret at least 16 bytes")
            }
            if let problem = SecretStrength.problem(with: String(parts[1]), minimumBits: 64) {
                throw ConfigurationError(
                    "\(name): the secret of '\(parts[0])' \(problem); generate one with `authd gen-secret`")
            }
            clients[String(parts[0])] = String(parts[1])
        }
        return clients
    }
}
