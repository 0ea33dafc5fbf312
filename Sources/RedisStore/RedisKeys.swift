import ASCIIDigits
import AuthCore
import Crypto
import NIOCore
import RedisClient

/// Every Redis key authd uses, in one place. docs/OPERATIONS.md documents them for `redis-cli` users.
///
/// A user's keys carry the hash tag `{NAME}`, so that they share a Redis Cluster slot and one Lua
/// script can touch them all. Names are validated (`a-z0-9._-`), so they cannot contain braces.
public struct RedisKeys: Sendable {
    /// Prepended to every key; `authd:` by default.
    public let prefix: String

    public init(prefix: String) {
        self.prefix = prefix
    }

    /// Hash `password` (PHC string), `pwv` (its version), `created` (unix seconds), `disabled`,
    /// `roles` (comma-separated). No TTL: accounts do not expire.
    public func user(_ username: String) -> String {
        "\(self.prefix)user:{\(username)}"
    }

    /// Hash: `rt` (current refresh token id), `rt_exp`, `prev` and `rotated_at` (for the grace
    /// window), `created`, `last_used`, `expires` (absolute end), `ua`, `ip`, `roles` (the user's,
    /// kept in step by `set_user_roles.lua`), and `deny:JTI` for each revoked access token. TTL:
    /// until the current refresh token expires.
    public func session(_ username: String, _ sessionID: String) -> String {
        self.sessionPrefix(username) + sessionID
    }

    /// The user's second factor (TOTP). While an enrolment waits for its first code, hash
    /// `pending` (the secret, sealed: docs/SECOND-FACTOR.md) and `pending_exp`, with a TTL until
    /// then; once confirmed, `secret` (sealed), `step` (the last step whose code was accepted),
    /// `confirmed` (unix seconds) and `rc:DIGEST` for each recovery code not yet used (an HMAC, never
    /// the code), no TTL. Active only while the user hash's field `factor` says `totp`.
    public func factor(_ username: String) -> String {
        "\(self.prefix)factor:{\(username)}"
    }

    /// A login whose password was right, waiting for its second factor. Hash `pwv` (the password
    /// version checked), `ua`, `ip`, `device` (a device token's id, or empty). TTL: the challenge's
    /// lifetime (5 minutes); deleted by the code that completes it.
    public func challenge(_ username: String, _ id: String) -> String {
        "\(self.prefix)challenge:{\(username)}:\(id)"
    }

    /// What every session key of the user starts with.
    public func sessionPrefix(_ username: String) -> String {
        "\(self.prefix)session:{\(username)}:"
    }

    /// Sorted set of the user's session ids, scored by expiry. TTL: its longest-lived session's.
    public func sessions(_ username: String) -> String {
        "\(self.prefix)sessions:{\(username)}"
    }

    /// A registered client. Hash: `created`, `may` (its permissions), `aud` (its audiences), `roles`
    /// (each comma-separated), `ttl` (its tokens' lifetime, absent for the default), `secret:SID`
    /// (a secret's SHA-256, hex) and `secret_at:SID` (when it was made) for each secret, and
    /// `deny:JTI` for each of its tokens revoked on its own. No TTL. Its hash tag is the id, as the
    /// user key of the same name's is: one script checks that no user holds the name.
    public func client(_ id: String) -> String {
        "\(self.prefix)client:{\(id)}"
    }

    /// A DPoP proof seen (RFC 9449 §11.1): `id` is a digest of the proof's key thumbprint and its
    /// `jti`. String `1`, TTL: as long as a proof of that `iat` is accepted (91 s by default). No
    /// hash tag: the keys spread over a cluster's slots.
    public func proof(_ id: String) -> String {
        "\(self.prefix)dpop:\(id)"
    }

    /// One shard of the security events (docs/EVENTS.md): a stream whose entries have the fields
    /// `type`, `user`, `sid`, `ip`, `ua`, `instance`, `request`, `actor` and the event's own (each
    /// only when it has one). Trimmed by length on each write and by age once a second; no TTL.
    /// A user's events are all in one shard; the shard is the hash tag, so that on a cluster the
    /// shards spread over the primaries.
    public func events(shard: Int) -> String {
        "\(self.prefix)events:{\(shard)}"
    }

