import Benchmark
import JOSE
import JWTKit

/// Signing and verifying tokens: authd's `TokenCodec` beside jwt-kit doing the same HS256 work.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        maxDuration: .seconds(3)
    )
    let accessSecret = String(repeating: "a", count: 43)
    let refreshSecret = String(repeating: "r", count: 43)
    let now = 1_900_000_000
    let claims = TokenClaims(
        iss: "authd", sub: "alice", aud: "authd", clientID: "authd", iat: now, exp: now + 900,
        jti: RandomID.make(), sid: RandomID.make(), tokenUse: .access
    )

    // The harness's own cost, to subtract from the others' malloc counts.
    Benchmark("baseline: empty") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(benchmark) }
    }

    Benchmark("TokenCodec.sign access HS256") { benchmark in
        let codec = try TokenCodec(accessSecret: accessSecret, refreshSecret: refreshSecret)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try codec.sign(claims))
        }
    }

    Benchmark("TokenCodec.verify access HS256") { benchmark in
        let codec = try TokenCodec(accessSecret: accessSecret, refreshSecret: refreshSecret)
        let token = try codec.sign(claims)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try codec.verify(token, as: .access, now: now))
        }
    }

    Benchmark("TokenCodec.verify access EdDSA") { benchmark in
        let codec = try TokenCodec(
            accessSecret: nil, refreshSecret: refreshSecret, signingKeys: [try SigningKey.generate(status: .current)],
            now: now
        )
        let token = try codec.sign(claims)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try codec.verify(token, as: .access, now: now))
        }
    }

    Benchmark("jwt-kit sign HS256") { benchmark in
        let keys = await JWTKeyCollection().add(hmac: HMACKey(from: accessSecret), digestAlgorithm: .sha256)
        let payload = KitClaims(claims)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try await keys.sign(payload))
        }
    }

    Benchmark("jwt-kit verify HS256") { benchmark in
        let keys = await JWTKeyCollection().add(hmac: HMACKey(from: accessSecret), digestAlgorithm: .sha256)
        let token = try await keys.sign(KitClaims(claims))
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try await keys.verify(token, as: KitClaims.self))
        }
    }

    Benchmark("Base64URL decode, 200 bytes") { benchmark in
        let text = Base64URL.encode([UInt8](repeating: 0xA5, count: 200))
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(Base64URL.decode(text))
        }
    }
}

/// The same claims as `TokenClaims`, as a jwt-kit payload.
struct KitClaims: JWTPayload {
    var iss: String
    var sub: String
    var aud: String
    var client_id: String
    var iat: Int
    var exp: Int
    var jti: String
    var sid: String
    var token_use: String

    init(_ claims: TokenClaims) {
        self.iss = claims.iss
        self.sub = claims.sub
        self.aud = claims.aud
        self.client_id = claims.clientID
        self.iat = claims.iat
        self.exp = claims.exp
        self.jti = claims.jti
        self.sid = claims.sid
        self.token_use = claims.tokenUse.rawValue
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
