// swift-tools-version:6.1
// Micro-benchmarks (ordo-one/benchmark), a package of their own so that CI and `swift test` at the
// top level never build them. Run them with `Benchmarks/micro.sh`.
import PackageDescription

let package = Package(
    name: "authd-micro-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "authd", path: "../.."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        // The baseline that the token codec is measured against.
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
    ],
    targets: [
        .executableTarget(
            name: "Tokens",
            dependencies: [
                .product(name: "JOSE", package: "authd"),
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            path: "Benchmarks/Tokens",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "RedisCodec",
            dependencies: [
                .product(name: "RedisClient", package: "authd"),
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/RedisCodec",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