    /// The revocation feed (docs/EVENTS.md): a stream of the notices offline verifiers need
    /// (sessions ended, passwords changed), fields `kind` (`session-revoked`, `credential-change`),
    /// `user`, `sid`, `keep`, `reason`, `by`; one consumer group per receiver (a client id), which
    /// holds what it has not acknowledged. Trimmed as the events are; no TTL.
    public var feed: String {
        "\(self.prefix)feed"
    }

    /// The revocation barrier of the deployment: its channels start with `PREFIXcoherence`, and its
    /// registry of caching instances is the sorted set `{PREFIXcoherence}:members` (member
    /// `LEASE_MS|INSTANCE|NODE`, scored by when its lease ends, in ms; TTL: the longest lease).
    public func coherence(lease: TimeAmount) -> CoherenceConfiguration {
        var coherence = CoherenceConfiguration(
            channel: "\(self.prefix)coherence", registryKey: "{\(self.prefix)coherence}:members")
        coherence.lease = lease
        return coherence
    }

    /// Password attempts for the user from one address; TTL: the throttle window. The name and
    /// address are as the client gave them, so they pass through ``keySafe(_:)``.
    public func throttleUserFromAddress(_ username: String, _ ip: String) -> String {
        "\(self.prefix)throttle:{\(Self.keySafeName(username))}:ip:\(Self.keySafe(ip))"
    }

    /// Password attempts for the user from one device that logged in before (a device token's id,
    /// hex); TTL: the throttle window.
    public func throttleUserFromDevice(_ username: String, _ device: String) -> String {
        "\(self.prefix)throttle:{\(Self.keySafeName(username))}:dev:\(Self.keySafe(device))"
    }

    /// Password attempts for the user from anywhere; TTL: the throttle window.
    public func throttleUser(_ username: String) -> String {
        "\(self.prefix)throttle:{\(Self.keySafeName(username))}"
    }

    /// Wrong second-factor codes for the user, from anywhere; TTL: the throttle window.
    public func throttleCodes(_ username: String) -> String {
        "\(self.prefix)throttle:{\(username)}:codes"
    }

    /// Wrong second-factor codes for one login challenge, or one session's step-up; TTL: the
    /// throttle window.
    public func throttleCodes(_ username: String, attempt: String) -> String {
        "\(self.prefix)throttle:{\(username)}:codes:\(Self.keySafe(attempt))"
    }

    /// Password attempts from one address, any user; TTL: the throttle window. The address is the
    /// hash tag, so that the counter and its attempts in flight share a Cluster slot.
    public func throttleAddress(_ ip: String) -> String {
        "\(self.prefix)throttle:ip:{\(Self.keySafe(ip))}"
    }

    /// Wrong client secrets (introspection) from one address; TTL: the throttle window.
    public func throttleClientSecret(_ ip: String) -> String {
        "\(self.prefix)throttle:client:{\(Self.keySafe(ip))}"
    }

    /// Sign-ups from one address; TTL: the throttle window.
    public func throttleSignUp(_ ip: String) -> String {
        "\(self.prefix)throttle:signup:{\(Self.keySafe(ip))}"
    }

    /// The attempts in flight that a throttle counter guards; TTL: 60 s.
    public func running(_ counter: String) -> String {
        counter + ":run"
    }

    /// A user name as it may stand in a key: the canonical name when it is a valid one, otherwise
    /// `-` and a digest of it (no valid name starts with `-`). Unknown and invalid names are
    /// throttled like real ones, and no brace, space or byte of the client's reaches a key name.
    static func keySafeName(_ raw: String) -> String {
        (try? Credentials.canonicalUsername(raw)) ?? "-" + Self.digest(raw.lowercased())
    }

    /// Text of the client's (an address) as it may stand in a key: as it is when it is made of
    /// the characters of an IP address only, otherwise `-` and a digest of it.
    static func keySafe(_ text: String) -> String {
        let plain =
            !text.isEmpty && text.utf8.count <= 45
            && text.utf8.allSatisfy {
                (48...57).contains($0) || (97...102).contains($0) || (65...70).contains($0) || $0 == 46 || $0 == 58
            }
        return plain ? text : "-" + Self.digest(text)
    }

    private static func digest(_ text: String) -> String {
        Hex.encode(SHA256.hash(data: Array(text.utf8)).prefix(16))
    }
}
