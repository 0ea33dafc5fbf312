// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "authd",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "authd", targets: ["authd"]),
        .library(name: "RedisClient", targets: ["RedisClient"]),
        // For the micro-benchmarks, a package of their own under Benchmarks/Micro.
        .library(name: "JOSE", targets: ["JOSE"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // TLS to Redis (rediss://): NIOSSL's handler in front of the same channel.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // Top to bottom as the layers depend: CLI → app → HTTP → domain ← store → Redis client →
        // hiredis; Passwords implements the domain's protocol; JOSE, WireJSON, ASCIIDigits,
        // EventLoopSupport and MetricHandles are leaves.
        .executableTarget(
            name: "authd",
            dependencies: [
                "AuthdApp", "AuthHTTP", "JOSE",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Configuration and wiring: builds the app that both the CLI and the tests run.
        .target(
            name: "AuthdApp",
            dependencies: [
                "AuthCore", "RedisStore", "AuthHTTP", "JOSE", "Passwords", "RedisClient", "WireJSON",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // HTTP: bare NIOHTTP1, the connection state machine, a router, controllers, one error path.
        .target(
            name: "AuthHTTP",
            dependencies: [
                "ASCIIDigits", "AuthCore", "EventLoopSupport", "JOSE", "WireJSON", "MetricHandles",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // Token domain: users, sessions, tokens. Knows nothing of HTTP, Redis, threads or bytes.
        .target(
            name: "AuthCore",
            dependencies: [
                "JOSE", "MetricHandles",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // Redis store: the token domain's state as Redis keys and Lua scripts.
        .target(
            name: "RedisStore",
            dependencies: [
                "ASCIIDigits", "AuthCore", "JOSE", "RedisClient", .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Passwords: the domain's PasswordHashing as Argon2id (libargon2) on a thread pool of its own.
        .target(
            name: "Passwords",
            dependencies: ["AuthCore", "CArgon2", .product(name: "NIOPosix", package: "swift-nio")]
        ),
        // Redis client: SwiftNIO owns the socket, hiredis parses replies.
        .target(
            name: "RedisClient",
            dependencies: [
                "ASCIIDigits", "CHiredis", "EventLoopSupport", "MetricHandles",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // C shims over Debian's system libraries.
        // hiredis's pkg-config file adds -D_FILE_OFFSET_BITS=64, which SwiftPM refuses with a warning;
        // the headers need no include path of their own, so the module map alone is enough.
        .systemLibrary(name: "CHiredis"),
        .systemLibrary(name: "CArgon2", pkgConfig: "libargon2", providers: [.apt(["libargon2-dev"])]),
        // Leaf: JOSE, the JWS codec (RFC 7515, 8725), its keys and algorithms, base64url, random ids.
        .target(
            name: "JOSE",
            dependencies: [
                "ASCIIDigits", "WireJSON",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // The one JSON reader and writer of the service.
        .target(name: "WireJSON", dependencies: ["ASCIIDigits"]),
        // Leaf: the one decimal and hex printers: JSON numbers, HTTP and RESP lengths, ids.
        .target(name: "ASCIIDigits"),
        // Leaf: helpers for code on an event loop, the end-of-turn flush of the HTTP and Redis handlers.
        .target(name: "EventLoopSupport", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        // Leaf: metric handles made once per label set, for the modules that record metrics.
        .target(
            name: "MetricHandles",
            dependencies: [.product(name: "CoreMetrics", package: "swift-metrics")]
        ),

        // Benchmarks/redis-client.sh drives this against a real Redis, beside redis-benchmark.
        .executableTarget(
            name: "redis-client-bench",
            dependencies: [
                "RedisClient",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/RedisClientBench"
        ),

        // The floor Benchmarks/service.sh measures beside authd: a static 200 on bare NIOHTTP1.
        .executableTarget(
            name: "bare-nio-server",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Benchmarks/BareNIOServer"
        ),

        .target(
            name: "TestSupport",
            dependencies: [
                "AuthdApp", "JOSE", "RedisClient",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "RedisClientTests", dependencies: ["RedisClient", "CHiredis", "TestSupport"]),
        .testTarget(name: "WireJSONTests", dependencies: ["WireJSON", "ASCIIDigits"]),
        .testTarget(
            name: "JOSETests", dependencies: ["JOSE", "WireJSON", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(
            name: "AuthCoreTests",
            dependencies: [
                "AuthCore", "JOSE", "Passwords", "RedisClient", "RedisStore", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "PasswordsTests", dependencies: ["Passwords", "AuthCore"]),
        .testTarget(
            name: "AuthHTTPTests",
            dependencies: [
                "AuthHTTP", "AuthCore", "JOSE", "WireJSON",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "RedisStoreTests", dependencies: ["RedisStore", "RedisClient", "TestSupport"]),
        .testTarget(name: "AuthdAppTests", dependencies: ["AuthdApp", "AuthCore", "JOSE", "TestSupport"]),
        .testTarget(
            name: "AuthdTests",
            dependencies: [
                "AuthdApp", "AuthCore", "RedisStore", "AuthHTTP", "JOSE", "Passwords", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// Async functions run on their caller's executor (SE-0461): a request's calls stay on its event
// loop without the runtime asking, at every call, which executor the task prefers.
for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]
}
