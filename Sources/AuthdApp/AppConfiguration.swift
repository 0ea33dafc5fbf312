import AuthCore
import AuthHTTP
import Foundation
import JOSE
import Logging
import NIOCore
import Passwords
import RedisClient
import RedisStore

/// Everything authd is configured with, read from the environment (see the table of docs/CONFIGURATION.md).
public struct AppConfiguration: Sendable {
    /// HS256 key of access tokens; unused (and optional) when `keysDirectory` is set.
    public var accessTokenSecret: String?
    public var refreshTokenSecret: String
    /// Secrets that no longer sign but still verify, during a rotation (see docs/TOKENS.md).
    public var previousAccessTokenSecret: String?
    public var previousRefreshTokenSecret: String?
    /// Keys that sign access tokens (ES256, RS256 or EdDSA; see ``KeyDirectory``); when set, their
    /// public keys are served at `/.well-known/jwks.json`.
    public var keysDirectory: String?
    public var redis: RedisConfiguration
    public var keyPrefix = "authd:"
    /// Replicas that must have a revocation before it is acknowledged (`WAIT`); 0 is off.
    public var durability = RedisAuthStore.Durability()
    public var http = HTTPServerConfiguration()
    public var auth = AuthSettings()
    public var argon2 = Argon2Parameters()
    /// How long a verify cache may answer without hearing from Redis, and so the longest a
    /// revocation waits for an instance that cannot answer its barrier (`AUTHD_VERIFY_CACHE_LEASE_MS`).
    public var verifyCacheLease = CoherenceConfiguration.defaultLease
    /// How many password hashes may run at once (each takes `argon2.memoryKiB` of memory).
    public var hashConcurrency = System.coreCount
    public var logLevel: Logger.Level = .info
    /// `text` (swift-log's stream format) or `json` (one object per line).
    public var logFormat = LogFormat.text
    /// Browser origins allowed to call authd (`AUTHD_CORS_ORIGINS`); `nil`: CORS off.
    public var cors: CORSPolicy?
    /// The refresh token in an HttpOnly cookie for those origins (`AUTHD_REFRESH_COOKIE`).
    public var refreshCookie = false
    /// Resource servers allowed to call `POST /introspect`: client id to secret.
    public var introspectionClients: [String: String] = [:]

    /// Whether the issuer is the local base URL (`AUTHD_ISSUER` unset), which follows the host and
    /// port the server listens on.
    public private(set) var issuerIsDefault = true

    /// Makes the issuer the local base URL, `http://HOST:PORT` (a wildcard host becomes
    /// 127.0.0.1): right for development on one machine. In production set `AUTHD_ISSUER` to the
    /// public https URL clients reach authd at.
    public mutating func useLocalIssuer() {
        var host = self.http.host
        if host == "0.0.0.0" || host == "::" || host.isEmpty { host = "127.0.0.1" }
        if host.contains(":") { host = "[\(host)]" }
        self.auth.issuer = "http://\(host):\(self.http.port)"
        self.issuerIsDefault = true
    }

    /// Why `issuer` is no RFC 8414 issuer: an absolute https URL with no query or fragment (http
    /// only on loopback, for development); `nil` when it is one.
    static func issuerProblem(_ issuer: String) -> String? {
        guard let url = URLComponents(string: issuer), let scheme = url.scheme?.lowercased(),
            let host = url.host, !host.isEmpty
        else { return "must be an absolute URL" }
        guard url.query == nil, url.fragment == nil else { return "must have no query or fragment" }
        guard scheme == "https" || (scheme == "http" && Self.isLoopback(host)) else {
            return "must use https (http only on localhost, for development)"
        }
        return nil
    }

    /// Whether `host` (a name or an address, IPv6 bracketed or not) is this machine's loopback.
    public static func isLoopback(_ host: String) -> Bool {
        ["localhost", "127.0.0.1", "::1", "[::1]"].contains(host.lowercased())
    }

    public init(accessTokenSecret: String?, refreshTokenSecret: String, redis: RedisConfiguration) {
        self.accessTokenSecret = accessTokenSecret
        self.refreshTokenSecret = refreshTokenSecret
        self.redis = redis
    }

    /// Only what the operator commands need: where Redis is and the key prefix, with the
    /// deployment's revocation barrier (their revocations wait for the service's caches like the
    /// service's own, bounded by the same `AUTHD_VERIFY_CACHE_LEASE_MS`). No secrets.
    public static func store(environment env: [String: String]) throws -> (redis: RedisConfiguration, keyPrefix: String)
    {
        let reader = EnvironmentReader(env)
        var redis = try reader.redis()
        let prefix = env["AUTHD_KEY_PREFIX"] ?? "authd:"
        redis.coherence = RedisKeys(prefix: prefix).coherence(
            lease: try reader.verifyCacheLease() ?? CoherenceConfiguration.defaultLease)
        return (redis, prefix)
    }

