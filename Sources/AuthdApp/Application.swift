import AuthCore
import AuthHTTP
import JOSE
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Passwords
import Prometheus
import RedisClient
import RedisStore
import ServiceLifecycle
import UnixSignals

/// authd assembled (hummingbird's `Application` and hummingbird-examples' `App+build.swift` are the
/// models): the Redis client, the password hasher, the key reloader and the HTTP server, each a
/// service of one `ServiceGroup`, sharing one event loop group. The CLI runs it until a signal;
/// tests run it in a task and end it with ``triggerGracefulShutdown()``.
///
/// The group starts the services together and stops them in the reverse of their order: the HTTP
/// server drains its requests first, then the key reloader stops, then the hashing threads, and
/// Redis closes last, once nothing can use it.
public func buildApplication(
    configuration: AppConfiguration,
    clock: any AuthClock = SystemClock(),
    group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    metrics: PrometheusCollectorRegistry? = nil,
    logger: Logger
) throws -> Application {
    try Application(configuration: configuration, clock: clock, group: group, metrics: metrics, logger: logger)
}

/// Every route authd answers, one controller per concern.
func buildRouter(
    configuration: AppConfiguration, auth: AuthService, tokens: TokenCodec, metrics: PrometheusCollectorRegistry?
) -> Router {
    var router = Router()
    router.cors = configuration.cors
    let refreshCookie =
        configuration.refreshCookie
        ? configuration.cors.map { RefreshCookie(cors: $0, maxAge: configuration.auth.refreshTokenTTL) } : nil
    var proofs = DPoPVerifier.Settings()
    proofs.leeway = configuration.auth.clockLeeway
    let dpop = DPoPPolicy(
        mode: configuration.dpopMode,
        nonces: configuration.dpopNonces ? DPoPNonces(secret: configuration.refreshTokenSecret) : nil,
        verifier: DPoPVerifier(settings: proofs))
    AuthRoutes(auth: auth, refreshCookie: refreshCookie, dpop: dpop).register(in: &router)
    KeysController(tokens: tokens).register(in: &router)
    if let metrics {
        MetricsController(render: { metrics.emitToBuffer() }).register(in: &router)
    }
    return router
}

public final class Application: Sendable {
    public let configuration: AppConfiguration
    public let redis: RedisClient
    public let server: HTTPServer
    public let auth: AuthService
    /// Every route the server answers, as `METHOD /path`.
    public let routes: [String]
    private let tokens: TokenCodec
    private let clock: any AuthClock
    private let passwords: Argon2PasswordHasher
    private let logger: Logger
    /// The group while it runs, for ``triggerGracefulShutdown()``.
    private let running = NIOLockedValueBox<ServiceGroup?>(nil)
    /// A shutdown asked for before the group was made.
    private let shutdownRequested = NIOLockedValueBox(false)

    fileprivate init(
        configuration: AppConfiguration,
        clock: any AuthClock,
        group: any EventLoopGroup,
        metrics: PrometheusCollectorRegistry?,
        logger: Logger
    ) throws {
        self.configuration = configuration
        self.logger = logger
        let keys = try configuration.keysDirectory.map { try KeyDirectory(path: $0).load() } ?? []
        let tokens = try TokenCodec(
            accessSecret: configuration.accessTokenSecret,
            refreshSecret: configuration.refreshTokenSecret,
            previousAccessSecret: configuration.previousAccessTokenSecret,
            previousRefreshSecret: configuration.previousRefreshTokenSecret,
            signingKeys: keys,
            settings: configuration.auth.tokenSettings,
            now: clock.now()
        )
        self.tokens = tokens
        self.clock = clock
        self.passwords = try Argon2PasswordHasher(
            parameters: configuration.argon2, concurrency: configuration.hashConcurrency)
        var redis = configuration.redis
        // Every instance of the deployment takes part in the revocation barrier, cache on or off:
        // one with the cache off still revokes, and must wait for those that have it on.
        redis.coherence =
            redis.coherence
            ?? RedisKeys(prefix: configuration.keyPrefix).coherence(lease: configuration.verifyCacheLease)
        let client = RedisClient(configuration: redis, eventLoopGroup: group, logger: logger)
        self.redis = client
        let store = RedisAuthStore(
            redis: self.redis, keyPrefix: configuration.keyPrefix, durability: configuration.durability
        )
        let events = configuration.events.map { settings in
            var settings = settings.resolved(cluster: redis.cluster != nil)
            if settings.instance.isEmpty {
                settings.instance = EnvironmentReader.defaultInstance(port: configuration.http.port)
            }
            return RedisEventLog(redis: client, keyPrefix: configuration.keyPrefix, settings: settings)
        }
        let auth = AuthService(
            settings: configuration.auth, tokens: tokens, passwords: self.passwords, store: store, clock: clock,
            devices: DeviceTokens(refreshSecret: configuration.refreshTokenSecret),
            bootstrapClients: configuration.introspectionClients, events: events, feed: events,
            factors: FactorVault(key: configuration.factorKey ?? "factor:" + configuration.refreshTokenSecret),
            logger: logger
        )
        self.auth = auth
        let router = buildRouter(configuration: configuration, auth: auth, tokens: tokens, metrics: metrics)
        self.routes = router.routeList
        self.server = HTTPServer(configuration: configuration.http, group: group, router: router, logger: logger)
    }

