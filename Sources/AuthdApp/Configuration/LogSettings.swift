import Logging

/// How log lines are written.
public enum LogFormat: String, Sendable {
    /// swift-log's stream format.
    case text
    /// One JSON object per line (``JSONLogHandler``).
    case json
}

extension EnvironmentReader {
    /// `LOG_FORMAT`, when set.
    func logFormat() throws -> LogFormat? {
        guard let format = self["LOG_FORMAT"] else { return nil }
        guard let parsed = LogFormat(rawValue: format.lowercased()) else {
            throw ConfigurationError("LOG_FORMAT must be text or json")
        }
        return parsed
    }

    /// `LOG_LEVEL`, when set.
    func logLevel() throws -> Logger.Level? {
        guard let level = self["LOG_LEVEL"] else { return nil }
        guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
            throw ConfigurationError("LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical")
        }
        return parsed
    }
}