    /// Reads the configuration from environment variables. Throws a message fit for an operator
    /// for anything missing or invalid.
    public init(environment env: [String: String]) throws {
        let reader = EnvironmentReader(env)
        let keysDirectory = env["AUTHD_KEYS_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        self.init(
            accessTokenSecret: keysDirectory == nil || env["ACCESS_TOKEN_SECRET"] != nil
                ? try reader.secret("ACCESS_TOKEN_SECRET") : nil,
            refreshTokenSecret: try reader.secret("REFRESH_TOKEN_SECRET"),
            redis: try reader.redis()
        )
        self.keysDirectory = keysDirectory
        self.previousAccessTokenSecret = try reader.optionalSecret("ACCESS_TOKEN_SECRET_PREVIOUS")
        self.previousRefreshTokenSecret = try reader.optionalSecret("REFRESH_TOKEN_SECRET_PREVIOUS")
        self.auth.audience = env["AUTHD_AUDIENCE"] ?? self.auth.audience
        self.auth.clockLeeway = try reader.int("AUTHD_CLOCK_LEEWAY", in: 0...300) ?? self.auth.clockLeeway
        if let prefix = env["AUTHD_KEY_PREFIX"] { self.keyPrefix = prefix }
        self.redis.clientCache = try reader.verifyCache(sessionKeyPrefix: self.keyPrefix + "session:")
        self.verifyCacheLease = try reader.verifyCacheLease() ?? self.verifyCacheLease
        self.durability.replicas = try reader.int("AUTHD_REDIS_WAIT_REPLICAS", in: 0...16) ?? 0
        self.durability.timeoutMilliseconds = try reader.int("AUTHD_REDIS_WAIT_TIMEOUT_MS", in: 1...10_000) ?? 100
        self.http.host = env["AUTHD_HOST"] ?? self.http.host
        self.http.port = try reader.int("AUTHD_PORT", in: 0...65535) ?? self.http.port
        self.http.maxBodyBytes = try reader.int("AUTHD_MAX_BODY_BYTES", in: 1024...(16 << 20)) ?? self.http.maxBodyBytes
        if let idle = try reader.int("AUTHD_IDLE_TIMEOUT", in: 1...86_400) {
            self.http.idleTimeout = .seconds(Int64(idle))
        }
        if let issuer = env["AUTHD_ISSUER"], !issuer.isEmpty {
            if let problem = Self.issuerProblem(issuer) {
                throw ConfigurationError("AUTHD_ISSUER \(problem) (for example https://auth.example.com)")
            }
            self.auth.issuer = issuer
            self.issuerIsDefault = false
        } else {
            self.useLocalIssuer()
        }
        self.auth.accessTokenTTL = try reader.int("AUTHD_ACCESS_TOKEN_TTL", in: 10...86_400) ?? self.auth.accessTokenTTL
        self.auth.refreshTokenTTL =
            try reader.int("AUTHD_REFRESH_TOKEN_TTL", in: 60...(365 * 86_400)) ?? self.auth.refreshTokenTTL
        self.auth.sessionMaxLifetime =
            try reader.int("AUTHD_SESSION_MAX_LIFETIME", in: 60...(365 * 86_400)) ?? self.auth.sessionMaxLifetime
        self.auth.refreshGraceWindow =
            try reader.int("AUTHD_REFRESH_GRACE_WINDOW", in: 0...300) ?? self.auth.refreshGraceWindow
        self.auth.signupEnabled = try reader.bool("AUTHD_SIGNUP") ?? self.auth.signupEnabled
        self.auth.throttle.enabled = try reader.bool("AUTHD_LOGIN_THROTTLE") ?? true
        if env["AUTHD_TRUST_X_FORWARDED_FOR"] != nil {
            throw ConfigurationError(
                "AUTHD_TRUST_X_FORWARDED_FOR is replaced by AUTHD_TRUSTED_PROXIES: list the proxies' addresses or "
                    + "CIDR ranges (for example 127.0.0.1,10.0.0.0/8); X-Forwarded-For is believed only from them")
        }
        if let list = env["AUTHD_TRUSTED_PROXIES"], !list.isEmpty {
            guard let proxies = TrustedProxies(list: list) else {
                throw ConfigurationError(
                    "AUTHD_TRUSTED_PROXIES must be IP addresses or CIDR ranges separated by commas, "
                        + "such as 127.0.0.1,10.0.0.0/8,fd00::/8")
            }
            self.http.trustedProxies = proxies
        }
        self.http.maxConnections =
            try reader.int("AUTHD_MAX_CONNECTIONS", in: 16...1_000_000) ?? self.http.maxConnections
        self.auth.maxSessionsPerUser =
            try reader.int("AUTHD_MAX_SESSIONS_PER_USER", in: 1...10_000) ?? self.auth.maxSessionsPerUser
        self.introspectionClients = try reader.clients("AUTHD_INTROSPECTION_CLIENTS")
        if let list = env["AUTHD_CORS_ORIGINS"], !list.isEmpty {
            guard let cors = CORSPolicy(list: list) else {
                throw ConfigurationError(
                    "AUTHD_CORS_ORIGINS must be exact origins separated by commas, such as "
                        + "https://app.example.com,http://localhost:3000 (no *, no path)")
            }
            self.cors = cors
        }
        self.refreshCookie = try reader.bool("AUTHD_REFRESH_COOKIE") ?? false
        if self.refreshCookie {
            guard self.cors != nil else {
                throw ConfigurationError(
                    "AUTHD_REFRESH_COOKIE needs AUTHD_CORS_ORIGINS: the cookie is for browsers on those origins, "
                        + "and only their requests may use it")
            }
            guard self.cors?.onlySecureOrigins == true else {
                throw ConfigurationError(
                    "AUTHD_REFRESH_COOKIE needs every AUTHD_CORS_ORIGINS entry to be https:// (or http:// on "
                        + "localhost, 127.x or [::1]): a plain-http page's cookie can be read or planted on the way")
            }
            self.cors?.allowCredentials = true
        }
        self.hashConcurrency = try reader.int("AUTHD_HASH_CONCURRENCY", in: 1...64) ?? self.hashConcurrency
        if let format = env["LOG_FORMAT"] {
            guard let parsed = LogFormat(rawValue: format.lowercased()) else {
                throw ConfigurationError("LOG_FORMAT must be text or json")
            }
            self.logFormat = parsed
        }
        if let level = env["LOG_LEVEL"] {
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                throw ConfigurationError(
                    "LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical")
            }
            self.logLevel = parsed
        }
    }
}