    /// The services, in the order they start; they stop in the reverse one.
    private var services: [any Service] {
        var services: [any Service] = [
            ShutdownService(name: "redis") { await self.redis.shutdown() },
            ShutdownService(name: "password hasher") { try? await self.passwords.shutdown() },
        ]
        // Only a key directory can change under a running process.
        if self.configuration.keysDirectory != nil { services.append(KeyReloaderService(application: self)) }
        services.append(HTTPService(application: self))
        return services
    }

    /// Runs every service until a signal in `gracefulShutdownSignals` arrives (or
    /// ``triggerGracefulShutdown()`` is called), then shuts them down in order.
    public func run(gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: self.services.map { .init(service: $0) },
                gracefulShutdownSignals: gracefulShutdownSignals,
                logger: self.logger
            )
        )
        self.running.withLockedValue { $0 = group }
        if self.shutdownRequested.withLockedValue({ $0 }) { await group.triggerGracefulShutdown() }
        try await group.run()
    }

    /// Shuts the running services down, as a signal would.
    public func triggerGracefulShutdown() async {
        self.shutdownRequested.withLockedValue { $0 = true }
        await self.running.withLockedValue { $0 }?.triggerGracefulShutdown()
    }

    /// The port the server listens on, once it does (useful when asked for port 0). Throws if the
    /// server could not start.
    public var listeningPort: Int {
        get async throws { try await self.server.listeningPort }
    }

    /// Logs every effective setting that is not a secret, so an operator can check what took effect.
    fileprivate func logSettings() {
        let c = self.configuration
        let mode =
            c.redis.cluster != nil
            ? "cluster"
            : c.redis.sentinel != nil
                ? "sentinel" : { if case .unixSocket = c.redis.endpoint { "unix" } else { "single" } }()
        if c.issuerIsDefault, !AppConfiguration.isLoopback(c.http.host) {
            self.logger.warning(
                """
                AUTHD_ISSUER is not set: the issuer is this instance's own URL. Set it to the https URL clients \
                reach authd at, the same on every instance, or tokens will not cross instances
                """,
                metadata: ["issuer": "\(c.auth.issuer)"])
        }
        self.logger.info(
            "starting authd",
            metadata: [
                "redis": "\(c.redis)", "redis_mode": "\(mode)", "redis_pool_size": "\(c.redis.poolSize)",
                "redis_tls": "\(c.redis.tls.map(\.summary) ?? "off")",
                "redis_connect_timeout_ms": "\(c.redis.connectTimeout.nanoseconds / 1_000_000)",
                "redis_command_timeout_ms": "\(c.redis.commandTimeout.nanoseconds / 1_000_000)",
                "redis_wait_replicas": "\(c.durability.replicas)",
                "redis_wait_timeout_ms": "\(c.durability.timeoutMilliseconds)",
                "verify_cache": "\(c.redis.clientSideCache.map(\.summary) ?? "off")",
                "verify_cache_lease_ms": "\(c.verifyCacheLease.nanoseconds / 1_000_000)",
                "key_prefix": "\(c.keyPrefix)", "issuer": "\(c.auth.issuer)", "audience": "\(c.auth.audience)",
                "access_alg": "\(self.tokens.accessAlgorithm)",
                "hash_concurrency": "\(c.hashConcurrency)", "max_connections": "\(c.http.maxConnections)",
                "max_sessions_per_user": "\(c.auth.maxSessionsPerUser)",
                "trusted_proxies": "\(c.http.trustedProxies.networks.count)",
                "login_throttle": "\(c.auth.throttle.enabled)", "signup": "\(c.auth.signupEnabled)",
                "access_token_ttl": "\(c.auth.accessTokenTTL)", "refresh_token_ttl": "\(c.auth.refreshTokenTTL)",
                "session_max_lifetime": "\(c.auth.sessionMaxLifetime)",
                "refresh_grace_window": "\(c.auth.refreshGraceWindow)", "clock_leeway": "\(c.auth.clockLeeway)",
                "cors_origins": "\(c.cors.map { $0.origins.sorted().joined(separator: ",") } ?? "off")",
                "refresh_cookie": "\(c.refreshCookie)", "max_body_bytes": "\(c.http.maxBodyBytes)",
                "dpop": "\(c.dpopMode.rawValue)", "dpop_nonce": "\(c.dpopNonces)",
                "idle_timeout": "\(c.http.idleTimeout.nanoseconds / 1_000_000_000)",
                "introspection_clients": "\(c.introspectionClients.keys.sorted().joined(separator: ","))",
                "keys_dir": "\(c.keysDirectory ?? "none")",
                "events":
                    "\(c.events.map { "shards=\($0.shards),max_length=\($0.maxLength),max_age=\($0.maxAge)" } ?? "off")",
                "throttle_user_address": "\(Self.limit(c.auth.throttle.userFromAddress))",
                "throttle_user": "\(Self.limit(c.auth.throttle.user))",
                "throttle_address": "\(Self.limit(c.auth.throttle.address))",
                "throttle_signup": "\(Self.limit(c.auth.throttle.signUpFromAddress))",
                "throttle_client_secret": "\(Self.limit(c.auth.throttle.clientSecretFromAddress))",
                "version": "\(authdVersion)",
            ])
    }

    /// A throttle limit as its setting is written: `FAILURES/SECONDS`.
    private static func limit(_ limit: ThrottlePolicy.Limit) -> String {
        "\(limit.failures)/\(limit.windowSeconds)"
    }

    /// Reads the key directory again, so a key generated or rotated on disk takes effect
    /// without a restart. The key reloader calls it every 30 s.
    public func reloadKeys() async {
        guard let path = self.configuration.keysDirectory else { return }
        do {
            try self.tokens.setSigningKeys(try KeyDirectory(path: path).load(), now: self.clock.now())
        } catch {
            self.logger.error("could not reload signing keys; keeping the old ones", metadata: ["error": "\(error)"])
        }
    }
}

/// The HTTP server as a service: listens, and on shutdown stops accepting and lets the requests
/// in flight finish (up to the grace period).
private struct HTTPService: Service {
    let application: Application

    func run() async throws {
        self.application.logSettings()
        try await self.application.server.start()
        // Returns when the group shuts down (or throws on cancellation); drain either way.
        try? await gracefulShutdown()
        await self.application.server.shutdown()
    }
}

/// Reads the key directory every 30 s until shutdown.
private struct KeyReloaderService: Service {
    let application: Application

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(TokenCodec.Settings.keyReloadLag))
                await self.application.reloadKeys()
            }
        }
    }
}

/// A part with nothing to run, only something to close once the services after it have stopped:
/// the Redis client, the hashing threads.
private struct ShutdownService: Service, CustomStringConvertible {
    let name: String
    let shutdown: @Sendable () async -> Void

    var description: String { self.name }

    func run() async throws {
        try? await gracefulShutdown()
        await self.shutdown()
    }
}
