import AuthCore
import AuthdApp
import Foundation
import JOSE
import RedisClient
import RedisStore
import TestSupport
import Testing

/// Every variable of the configuration table (docs/CONFIGURATION.md), set as an operator sets it (in the
/// environment of the real `authd` binary, or its `.env`), and its effect seen from outside: a
/// response, a header, a key in Redis, a log line, or a refusal to start. The list of variables is
/// read from that document, so a documented setting without a check here fails the suite.
@Suite("Every documented setting, on the real binary")
struct SettingsTests {
    /// What one variable's check does with a running (or refusing) authd.
    struct Case: Sendable, CustomTestStringConvertible {
        let variable: String
        /// Settings on top of the base ones (secrets, Redis, a fresh key prefix, a free port).
        let settings: [String: String]
        /// Put the settings in `.env` instead of the environment.
        let viaDotEnv: Bool
        /// The process is expected to refuse to start, with this text in its message.
        let refusal: String?
        /// The process is expected to start but not to become ready (Redis refused).
        let ready: Bool
        let check: @Sendable (AuthdProcess, Base) async throws -> Void

        var testDescription: String { self.variable }

        init(
            variable: String, settings: [String: String], viaDotEnv: Bool = false, refusal: String? = nil,
            ready: Bool = true, check: @escaping @Sendable (AuthdProcess, Base) async throws -> Void = { _, _ in }
        ) {
            self.variable = variable
            self.settings = settings
            self.viaDotEnv = viaDotEnv
            self.refusal = refusal
            self.ready = ready
            self.check = check
        }
    }

    /// The base settings of one run, for checks that need them.
    struct Base: Sendable {
        let secrets = TestSecrets()
        /// A secret of before a rotation, for the *_PREVIOUS settings.
        let previous = RandomID.hexBytes(32)
        let prefix = TestRedis.uniquePrefix("bin")
        var environment: [String: String] {
            [
                "ACCESS_TOKEN_SECRET": self.secrets.access, "REFRESH_TOKEN_SECRET": self.secrets.refresh,
                "REDIS_URL": TestRedis.url, "AUTHD_KEY_PREFIX": self.prefix, "AUTHD_HASH_CONCURRENCY": "2",
                "AUTHD_REDIS_POOL_SIZE": "2",
            ]
        }
    }

    static let password = "correct horse battery"

    static func signUpAndLogIn(_ app: AuthdProcess, _ user: String = "setting") async throws -> TestResponse {
        let created = try await app.client.json("POST", "/users", ["username": user, "password": Self.password])
        guard created.status == 201 else { throw TestFailure("sign-up: \(created.status) \(created.text)") }
        return try await app.client.json("POST", "/login", ["username": user, "password": Self.password])
    }

