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
    /// The key of second factors' secrets at rest and of recovery codes' digests
    /// (`AUTHD_FACTOR_KEY`); nil: one derived from the refresh token secret.
    public var factorKey: String?
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
    /// DPoP (`AUTHD_DPOP`): by default, tokens are bound to a key when the client proves one.
    public var dpopMode = DPoPPolicy.Mode.optional
    /// Whether every DPoP proof must carry a server nonce (`AUTHD_DPOP_NONCE`).
    public var dpopNonces = false
    /// Resource servers allowed to call `POST /introspect`: client id to secret.
    public var introspectionClients: [String: String] = [:]
    /// The security events (`AUTHD_EVENTS*`, docs/EVENTS.md); nil: none are recorded. An empty
    /// instance name is this host's and port.
    public var events: RedisEventLog.Settings? = RedisEventLog.Settings()

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

    /// Every variable authd reads: the table of docs/CONFIGURATION.md (a test keeps the two the
    /// same).
    public static let variables: Set<String> = [
        "ACCESS_TOKEN_SECRET",
        "ACCESS_TOKEN_SECRET_PREVIOUS",
        "AUTHD_ACCESS_TOKEN_TTL",
        "AUTHD_AUDIENCE",
        "AUTHD_CLOCK_LEEWAY",
        "AUTHD_CORS_ORIGINS",
        "AUTHD_DPOP",
        "AUTHD_DPOP_NONCE",
        "AUTHD_EVENTS",
        "AUTHD_EVENTS_MAX_AGE",
        "AUTHD_EVENTS_MAX_LENGTH",
        "AUTHD_EVENTS_SHARDS",
        "AUTHD_FACTOR_KEY",
        "AUTHD_HASH_CONCURRENCY",
        "AUTHD_HOST",
        "AUTHD_IDLE_TIMEOUT",
        "AUTHD_INSTANCE",
        "AUTHD_INTROSPECTION_CLIENTS",
        "AUTHD_ISSUER",
        "AUTHD_KEYS_DIR",
        "AUTHD_KEY_PREFIX",
        "AUTHD_LOGIN_THROTTLE",
        "AUTHD_MAX_BODY_BYTES",
        "AUTHD_MAX_CONNECTIONS",
        "AUTHD_MAX_SESSIONS_PER_USER",
        "AUTHD_MFA_ISSUER",
        "AUTHD_PORT",
        "AUTHD_REDIS_COMMAND_TIMEOUT_MS",
        "AUTHD_REDIS_CONNECT_TIMEOUT_MS",
        "AUTHD_REDIS_POOL_SIZE",
        "AUTHD_REDIS_WAIT_REPLICAS",
        "AUTHD_REDIS_WAIT_TIMEOUT_MS",
        "AUTHD_REFRESH_COOKIE",
        "AUTHD_REFRESH_GRACE_WINDOW",
        "AUTHD_REFRESH_TOKEN_TTL",
        "AUTHD_SESSION_MAX_LIFETIME",
        "AUTHD_SIGNUP",
        "AUTHD_THROTTLE_ADDRESS",
        "AUTHD_THROTTLE_CLIENT_SECRET",
        "AUTHD_THROTTLE_SIGNUP",
        "AUTHD_THROTTLE_USER",
        "AUTHD_THROTTLE_USER_ADDRESS",
        "AUTHD_TRUSTED_PROXIES",
        "AUTHD_VERIFY_CACHE",
        "AUTHD_VERIFY_CACHE_ENTRIES",
        "AUTHD_VERIFY_CACHE_HEALTH_MS",
        "AUTHD_VERIFY_CACHE_LEASE_MS",
        "AUTHD_VERIFY_CACHE_MB",
        "AUTHD_VERIFY_CACHE_TRACKING",
        "LOG_FORMAT",
        "LOG_LEVEL",
        "REDIS_CLUSTER_NODES",
        "REDIS_SENTINELS",
        "REDIS_SENTINEL_PRIMARY",
        "REDIS_TLS_CA_FILE",
        "REDIS_TLS_CERT_FILE",
        "REDIS_TLS_KEY_FILE",
        "REDIS_TLS_SERVER_NAME",
        "REDIS_URL",
        "REFRESH_TOKEN_SECRET",
        "REFRESH_TOKEN_SECRET_PREVIOUS",
    ]

    /// A warning for each name that looks like a setting but is none: every `AUTHD_*` name given,
    /// and every name of the `.env` file (`fromFile`), that authd does not read, with the closest
    /// one it does. A misspelled `AUTHD_SINGUP=false` would otherwise leave sign-up on, silently.
    public static func unknownSettings(_ names: some Sequence<String>, fromFile: Set<String>) -> [String] {
        Set(names).filter { name in
            !Self.variables.contains(name) && name != "AUTHD_TRUST_X_FORWARDED_FOR"
                && (name.hasPrefix("AUTHD_") || fromFile.contains(name))
        }.sorted().map { name in
            let closest = Self.variables.min { editDistance(name, $0) < editDistance(name, $1) }
            if let closest, editDistance(name, closest) <= 3 {
                return "\(name) is no setting of authd's, and is ignored; did you mean \(closest)?"
            }
            return "\(name) is no setting of authd's, and is ignored (see docs/CONFIGURATION.md)"
        }
    }

    public init(accessTokenSecret: String?, refreshTokenSecret: String, redis: RedisConfiguration) {
        self.accessTokenSecret = accessTokenSecret
        self.refreshTokenSecret = refreshTokenSecret
        self.redis = redis
    }

    /// Only what the operator commands need: where Redis is and the key prefix, with the
    /// deployment's revocation barrier (their revocations wait for the service's caches like the
    /// service's own, bounded by the same `AUTHD_VERIFY_CACHE_LEASE_MS`). No secrets.
    public static func store(environment env: [String: String]) throws -> (
        redis: RedisConfiguration, keyPrefix: String, events: RedisEventLog.Settings?
    ) {
        let reader = EnvironmentReader(env)
        var redis = try reader.redis()
        let prefix = env["AUTHD_KEY_PREFIX"] ?? "authd:"
        redis.coherence = RedisKeys(prefix: prefix).coherence(
            lease: try reader.verifyCacheLease() ?? CoherenceConfiguration.defaultLease)
        var events = try reader.events(cluster: redis.cluster != nil, port: 0)
        // Operators' events name the host they ran on.
        events?.instance = "cli@" + ProcessInfo.processInfo.hostName
        return (redis, prefix, events)
    }

    /// Reads the configuration from environment variables, each component's settings by its own
    /// reader (the files beside this one). Throws a message fit for an operator for anything
    /// missing or invalid.
    public init(environment env: [String: String]) throws {
        let reader = EnvironmentReader(env)
        let keysDirectory = reader.nonEmpty("AUTHD_KEYS_DIR")
        self.init(
            accessTokenSecret: keysDirectory == nil || env["ACCESS_TOKEN_SECRET"] != nil
                ? try reader.secret("ACCESS_TOKEN_SECRET") : nil,
            refreshTokenSecret: try reader.secret("REFRESH_TOKEN_SECRET"),
            redis: try reader.redis()
        )
        self.keysDirectory = keysDirectory
        self.previousAccessTokenSecret = try reader.optionalSecret("ACCESS_TOKEN_SECRET_PREVIOUS")
        self.previousRefreshTokenSecret = try reader.optionalSecret("REFRESH_TOKEN_SECRET_PREVIOUS")
        self.factorKey = try reader.optionalSecret("AUTHD_FACTOR_KEY")
        if let prefix = env["AUTHD_KEY_PREFIX"] { self.keyPrefix = prefix }
        self.redis.clientSideCache = try reader.verifyCache(sessionKeyPrefix: self.keyPrefix + "session:")
        self.verifyCacheLease = try reader.verifyCacheLease() ?? self.verifyCacheLease
        self.durability = try reader.durability()
        try reader.http(into: &self.http)
        try reader.auth(into: &self.auth)
        if let issuer = reader.nonEmpty("AUTHD_ISSUER") {
            if let problem = Self.issuerProblem(issuer) {
                throw ConfigurationError("AUTHD_ISSUER \(problem) (for example https://auth.example.com)")
            }
            self.auth.issuer = issuer
            self.issuerIsDefault = false
        } else {
            self.useLocalIssuer()
        }
        self.introspectionClients = try reader.clients("AUTHD_INTROSPECTION_CLIENTS")
        self.events = try reader.events(cluster: self.redis.cluster != nil, port: self.http.port)
        (self.cors, self.refreshCookie) = try reader.browsers()
        self.dpopMode = try reader.dpopMode() ?? self.dpopMode
        self.dpopNonces = try reader.bool("AUTHD_DPOP_NONCE") ?? false
        self.hashConcurrency = try reader.int("AUTHD_HASH_CONCURRENCY", in: 1...64) ?? self.hashConcurrency
        self.logFormat = try reader.logFormat() ?? self.logFormat
        self.logLevel = try reader.logLevel() ?? self.logLevel
    }
}

/// Levenshtein distance: the fewest insertions, deletions and substitutions from one to the other.
func editDistance(_ a: String, _ b: String) -> Int {
    let (a, b) = (Array(a.utf8), Array(b.utf8))
    var previous = Array(0...b.count)
    for (i, x) in a.enumerated() {
        var current = [i + 1] + Array(repeating: 0, count: b.count)
        for (j, y) in b.enumerated() {
            current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
