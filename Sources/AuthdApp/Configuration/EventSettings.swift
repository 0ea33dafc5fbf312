import Foundation
import RedisStore

extension EnvironmentReader {
    /// The security events' settings (`AUTHD_EVENTS*`, `AUTHD_INSTANCE`), or nil when
    /// `AUTHD_EVENTS` is off. On a cluster the events are spread over 16 shards by default.
    func events(cluster: Bool, port: Int) throws -> RedisEventLog.Settings? {
        guard try self.bool("AUTHD_EVENTS") ?? true else { return nil }
        var settings = RedisEventLog.Settings().resolved(cluster: cluster)
        settings.shards = try self.int("AUTHD_EVENTS_SHARDS", in: 1...256) ?? settings.shards
        settings.maxLength = try self.int("AUTHD_EVENTS_MAX_LENGTH", in: 1000...100_000_000) ?? settings.maxLength
        settings.maxAge = try self.int("AUTHD_EVENTS_MAX_AGE", in: 60...(400 * 86_400)) ?? settings.maxAge
        settings.instance = try self.instance(port: port)
        return settings
    }

    /// `AUTHD_INSTANCE`, or ``defaultInstance(port:)``: names the instance in its events.
    func instance(port: Int) throws -> String {
        guard let name = self.nonEmpty("AUTHD_INSTANCE") else { return Self.defaultInstance(port: port) }
        guard name.utf8.count <= 128, name.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw ConfigurationError("AUTHD_INSTANCE must be at most 128 printable characters, without spaces")
        }
        return name
    }

    /// An instance's name when `AUTHD_INSTANCE` gives none: this host's name and the port.
    static func defaultInstance(port: Int) -> String {
        "\(ProcessInfo.processInfo.hostName):\(port)"
    }
}
