import AuthCore
import AuthHTTP
import AuthStore
import JOSE
import Logging
import NIOCore
import NIOPosix
import Passwords
import Prometheus
import RedisClient
import ServiceLifecycle

/// authd assembled: Redis client, store, token service and HTTP server, sharing one event loop
/// group. The CLI runs it with signal handling; tests start and stop it directly.
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

    public init(
        configuration: AppConfiguration,
        clock: any AuthClock = SystemClock(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        metrics: PrometheusCollectorRegistry? = nil,
        logger: Logger
    ) async throws {
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
        self.redis = RedisClient(configuration: configuration.redis, eventLoopGroup: group, logger: logger)
        let store = RedisAuthStore(
            redis: self.redis, keyPrefix: configuration.keyPrefix, durability: configuration.durability
        )
        let auth = AuthService(
            settings: configuration.auth, tokens: tokens, passwords: self.passwords, store: store, clock: clock,
            logger: logger
        )
        self.auth = auth
        var router = Router()
        router.cors = configuration.cors
        let refreshCookie =
            configuration.refreshCookie
            ? configuration.cors.map { RefreshCookie(cors: $0, maxAge: configuration.auth.refreshTokenTTL) } : nil
        AuthRoutes(
            auth: auth, introspectionClients: configuration.introspectionClients, refreshCookie: refreshCookie
        ).register(in: &router)
        router.add(.GET, "/.well-known/jwks.json") { _ in
            // Resource servers may cache the keys for 5 minutes; a new key is published before it
            // signs (see KeyDirectory), so a cached set never misses a key in use for longer.
            var response = HTTPResponse.json(["keys": tokens.jwks])
            response.headers.add(name: "cache-control", value: "public, max-age=300")
            return response
        }
        if let metrics {
            // Prometheus text format. Unauthenticated, like /healthz: expose the port to your
            // monitoring network only.
            router.add(.GET, "/metrics") { _ in
                HTTPResponse(
                    status: .ok, headers: ["content-type": "text/plain; version=0.0.4; charset=utf-8"],
                    body: ByteBuffer(bytes: metrics.emitToBuffer())
                )
            }
        }
        self.routes = router.routeList
        self.server = HTTPServer(configuration: configuration.http, group: group, router: router, logger: logger)
    }

    /// Starts listening. Returns the bound port.
    @discardableResult
    public func start() async throws -> Int {
        let c = self.configuration
        let mode =
            c.redis.cluster != nil
            ? "cluster"
            : c.redis.sentinel != nil
                ? "sentinel" : { if case .unixSocket = c.redis.endpoint { "unix" } else { "single" } }()
        // Every effective setting that is not a secret, so an operator can check what took effect.
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
                "verify_cache": "\(c.redis.clientCache.map(\.summary) ?? "off")",
                "key_prefix": "\(c.keyPrefix)", "issuer": "\(c.auth.issuer)", "audience": "\(c.auth.audience)",
                "access_alg": "\(self.tokens.accessAlgorithm)",
                "hash_concurrency": "\(c.hashConcurrency)", "max_connections": "\(c.http.maxConnections)",
                "max_sessions_per_user": "\(c.auth.maxSessionsPerUser)",
                "trusted_proxies": "\(c.http.trustedProxies.networks.count)",
                "login_throttle": "\(c.auth.throttle.enabled)", "signup": "\(c.auth.signupEnabled)",
            ])
        return try await self.server.start()
    }

    /// Reads the key directory again, so a key generated or rotated on disk takes effect
    /// without a restart. ``run()`` calls it every 30 s.
    public func reloadKeys() async {
        guard let path = self.configuration.keysDirectory else { return }
        do {
            try self.tokens.setSigningKeys(try KeyDirectory(path: path).load(), now: self.clock.now())
        } catch {
            self.logger.error("could not reload signing keys; keeping the old ones", metadata: ["error": "\(error)"])
        }
    }

    /// Drains the HTTP server, then closes Redis and the hashing threads.
    public func shutdown() async {
        await self.server.shutdown()
        await self.redis.shutdown()
        try? await self.passwords.shutdown()
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully.
    public func run() async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: LifecycleService(application: self))],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: self.logger
            )
        )
        try await group.run()
    }
}

/// Adapts ``Application`` to swift-service-lifecycle.
private struct LifecycleService: Service {
    let application: Application

    func run() async throws {
        try await self.application.start()
        // Only a key directory can change under a running process.
        let reloader = self.application.configuration.keysDirectory.map { _ in
            Task {
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(30))
                    await self.application.reloadKeys()
                }
            }
        }
        // Returns when a shutdown signal arrives (or throws on cancellation); drain either way.
        try? await gracefulShutdown()
        reloader?.cancel()
        await self.application.shutdown()
    }
}