/// Secrets that must never start a service: the placeholders of `.env.example` and the like, and
/// strings with too little entropy to resist a guess (a repeated or patterned string).
enum SecretStrength {
    static let placeholders = [
        "replace", "change-me", "changeme", "change_me", "placeholder", "example", "your-secret", "your_secret",
        "secret-here", "insert", "todo", "xxxxxxxx",
    ]

    /// Why `secret` must not be used, or `nil` when it may.
    static func problem(with secret: String, minimumBits: Double = 128) -> String? {
        let lowered = secret.lowercased()
        if let word = self.placeholders.first(where: { lowered.contains($0) }) {
            return "looks like a placeholder (it contains '\(word)'): anyone could guess it"
        }
        // Shannon entropy of the bytes as they occur, times the length: a rough upper bound on
        // the bits an attacker must guess. Random hex of 32 bytes has about 250, a passphrase of
        // six random words about 77 by this count; `aaaa…` and `abcabc…` have almost none.
        var counts: [UInt8: Int] = [:]
        for byte in secret.utf8 { counts[byte, default: 0] += 1 }
        let length = Double(secret.utf8.count)
        let perByte = counts.values.reduce(0.0) { sum, count in
            let p = Double(count) / length
            return sum - p * log2(p)
        }
        if perByte * length < minimumBits || counts.count < 10 {
            return "is too weak (too few distinct characters for a key)"
        }
        return nil
    }
}

public enum LogFormat: String, Sendable {
    case text
    case json
}

public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

private struct EnvironmentReader {
    let env: [String: String]

