import AuthCore
import Foundation
import RedisStore
import WireJSON

/// What the operator commands print: a table for people, or JSON (`--json`) for scripts. Times in
/// the table are ISO 8601 (UTC); in JSON, seconds since 1970.
public enum OperatorOutput {
    /// The widest a user agent is shown in a table; JSON has it whole.
    static let userAgentWidth = 48

    public static func sessionsTable(of user: String, _ sessions: [SessionInfo]) -> String {
        guard !sessions.isEmpty else { return "\(user) has no live sessions\n" }
        return self.table(
            ["SESSION", "CREATED", "LAST USED", "EXPIRES", "IP", "USER AGENT"],
            sessions.map { session in
                [
                    session.id, Self.date(session.createdAt), Self.date(session.lastUsedAt),
                    Self.date(session.expiresAt), session.client.ip.isEmpty ? "-" : session.client.ip,
                    Self.clipped(session.client.userAgent),
                ]
            })
    }

    public static func sessionsJSON(_ sessions: [SessionInfo]) -> String {
        self.json(
            sessions.map { session in
                var object = JSONObjectWriter()
                object.add("id", session.id)
                object.add("createdAt", session.createdAt)
                object.add("lastUsedAt", session.lastUsedAt)
                object.add("expiresAt", session.expiresAt)
                object.add("absoluteExpiresAt", session.absoluteExpiresAt)
                object.add("ip", session.client.ip)
                object.add("userAgent", session.client.userAgent)
                return object.finish()
            })
    }

    public static func usersTable(_ users: [Operator.UserRecord]) -> String {
        guard !users.isEmpty else { return "no users\n" }
        return self.table(
            ["USER", "CREATED", "STATUS", "SESSIONS", "ROLES"],
            users.map {
                [
                    $0.username, Self.date($0.createdAt), $0.disabled ? "disabled" : "active", String($0.sessions),
                    $0.roles.isEmpty ? "-" : $0.roles.joined(separator: ","),
                ]
            }
        )
    }

    public static func usersJSON(_ users: [Operator.UserRecord]) -> String {
        self.json(
            users.map { user in
                var object = JSONObjectWriter()
                object.add("username", user.username)
                object.add("createdAt", user.createdAt)
                object.add("disabled", user.disabled)
                object.add("sessions", user.sessions)
                object.add("roles", user.roles)
                return object.finish()
            })
    }

    public static func clientsTable(_ clients: [RegisteredClient]) -> String {
        guard !clients.isEmpty else { return "no registered clients\n" }
        return self.table(
            ["CLIENT", "CREATED", "MAY", "AUDIENCES", "TOKEN TTL", "ROLES", "SECRETS"],
            clients.map { client in
                [
                    client.id, Self.date(client.createdAt), client.permissions.map(\.rawValue).joined(separator: ","),
                    client.audiences.isEmpty ? "-" : client.audiences.joined(separator: ","),
                    client.tokenTTL.map { "\($0) s" } ?? "default",
                    client.roles.isEmpty ? "-" : client.roles.joined(separator: ","),
                    client.secrets.isEmpty ? "none" : client.secrets.map(\.id).joined(separator: ","),
                ]
            })
    }

    /// Ids and dates only: a secret is never shown after it was made, and its digest never.
    public static func clientsJSON(_ clients: [RegisteredClient]) -> String {
        self.json(
            clients.map { client in
                var object = JSONObjectWriter()
                object.add("id", client.id)
                object.add("createdAt", client.createdAt)
                object.add("may", client.permissions.map(\.rawValue))
                object.add("audiences", client.audiences)
                if let ttl = client.tokenTTL { object.add("tokenTTL", ttl) }
                object.add("roles", client.roles)
                object.add(
                    "secrets",
                    json: JSONArray.of(
                        client.secrets.map { secret in
                            var entry = JSONObjectWriter()
                            entry.add("id", secret.id)
                            entry.add("createdAt", secret.createdAt)
                            return entry.finish()
                        }))
                return object.finish()
            })
    }

    /// A new secret, the one time it is shown.
    public static func issuedSecret(of client: String, _ secret: Operator.IssuedSecret, created: Bool, json: Bool)
        -> String
    {
        if json {
            var object = JSONObjectWriter()
            object.add("client_id", client)
            object.add("client_secret", secret.secret)
            object.add("secret_id", secret.id)
            return String(decoding: object.finish(), as: UTF8.self) + "\n"
        }
        return """
            \(created ? "registered" : "new secret for") \(client)
            client_id:     \(client)
            client_secret: \(secret.secret)
            secret id:     \(secret.id)
            The secret is shown this once; authd keeps only its SHA-256.

            """
    }

    /// One event on one line: its time (UTC, ms), type and user, then its other fields as
    /// `name=value`, a value quoted (as JSON quotes it) when it holds a space, a quote or a
    /// control character, so that no field can forge a line or a terminal escape.
    public static func eventLine(_ entry: RedisEventLog.Entry) -> String {
        var line = [Self.time(entry.milliseconds), entry.type, entry.user.isEmpty ? "-" : entry.user]
        for name in entry.order where name != "type" && name != "user" {
            let value = entry.fields[name] ?? ""
            let plain =
                !value.isEmpty && value.unicodeScalars.allSatisfy { $0.value > 32 && $0.value != 34 && $0.value != 127 }
            line.append("\(name)=\(plain ? value : JSONString.quoted(value))")
        }
        return line.joined(separator: "  ")
    }

    /// One event as a JSON object on one line (JSON Lines): `id`, `time` (ISO 8601) and `ms`, then
    /// every field of the entry.
    public static func eventJSON(_ entry: RedisEventLog.Entry) -> String {
        var members = [
            "\"id\":\(JSONString.quoted(entry.id))", "\"time\":\(JSONString.quoted(Self.time(entry.milliseconds)))",
            "\"ms\":\(entry.milliseconds)",
        ]
        for name in entry.order {
            members.append("\(JSONString.quoted(name)):\(JSONString.quoted(entry.fields[name] ?? ""))")
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    private static func time(_ milliseconds: Int64) -> String {
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return format.string(from: Date(timeIntervalSince1970: TimeInterval(milliseconds) / 1000))
    }

    /// Columns as wide as their widest cell, two spaces apart; the last one is not padded.
    public static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    private static func json(_ objects: [[UInt8]]) -> String {
        String(decoding: JSONArray.of(objects), as: UTF8.self) + "\n"
    }

    private static func clipped(_ text: String) -> String {
        guard text.count > self.userAgentWidth else { return text.isEmpty ? "-" : text }
        return String(text.prefix(self.userAgentWidth - 1)) + "…"
    }

    private static func date(_ seconds: Int) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}
