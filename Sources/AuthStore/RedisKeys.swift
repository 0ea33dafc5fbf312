/// Every Redis key authd uses, in one place. README.md documents them for `redis-cli` users.
///
/// A user's keys carry the hash tag `{NAME}`, so that they share a Redis Cluster slot and one Lua
/// script can touch them all. Names are validated (`a-z0-9._-`), so they cannot contain braces.
public struct RedisKeys: Sendable {
    /// Prepended to every key; `authd:` by default.
    public let prefix: String

    public init(prefix: String) {
        self.prefix = prefix
    }

    /// Hash `password` (PHC string), `created` (unix seconds). No TTL: accounts do not expire.
    public func user(_ username: String) -> String {
        "\(self.prefix)user:{\(username)}"
    }

    /// Hash: `rt` (current refresh token id), `rt_exp`, `prev` and `rotated_at` (for the grace
    /// window), `created`, `last_used`, `expires` (absolute end), `ua`, `ip`, and `deny:JTI` for
    /// each revoked access token. TTL: until the current refresh token expires.
    public func session(_ username: String, _ sessionID: String) -> String {
        self.sessionPrefix(username) + sessionID
    }

    /// What every session key of the user starts with.
    public func sessionPrefix(_ username: String) -> String {
        "\(self.prefix)session:{\(username)}:"
    }

    /// Sorted set of the user's session ids, scored by expiry. TTL: its longest-lived session's.
    public func sessions(_ username: String) -> String {
        "\(self.prefix)sessions:{\(username)}"
    }

    /// Failed logins of the user from one address; TTL: the throttle window.
    public func throttleUserFromAddress(_ username: String, _ ip: String) -> String {
        "\(self.prefix)throttle:{\(username)}:ip:\(ip)"
    }

    /// Failed logins of the user from anywhere; TTL: the throttle window.
    public func throttleUser(_ username: String) -> String {
        "\(self.prefix)throttle:{\(username)}"
    }

    /// Failed logins from one address, any user; TTL: the throttle window.
    public func throttleAddress(_ ip: String) -> String {
        "\(self.prefix)throttle:ip:\(ip)"
    }
}