    init(_ env: [String: String]) {
        self.env = env
    }

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
        guard self.env[name].map({ !$0.isEmpty }) == true else { return nil }
        return try self.secret(name)
    }

    func redis() throws -> RedisConfiguration {
        var redis = try self.redisWithoutSentinel()
        let primary = self.env["REDIS_SENTINEL_PRIMARY"].flatMap { $0.isEmpty ? nil : $0 }
        if let list = self.env["REDIS_SENTINELS"], !list.isEmpty {
            do {
                redis.sentinel = try SentinelConfiguration(list: list, primaryName: primary ?? "mymaster")
            } catch {
                throw ConfigurationError("REDIS_SENTINELS: \(error) (for example 10.0.0.5:26379,10.0.0.6:26379)")
            }
        } else if primary != nil {
            throw ConfigurationError("REDIS_SENTINEL_PRIMARY is set but REDIS_SENTINELS is not: list the sentinels")
        }
        if let list = self.env["REDIS_CLUSTER_NODES"], !list.isEmpty {
            guard redis.sentinel == nil else {
                throw ConfigurationError("REDIS_CLUSTER_NODES and REDIS_SENTINELS are both set: a deployment uses one")
            }
            guard redis.database == 0 else {
                throw ConfigurationError(
                    "REDIS_URL names database \(redis.database), but a Redis Cluster has only database 0")
            }
            guard case .tcp = redis.endpoint else {
                throw ConfigurationError("REDIS_CLUSTER_NODES is set, but REDIS_URL is a unix socket")
            }
            do {
                redis.cluster = try ClusterConfiguration(list: list)
            } catch {
                throw ConfigurationError("REDIS_CLUSTER_NODES: \(error) (for example 10.0.0.5:6379,10.0.0.6:6379)")
            }
        }
        return redis
    }

    private func redisWithoutSentinel() throws -> RedisConfiguration {
        var redis: RedisConfiguration
        do {
            redis = try RedisConfiguration(url: self.env["REDIS_URL"] ?? "redis://127.0.0.1:6379/0")
        } catch {
            throw ConfigurationError("REDIS_URL: \(error)")
        }
        try self.redisTLS(&redis)
        redis.poolSize = try self.int("AUTHD_REDIS_POOL_SIZE", in: 1...64) ?? redis.poolSize
        if let ms = try self.int("AUTHD_REDIS_CONNECT_TIMEOUT_MS", in: 10...60_000) {
            redis.connectTimeout = .milliseconds(Int64(ms))
        }
        if let ms = try self.int("AUTHD_REDIS_COMMAND_TIMEOUT_MS", in: 10...60_000) {
            redis.commandTimeout = .milliseconds(Int64(ms))
        }
        return redis
    }

    /// The REDIS_TLS_* files and name, which need a `rediss://` URL.
    private func redisTLS(_ redis: inout RedisConfiguration) throws {
        let names = ["REDIS_TLS_CA_FILE", "REDIS_TLS_CERT_FILE", "REDIS_TLS_KEY_FILE", "REDIS_TLS_SERVER_NAME"]
        let value = { (name: String) in self.env[name].flatMap { $0.isEmpty ? nil : $0 } }
        guard let first = names.first(where: { value($0) != nil }) else { return }
        guard redis.tls != nil else {
            throw ConfigurationError("\(first) is set, but REDIS_URL is not rediss:// (TLS)")
        }
        do {
            redis.tls = try RedisTLS(
                caFile: value("REDIS_TLS_CA_FILE"), certificateFile: value("REDIS_TLS_CERT_FILE"),
                keyFile: value("REDIS_TLS_KEY_FILE"), serverName: value("REDIS_TLS_SERVER_NAME"))
        } catch {
            throw ConfigurationError("REDIS_TLS_*: \(error)")
        }
    }

    /// AUTHD_VERIFY_CACHE_LEASE_MS, when set.
    func verifyCacheLease() throws -> TimeAmount? {
        try self.int("AUTHD_VERIFY_CACHE_LEASE_MS", in: 200...60_000).map { .milliseconds(Int64($0)) }
    }

    /// AUTHD_VERIFY_CACHE and its bounds: verify's session reads kept in process, invalidated by
    /// Redis (`CLIENT TRACKING`); nil when off.
    func verifyCache(sessionKeyPrefix: String) throws -> ClientCacheConfiguration? {
        guard try self.bool("AUTHD_VERIFY_CACHE") == true else { return nil }
        var cache = ClientCacheConfiguration()
        cache.maxEntries = try self.int("AUTHD_VERIFY_CACHE_ENTRIES", in: 1...10_000_000) ?? cache.maxEntries
        if let megabytes = try self.int("AUTHD_VERIFY_CACHE_MB", in: 1...65_536) { cache.maxBytes = megabytes << 20 }
        if let ms = try self.int("AUTHD_VERIFY_CACHE_HEALTH_MS", in: 50...10_000) {
            cache.healthCheckInterval = .milliseconds(Int64(ms))
        }
        switch self.env["AUTHD_VERIFY_CACHE_TRACKING"] ?? "keys" {
        case "keys", "": cache.tracking = .keys
        case "bcast": cache.tracking = .broadcast(prefixes: [sessionKeyPrefix])
        case let other: throw ConfigurationError("AUTHD_VERIFY_CACHE_TRACKING is '\(other)'; expected keys or bcast")
        }
        return cache
    }

    func int(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let raw = self.env[name] else { return nil }
        guard let value = Int(raw), range.contains(value) else {
            throw ConfigurationError("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// `id:secret,id:secret`; each secret at least 16 bytes.
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

    func bool(_ name: String) throws -> Bool? {
        switch self.env[name]?.lowercased() {
        case nil: return nil
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigurationError("\(name) must be true or false")
        }
    }
}