    /// The value of an unlabelled metric on `/metrics`.
    static func metric(_ app: AuthdProcess, _ name: String) async throws -> Double? {
        let text = try await app.client.get("/metrics").text
        return text.split(separator: "\n").first(where: { $0.hasPrefix(name + " ") })
            .flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    static func waitForTracking(_ app: AuthdProcess) async throws {
        try await waitUntil(within: .seconds(30), "tracking up") {
            try await app.client.get("/metrics").text.contains("authd_redis_client_tracking_up{node=\"0\"} 1")
        }
    }

    /// Verify is answered from the cache after its first read, and a logout still ends it at once.
    static func verifyIsCachedAndLogoutStillImmediate(_ app: AuthdProcess) async throws {
        let login = try await Self.signUpAndLogIn(app)
        let token = try #require(login["accessToken"])
        try await Self.waitForTracking(app)
        for _ in 0..<3 { #expect(try await app.client.get("/me", bearer: token).status == 200) }
        #expect(
            try await app.client.get("/metrics").text.contains("authd_redis_client_cache_lookups_total{result=\"hit\"}")
        )
        #expect(try await app.client.json("DELETE", "/logout", ["token": login["refreshToken"]!]).status == 204)
        #expect(try await app.client.get("/me", bearer: token).status == 401)
    }

    static func logLine(_ app: AuthdProcess, _ field: String, _ value: String) async throws {
        try await app.waitForLog("\(field)=\(value)")
    }

    /// A key of second factors of the test's own.
    static let factorKey = RandomID.hexBytes(32)

    static let cases: [Case] = [
        Case(variable: "ACCESS_TOKEN_SECRET", settings: ["ACCESS_TOKEN_SECRET": ""], refusal: "ACCESS_TOKEN_SECRET"),
        Case(
            variable: "REFRESH_TOKEN_SECRET",
            settings: ["REFRESH_TOKEN_SECRET": "replace-with-another-output-of-authd-gen-secret"],
            refusal: "placeholder"),
        Case(variable: "ACCESS_TOKEN_SECRET_PREVIOUS", settings: ["ACCESS_TOKEN_SECRET_PREVIOUS": "@PREVIOUS@"]) {
            app, base in
            // A token of the same session signed with the previous secret (as before the rotation,
            // with no kid) still verifies.
            let token = try #require(try await Self.signUpAndLogIn(app)["accessToken"])
            let old = ProtocolAttackTests.signedAccessToken(
                payload: String(decoding: try JWT.payload(of: token), as: UTF8.self), secret: base.previous)
            let status = try await app.client.get("/me", bearer: old).status
            #expect(status == 200)
        },
        Case(variable: "REFRESH_TOKEN_SECRET_PREVIOUS", settings: ["REFRESH_TOKEN_SECRET_PREVIOUS": "@PREVIOUS@"]) {
            app, base in
            let refresh = try #require(try await Self.signUpAndLogIn(app)["refreshToken"])
            let old = JWT.hs256(
                header: #"{"alg":"HS256","typ":"rt+jwt"}"#, payload: try JWT.payload(of: refresh), secret: base.previous
            )
            let status = try await app.client.json("POST", "/token", ["token": old]).status
            #expect(status == 200)
        },
        Case(variable: "AUTHD_KEYS_DIR", settings: ["AUTHD_KEYS_DIR": "@KEYS@"]) { app, _ in
            let jwks = try await app.client.get("/.well-known/jwks.json")
            #expect((jwks.json["keys"] as? [Any])?.count == 1)
            let token = try #require(try await Self.signUpAndLogIn(app)["accessToken"])
            #expect(
                String(
                    decoding: Data(base64Encoded: String(token.prefix(while: { $0 != "." })) + "==") ?? Data(),
                    as: UTF8.self
                ).contains("ES256"), "the default algorithm of a new key directory")
        },
        Case(variable: "AUTHD_AUDIENCE", settings: ["AUTHD_AUDIENCE": "orders-api"]) { app, _ in
            let token = try #require(try await Self.signUpAndLogIn(app)["accessToken"])
            #expect(try JWT.claims(of: token).aud == "orders-api")
        },
        Case(variable: "AUTHD_CLOCK_LEEWAY", settings: ["AUTHD_CLOCK_LEEWAY": "0"]) { app, base in
            // A token valid from 20 s ahead: inside the default 30 s leeway, outside a leeway of 0.
            let token = try #require(try await Self.signUpAndLogIn(app)["accessToken"])
            let ahead = ProtocolAttackTests.signedAccessToken(
                payload: try ProtocolAttackTests.payload(
                    of: token, setting: "nbf", to: String(Int(Date().timeIntervalSince1970) + 20)),
                secret: base.secrets.access)
            #expect(try await app.client.get("/me", bearer: ahead).status == 401)
            #expect(try await app.client.get("/me", bearer: token).status == 200)
        },
        Case(variable: "AUTHD_LOGIN_THROTTLE", settings: ["AUTHD_LOGIN_THROTTLE": "false"]) { app, _ in
            _ = try await Self.signUpAndLogIn(app)
            for _ in 0..<7 {
                #expect(
                    try await app.client.json("POST", "/login", ["username": "setting", "password": "wrong one"]).status
                        == 401)
            }
            #expect(
                try await app.client.json("POST", "/login", ["username": "setting", "password": Self.password]).status
                    == 200)
        },
        Case(variable: "REDIS_URL", settings: ["REDIS_URL": "memcached://127.0.0.1:1"], refusal: "REDIS_URL"),
        // The TLS settings run against a redis-server with --tls-port and certificates made for the
        // case (TestCertificates): @TLS_URL@ asks for a client certificate, @TLS_URL_NAMED@ has a
        // certificate for redis.internal.test only.
        Case(
            variable: "REDIS_TLS_CA_FILE",
            settings: [
                "REDIS_URL": "@TLS_URL@", "REDIS_TLS_CA_FILE": "@OTHER_CA@", "REDIS_TLS_CERT_FILE": "@CLIENT_CERT@",
                "REDIS_TLS_KEY_FILE": "@CLIENT_KEY@",
            ],
            ready: false
        ) { app, _ in
            try await app.waitForLog("its certificate is not signed by a CA in /")
        },
        Case(
            variable: "REDIS_TLS_CERT_FILE",
            settings: [
                "REDIS_URL": "@TLS_URL@", "REDIS_TLS_CA_FILE": "@CA@", "REDIS_TLS_CERT_FILE": "@CLIENT_CERT@",
                "REDIS_TLS_KEY_FILE": "@CLIENT_KEY@",
            ]
        ) { app, _ in
            // The server refuses clients without a certificate: a login is the proof.
            let status = try await Self.signUpAndLogIn(app).status
            #expect(status == 200)
            try await app.waitForLog("client_certificate=/")
        },
        Case(
            variable: "REDIS_TLS_KEY_FILE",
            settings: ["REDIS_URL": "@TLS_URL@", "REDIS_TLS_CA_FILE": "@CA@", "REDIS_TLS_CERT_FILE": "@CLIENT_CERT@"],
            refusal: "needs its key"),
        Case(
            variable: "REDIS_TLS_SERVER_NAME",
            settings: [
                "REDIS_URL": "@TLS_URL_NAMED@", "REDIS_TLS_CA_FILE": "@CA@",
                "REDIS_TLS_SERVER_NAME": "redis.internal.test",
            ]
        ) { app, _ in
            let status = try await Self.signUpAndLogIn(app).status
            #expect(status == 200)
        },
        Case(variable: "AUTHD_HOST", settings: ["AUTHD_HOST": "127.0.0.2"]),
        Case(variable: "AUTHD_PORT", settings: [:]) { app, _ in
            let value = try await app.client.get("/healthz").status
            #expect(value == 200)
        },
        Case(variable: "AUTHD_ISSUER", settings: ["AUTHD_ISSUER": "https://auth.example.test"], viaDotEnv: true) {
            app, _ in
            let token = try #require(try await Self.signUpAndLogIn(app)["accessToken"])
            #expect(try JWT.claims(of: token).iss == "https://auth.example.test")
        },
        Case(variable: "AUTHD_ACCESS_TOKEN_TTL", settings: ["AUTHD_ACCESS_TOKEN_TTL": "120"]) { app, _ in
            let value = try await Self.signUpAndLogIn(app).json["expiresIn"] as? Int
            #expect(value == 120)
        },
        Case(variable: "AUTHD_REFRESH_TOKEN_TTL", settings: ["AUTHD_REFRESH_TOKEN_TTL": "3600"]) { app, base in
            let token = try #require(try await Self.signUpAndLogIn(app)["accessToken"])
            let redis = try TestRedis.makeClient()
            let ttl = try await redis.ttl(
                RedisKeys(prefix: base.prefix).session("setting", try JWT.claims(of: token).sid))
            #expect((3000...3600).contains(ttl))
            await redis.shutdown()
        },
        Case(variable: "AUTHD_SESSION_MAX_LIFETIME", settings: ["AUTHD_SESSION_MAX_LIFETIME": "7200"]) { app, _ in
            let token = try #require(try await Self.signUpAndLogIn(app)["accessToken"])
            let session = try #require(
                (try await app.client.get("/sessions", bearer: token).json["sessions"] as? [[String: Any]])?.first)
            #expect((session["absoluteExpiresAt"] as? Int ?? 0) - (session["createdAt"] as? Int ?? 0) == 7200)
        },
        Case(variable: "AUTHD_KEY_PREFIX", settings: [:]) { app, base in
            _ = try await Self.signUpAndLogIn(app)
            let redis = try TestRedis.makeClient()
            #expect(try await redis.scanAll(match: base.prefix + "user:*") == [base.prefix + "user:{setting}"])
            await redis.shutdown()
        },
        Case(variable: "AUTHD_REFRESH_GRACE_WINDOW", settings: ["AUTHD_REFRESH_GRACE_WINDOW": "0"]) { app, _ in
            let refresh = try #require(try await Self.signUpAndLogIn(app)["refreshToken"])
            #expect(try await app.client.json("POST", "/token", ["token": refresh]).status == 200)
            #expect(try await app.client.json("POST", "/token", ["token": refresh]).status == 400, "reuse at once")
        },
        Case(variable: "AUTHD_SIGNUP", settings: ["AUTHD_SIGNUP": "false"]) { app, _ in
            let value = try await app.client.json("POST", "/users", ["username": "nobody", "password": Self.password])
                .status
            #expect(value == 403)
        },
        Case(
            variable: "AUTHD_INTROSPECTION_CLIENTS",
            settings: ["AUTHD_INTROSPECTION_CLIENTS": "orders:orders-secret-0123456789"]
        ) { app, _ in
            let token = try #require(try await Self.signUpAndLogIn(app)["accessToken"])
            let basic = Data("orders:orders-secret-0123456789".utf8).base64EncodedString()
            let response = try await app.client.request(
                "POST", "/introspect",
                headers: [("authorization", "Basic \(basic)"), ("content-type", "application/x-www-form-urlencoded")],
                body: Array("token=\(token)".utf8))
            #expect(response.json["active"] as? Bool == true)
        },
        Case(variable: "AUTHD_TRUSTED_PROXIES", settings: ["AUTHD_TRUSTED_PROXIES": "127.0.0.1"]) { app, _ in
            _ = try await app.client.json("POST", "/users", ["username": "setting", "password": Self.password])
            let login = try await app.client.json(
                "POST", "/login", ["username": "setting", "password": Self.password],
                headers: [("x-forwarded-for", "198.51.100.77")])
            let sessions = try await app.client.get("/sessions", bearer: login["accessToken"])
            #expect((sessions.json["sessions"] as? [[String: Any]])?.first?["ip"] as? String == "198.51.100.77")
        },
        Case(variable: "AUTHD_CORS_ORIGINS", settings: ["AUTHD_CORS_ORIGINS": "https://app.example.test"]) { app, _ in
            let preflight = try await app.client.request(
                "OPTIONS", "/token",
                headers: [("origin", "https://app.example.test"), ("access-control-request-method", "POST")])
            #expect(preflight.status == 204)
            #expect(preflight.headers["access-control-allow-origin"] == "https://app.example.test")
        },
        Case(
            variable: "AUTHD_REFRESH_COOKIE",
            settings: ["AUTHD_CORS_ORIGINS": "https://app.example.test", "AUTHD_REFRESH_COOKIE": "true"]
        ) { app, _ in
            _ = try await app.client.json("POST", "/users", ["username": "setting", "password": Self.password])
            let login = try await app.client.json(
                "POST", "/login", ["username": "setting", "password": Self.password],
                headers: [("origin", "https://app.example.test")])
            #expect(login.status == 200 && login["refreshToken"] == nil)
            #expect(login.rawHead.contains("authd_refresh=") && login.rawHead.contains("HttpOnly"))
        },
        Case(variable: "AUTHD_THROTTLE_USER_ADDRESS", settings: ["AUTHD_THROTTLE_USER_ADDRESS": "2/60"]) { app, _ in
            _ = try await Self.signUpAndLogIn(app)
            for _ in 0..<2 {
                _ = try await app.client.json("POST", "/login", ["username": "setting", "password": "wrong one"])
            }
            let third = try await app.client.json("POST", "/login", ["username": "setting", "password": "wrong one"])
            #expect(third.status == 429 && third["error_description"]?.hasPrefix("too many failed logins") == true)
        },
        Case(variable: "AUTHD_THROTTLE_USER", settings: ["AUTHD_THROTTLE_USER": "7/120"]) { app, _ in
            try await Self.logLine(app, "throttle_user", "7/120")
        },
        Case(variable: "AUTHD_THROTTLE_ADDRESS", settings: ["AUTHD_THROTTLE_ADDRESS": "300/600"]) { app, _ in
            try await Self.logLine(app, "throttle_address", "300/600")
        },
        Case(variable: "AUTHD_THROTTLE_SIGNUP", settings: ["AUTHD_THROTTLE_SIGNUP": "1/3600"]) { app, _ in
            _ = try await app.client.json("POST", "/users", ["username": "first", "password": Self.password])
            let second = try await app.client.json("POST", "/users", ["username": "second", "password": Self.password])
            #expect(second.status == 429)
            #expect(second["error_description"]?.hasPrefix("too many sign-ups") == true, "\(second.text)")
        },
        Case(variable: "AUTHD_THROTTLE_CLIENT_SECRET", settings: ["AUTHD_THROTTLE_CLIENT_SECRET": "3/90"]) { app, _ in
            try await Self.logLine(app, "throttle_client_secret", "3/90")
        },
        Case(variable: "AUTHD_MAX_CONNECTIONS", settings: ["AUTHD_MAX_CONNECTIONS": "20"]) { app, _ in
            try await Self.logLine(app, "max_connections", "20")
        },
        Case(variable: "AUTHD_MAX_SESSIONS_PER_USER", settings: ["AUTHD_MAX_SESSIONS_PER_USER": "2"]) { app, _ in
            // Three logins in one second have one expiry, so which one ends is not the point: that
            // exactly two of the three live is.
            var tokens = [try #require(try await Self.signUpAndLogIn(app)["accessToken"])]
            for _ in 0..<2 {
                let login = try await app.client.json(
                    "POST", "/login", ["username": "setting", "password": Self.password])
                tokens.append(try #require(login["accessToken"]))
            }
            var live = 0
            for token in tokens where try await app.client.get("/me", bearer: token).status == 200 { live += 1 }
            #expect(live == 2)
        },
        Case(variable: "AUTHD_MAX_BODY_BYTES", settings: ["AUTHD_MAX_BODY_BYTES": "2048"]) { app, _ in
            let big = try await app.client.request(
                "POST", "/login", headers: [("content-type", "application/json")],
                body: Array(repeating: 0x20, count: 3000))
            #expect(big.status == 413)
        },
        Case(variable: "AUTHD_IDLE_TIMEOUT", settings: ["AUTHD_IDLE_TIMEOUT": "1"]) { app, _ in
            let connection = try await RawConnection.open(port: app.port)
            // Closed after 1 s of silence. The default is 60 s, so a close within 45 s shows the
            // setting took effect, with room for a machine that stalls.
            #expect(await connection.closes(within: .seconds(45)))
        },
        Case(variable: "AUTHD_EVENTS", settings: ["AUTHD_EVENTS": "off"]) { app, base in
            let login = try await Self.signUpAndLogIn(app)
            // A logout's events are written before its answer, when there are events.
            #expect(try await app.client.json("DELETE", "/logout", ["token": login["refreshToken"]!]).status == 204)
            try await Self.logLine(app, "events", "off")
            let redis = try TestRedis.makeClient()
            #expect(try await redis.scanAll(match: base.prefix + "events:*") == [])
            await redis.shutdown()
        },
        Case(variable: "AUTHD_EVENTS_SHARDS", settings: ["AUTHD_EVENTS_SHARDS": "4"]) { app, base in
            for name in ["ada", "bob", "cy", "dee", "eve", "fay"] {
                _ = try await app.client.json("POST", "/users", ["username": name, "password": Self.password])
            }
            let redis = try TestRedis.makeClient()
            var shards: Set<String> = []
            // The sign-ups' events are written after the answers.
            try await waitUntil(within: .seconds(30), "the sign-ups' events in more than one shard") {
                shards = Set(try await redis.scanAll(match: base.prefix + "events:*"))
                return shards.count > 1
            }
            #expect(shards.isSubset(of: (0..<4).map { RedisKeys(prefix: base.prefix).events(shard: $0) }))
            await redis.shutdown()
        },
        Case(variable: "AUTHD_EVENTS_MAX_LENGTH", settings: ["AUTHD_EVENTS_MAX_LENGTH": "5000"]) { app, _ in
            try await Self.logLine(app, "events", "shards=1,max_length=5000,max_age=604800")
        },
        Case(variable: "AUTHD_EVENTS_MAX_AGE", settings: ["AUTHD_EVENTS_MAX_AGE": "3600"]) { app, _ in
            try await Self.logLine(app, "events", "shards=1,max_length=100000,max_age=3600")
        },
        Case(variable: "AUTHD_DPOP", settings: ["AUTHD_DPOP": "sometimes"], refusal: "AUTHD_DPOP"),
        Case(variable: "AUTHD_DPOP", settings: ["AUTHD_DPOP": "required"]) { app, _ in
            // No proof, no tokens; with one, bound tokens.
            let refused = try await Self.signUpAndLogIn(app)
            #expect(refused.status == 400 && refused["error"] == "invalid_dpop_proof", "\(refused.text)")
            let key = ProofKey()
            let login = try await app.client.json(
                "POST", "/login", ["username": "setting", "password": Self.password],
                headers: [("dpop", key.proof("POST", "http://127.0.0.1:\(app.port)/login"))])
            #expect(login.status == 200 && login["tokenType"] == "DPoP", "\(login.text)")
            try await Self.logLine(app, "dpop", "required")
        },
        Case(variable: "AUTHD_DPOP_NONCE", settings: ["AUTHD_DPOP_NONCE": "true"]) { app, _ in
            _ = try await app.client.json("POST", "/users", ["username": "setting", "password": Self.password])
            let login = try await app.client.json(
                "POST", "/login", ["username": "setting", "password": Self.password],
                headers: [("dpop", ProofKey().proof("POST", "http://127.0.0.1:\(app.port)/login"))])
            #expect(login.status == 400 && login["error"] == "use_dpop_nonce", "\(login.text)")
            #expect(login.headers["dpop-nonce"] != nil)
        },
        Case(variable: "AUTHD_MFA_ISSUER", settings: ["AUTHD_MFA_ISSUER": "Example Inc"]) { app, _ in
            let token = try #require(try await Self.signUpAndLogIn(app)["accessToken"])
            let begun = try await app.client.json(
                "POST", "/mfa/totp", ["password": Self.password], headers: [("authorization", "Bearer \(token)")])
            let uri = try #require(begun["otpauth_uri"])
            #expect(uri.hasPrefix("otpauth://totp/Example%20Inc:setting?") && uri.contains("&issuer=Example%20Inc&"))
        },
        Case(variable: "AUTHD_FACTOR_KEY", settings: ["AUTHD_FACTOR_KEY": Self.factorKey]) { app, base in
            let token = try #require(try await Self.signUpAndLogIn(app)["accessToken"])
            let begun = try await app.client.json(
                "POST", "/mfa/totp", ["password": Self.password], headers: [("authorization", "Bearer \(token)")])
            let secret = try #require(begun["secret"])
            // The pending secret is sealed under that key, and opens with it alone.
            let redis = try TestRedis.makeClient()
            let sealed = try await redis.send("HGET", [RedisKeys(prefix: base.prefix).factor("setting"), "pending"])
            await redis.shutdown()
            let opened = FactorVault(key: Self.factorKey).open(try #require(sealed.string), for: "setting")
            #expect(opened.map(Base32.encode) == secret)
            #expect(
                FactorVault(key: "factor:" + base.secrets.refresh).open(try #require(sealed.string), for: "setting")
                    == nil)
        },
        Case(variable: "AUTHD_INSTANCE", settings: ["AUTHD_INSTANCE": "blue-1"]) { app, base in
            _ = try await Self.signUpAndLogIn(app)
            let redis = try TestRedis.makeClient()
            let stream = RedisKeys(prefix: base.prefix).events(shard: 0)
            try await waitUntil(within: .seconds(30), "the sign-up's event") {
                try await redis.send("XLEN", [stream]).int ?? 0 > 0
            }
            let entries = try await redis.send("XRANGE", [stream, "-", "+"])
            let fields = entries.array?.first?.array?.last?.array?.compactMap(\.string)
            let first = try #require(fields)
            #expect(first.contains("blue-1"))
            await redis.shutdown()
        },
        Case(variable: "AUTHD_HASH_CONCURRENCY", settings: ["AUTHD_HASH_CONCURRENCY": "3"]) { app, _ in
            try await Self.logLine(app, "hash_concurrency", "3")
        },
        Case(variable: "AUTHD_REDIS_POOL_SIZE", settings: ["AUTHD_REDIS_POOL_SIZE": "3"]) { app, _ in
            try await Self.logLine(app, "redis_pool_size", "3")
        },
        Case(variable: "AUTHD_REDIS_CONNECT_TIMEOUT_MS", settings: ["AUTHD_REDIS_CONNECT_TIMEOUT_MS": "1500"]) {
            app, _ in
            try await Self.logLine(app, "redis_connect_timeout_ms", "1500")
        },
        Case(variable: "AUTHD_REDIS_COMMAND_TIMEOUT_MS", settings: ["AUTHD_REDIS_COMMAND_TIMEOUT_MS": "1700"]) {
            app, _ in
            try await Self.logLine(app, "redis_command_timeout_ms", "1700")
        },
        Case(variable: "REDIS_SENTINELS", settings: ["REDIS_SENTINELS": "127.0.0.1:1"]) { app, _ in
            try await Self.logLine(app, "redis_mode", "sentinel")
        },
        Case(variable: "REDIS_CLUSTER_NODES", settings: ["REDIS_CLUSTER_NODES": "@CLUSTER@"]) { app, base in
            try await Self.logLine(app, "redis_mode", "cluster")
            let login = try await Self.signUpAndLogIn(app)
            #expect(login.status == 200)
            #expect(try await app.client.get("/me", bearer: login["accessToken"]).status == 200)
            // Nothing of it in the Redis that REDIS_URL names: the cluster holds it.
            let redis = try TestRedis.makeClient()
            #expect(try await redis.send("EXISTS", [RedisKeys(prefix: base.prefix).user("setting")]).int == 0)
            await redis.shutdown()
        },
        Case(variable: "AUTHD_VERIFY_CACHE", settings: ["AUTHD_VERIFY_CACHE": "on"]) { app, _ in
            try await Self.logLine(app, "verify_cache", "on (tracking=keys,")
            try await Self.verifyIsCachedAndLogoutStillImmediate(app)
        },
        Case(
            variable: "AUTHD_VERIFY_CACHE_TRACKING",
            settings: ["AUTHD_VERIFY_CACHE": "on", "AUTHD_VERIFY_CACHE_TRACKING": "bcast"]
        ) { app, base in
            try await app.waitForLog("tracking=bcast:\(base.prefix)session:,")
            try await Self.verifyIsCachedAndLogoutStillImmediate(app)
        },
        Case(
            variable: "AUTHD_VERIFY_CACHE_ENTRIES",
            settings: ["AUTHD_VERIFY_CACHE": "on", "AUTHD_VERIFY_CACHE_ENTRIES": "1"]
        ) { app, _ in
            try await app.waitForLog("entries=1,")
            try await Self.waitForTracking(app)
            // Two sessions verified, one kept.
            for user in ["entries-a", "entries-b"] {
                let token = try #require(try await Self.signUpAndLogIn(app, user)["accessToken"])
                #expect(try await app.client.get("/me", bearer: token).status == 200)
            }
            #expect(try await Self.metric(app, "authd_redis_client_cache_entries") == 1)
        },
        Case(
            variable: "AUTHD_VERIFY_CACHE_MB", settings: ["AUTHD_VERIFY_CACHE": "on", "AUTHD_VERIFY_CACHE_MB": "3"]
        ) { app, _ in
            try await app.waitForLog("mb=3,")
        },
        Case(
            variable: "AUTHD_VERIFY_CACHE_HEALTH_MS",
            settings: ["AUTHD_VERIFY_CACHE": "on", "AUTHD_VERIFY_CACHE_HEALTH_MS": "250"]
        ) { app, _ in
            try await app.waitForLog("health_ms=250)")
        },
        Case(
            variable: "AUTHD_VERIFY_CACHE_LEASE_MS",
            settings: ["AUTHD_VERIFY_CACHE": "on", "AUTHD_VERIFY_CACHE_LEASE_MS": "1500"]
        ) { app, _ in
            try await app.waitForLog("verify_cache_lease_ms=1500")
        },
        Case(
            variable: "REDIS_SENTINEL_PRIMARY",
            settings: ["REDIS_SENTINELS": "127.0.0.1:1", "REDIS_SENTINEL_PRIMARY": "orders-primary"]
        ) { app, _ in
            try await app.waitForLog("/orders-primary/")
        },
        Case(
            variable: "AUTHD_REDIS_WAIT_REPLICAS",
            settings: ["AUTHD_REDIS_WAIT_REPLICAS": "1", "AUTHD_REDIS_WAIT_TIMEOUT_MS": "50"]
        ) { app, _ in
            // The suite's Redis has no replica: a revocation cannot be acknowledged.
            let refresh = try #require(try await Self.signUpAndLogIn(app)["refreshToken"])
            #expect(try await app.client.json("DELETE", "/logout", ["token": refresh]).status == 503)
        },
        Case(variable: "AUTHD_REDIS_WAIT_TIMEOUT_MS", settings: ["AUTHD_REDIS_WAIT_TIMEOUT_MS": "250"]) { app, _ in
            try await Self.logLine(app, "redis_wait_timeout_ms", "250")
        },
        Case(variable: "LOG_LEVEL", settings: ["LOG_LEVEL": "debug"]) { app, _ in
            _ = try await app.client.get("/healthz")
            try await app.waitForLog("path=/healthz")
        },
        Case(variable: "LOG_FORMAT", settings: ["LOG_FORMAT": "json"]) { app, _ in
            try await app.waitForLog("starting authd")
            let lines = app.log.split(separator: "\n")
            #expect(!lines.isEmpty)
            #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) is [String: Any] })
        },
    ]

    /// One case at a time: 32 processes started at once would load the machine for every other
    /// suite running beside this one.
    @Test(.serialized, arguments: Self.cases)
    func setting(_ testCase: Case) async throws {
        let base = Base()
        var settings = testCase.settings
        var keysDirectory: String?
        if settings["AUTHD_KEYS_DIR"] == "@KEYS@" {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("authd-keys-\(UUID())").path
            try KeyDirectory(path: directory).generate()
            settings["AUTHD_KEYS_DIR"] = directory
            keysDirectory = directory
        }
        for (name, value) in settings where value == "@PREVIOUS@" { settings[name] = base.previous }
        var tls: (TestCertificates, RedisServerProcess)?
        if let url = settings["REDIS_URL"], url.hasPrefix("@TLS_URL") {
            let certificates = try await TestCertificates.make()
            let named = url == "@TLS_URL_NAMED@"
            let server = try RedisServerProcess(
                tls: certificates, leaf: named ? "named" : "server", clientCertificates: !named)
            try await server.start()
            tls = (certificates, server)
            let values = [
                "@TLS_URL@": server.tlsURL(), "@TLS_URL_NAMED@": server.tlsURL(), "@CA@": certificates.ca,
                "@OTHER_CA@": certificates.otherCA, "@CLIENT_CERT@": certificates.clientCertificate,
                "@CLIENT_KEY@": certificates.clientKey,
            ]
            for (name, value) in settings { settings[name] = values[value] ?? value }
        }
        defer { tls?.0.remove() }
        var cluster: RedisClusterProcess?
        if settings["REDIS_CLUSTER_NODES"] == "@CLUSTER@" {
            let started = try RedisClusterProcess()
            try await started.start()
            cluster = started
            settings["REDIS_CLUSTER_NODES"] = started.seeds
        }
        defer { withExtendedLifetime(cluster) {} }
        var environment = base.environment
        var dotEnv: [String: String] = [:]
        if testCase.viaDotEnv { dotEnv = settings } else { environment.merge(settings) { _, new in new } }
        let app = try AuthdProcess.start(
            environment: environment, dotEnv: dotEnv, host: settings["AUTHD_HOST"] ?? "127.0.0.1")
        defer {
            app.stop()
            if let keysDirectory { try? FileManager.default.removeItem(atPath: keysDirectory) }
        }
        if let refusal = testCase.refusal {
            let status = try await app.waitForExit()
            #expect(status != 0)
            #expect(app.log.contains(refusal), "\(app.log)")
            return
        }
        if settings["REDIS_SENTINELS"] != nil || !testCase.ready {
            // No sentinel answers on that port (or Redis refuses the connection): authd starts,
            // says how it reaches Redis, and is not ready. (The failover test runs real sentinels.) The log line comes just before
            // the port is bound, so wait for the port to answer, with the 503 expected.
            try await app.waitForLog("starting authd")
            try await waitUntil(within: .seconds(20), "authd did not answer /readyz") {
                try await app.client.get("/readyz").status == 503
            }
        } else {
            try await app.waitUntilReady()
        }
        try await testCase.check(app, base)
    }

    /// The documented table and the cases above name the same variables.
    @Test func everyDocumentedVariableHasACase() throws {
        let document = try String(
            contentsOf: repositoryRoot.appendingPathComponent("docs/CONFIGURATION.md"), encoding: .utf8)
        let documented = Set(Self.documentedVariables(document))
        #expect(documented.count > 20)
        let tested = Set(Self.cases.map(\.variable))
        #expect(documented.subtracting(tested).isEmpty, "documented without a check")
        #expect(tested.subtracting(documented).isEmpty, "checked but not documented")
    }

    /// The variables authd warns about when they are not among these (a misspelling) are the
    /// documented ones.
    @Test func theSettingsAuthdKnowsAreTheDocumentedOnes() throws {
        let document = try String(
            contentsOf: repositoryRoot.appendingPathComponent("docs/CONFIGURATION.md"), encoding: .utf8)
        #expect(AppConfiguration.variables == Set(Self.documentedVariables(document)))
    }

    /// A misspelled setting and a malformed `.env` line are warned of at start-up, by name.
    @Test func typosAndMalformedLinesAreWarnedOf() async throws {
        let app = try AuthdProcess.start(
            environment: ["REDIS_URL": TestRedis.url],
            dotEnv: [
                "ACCESS_TOKEN_SECRET": RandomID.hexBytes(32), "REFRESH_TOKEN_SECRET": RandomID.hexBytes(32),
                "AUTHD_SINGUP": "false", "not a line": "",
            ])
        defer { app.stop() }
        try await app.waitUntilReady()
        #expect(app.log.contains("AUTHD_SINGUP is no setting of authd's, and is ignored; did you mean AUTHD_SIGNUP?"))
        #expect(app.log.contains("is no variable name, and the line is ignored"), "\(app.log)")
    }

    /// The first column of the document's table: `NAME` or `NAME` / `--flag`.
    static func documentedVariables(_ document: String) -> [String] {
        document.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("| `") else { return nil }
            let name = line.dropFirst(3).prefix { $0 != "`" }
            return name.allSatisfy { $0.isUppercase || $0 == "_" } ? String(name) : nil
        }
    }
}
