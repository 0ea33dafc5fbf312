import AuthCore
import AuthdApp
import Crypto
import Foundation
import JOSE
import RedisClient
import TestSupport
import Testing

/// Attacks from RFC 8725 and the OWASP cheat sheets, against an authd that signs access tokens
/// with Ed25519. Each gets its documented 4xx, and the keyspace is unchanged where it must be.
@Suite("Hostile input")
struct HostileInputTests {
    struct Fixture {
        let app: TestApp
        let clock: TestClock
        let keys: KeyDirectory
        let redis: RedisClient
        let login: TestResponse
        let secrets: TestSecrets

        /// The app's own signing keys, to mint tokens with claims no honest authd would sign.
        func mint(_ edit: (inout TokenClaims) -> Void) async throws -> String {
            let codec = try TokenCodec(
                accessSecret: nil, refreshSecret: self.secrets.refresh, signingKeys: try self.keys.load(),
                settings: self.app.application.configuration.auth.tokenSettings, now: self.clock.now()
            )
            var claims = try JWT.claims(of: self.login["accessToken"]!)
            edit(&claims)
            return try codec.sign(claims)
        }

        /// Every key but the throttling counters, which failed logins are meant to touch, and the
        /// event streams, which record them (written after the answer: EventTests holds them).
        func keyspace() async throws -> Set<String> {
            Set(
                try await self.app.keysWithTTL(self.redis).keys.filter {
                    !$0.contains(":throttle:") && !$0.contains(":events:") && !$0.hasSuffix(":feed")
                })
        }
    }

    private func fixture() async throws -> Fixture {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("authd-keys-\(UUID())").path
        let keys = KeyDirectory(path: directory)
        try keys.generate(.edDSA)
        let clock = TestClock()
        let secrets = TestSecrets()
        let app = try await TestApp.start(secrets: secrets, clock: clock) { $0.keysDirectory = directory }
        let login = try await app.signUpAndLogIn("target")
        return Fixture(
            app: app, clock: clock, keys: keys, redis: try TestRedis.makeClient(), login: login, secrets: secrets
        )
    }

    private func expect401(_ f: Fixture, _ token: String, _ comment: Comment) async throws {
        let response = try await f.app.client.get("/me", bearer: token)
        #expect(response.status == 401, comment)
        #expect(response["error"] == "invalid_token", comment)
    }

    @Test func jwksPublishesTheEd25519KeyAndAccessTokensUseIt() async throws {
        let f = try await self.fixture()
        try await withTeardown({ await f.app.stop() }) {
            let jwks = try await f.app.client.get("/.well-known/jwks.json")
            #expect(jwks.status == 200)
            #expect(jwks.headers["cache-control"] == "public, max-age=300")
            let keys = try #require(jwks.json["keys"] as? [[String: Any]])
            let key = try #require(keys.first)
            #expect(
                key["kty"] as? String == "OKP" && key["crv"] as? String == "Ed25519" && key["alg"] as? String == "EdDSA"
            )
            let header =
                try JSONSerialization.jsonObject(
                    with: Data(base64Encoded: String(f.login["accessToken"]!.split(separator: ".")[0]) + "==")!
                ) as? [String: Any]
            #expect(header?["alg"] as? String == "EdDSA")
            #expect(header?["typ"] as? String == "at+jwt")
            #expect(header?["kid"] as? String == key["kid"] as? String)
            #expect(try await f.app.client.get("/me", bearer: f.login["accessToken"]).status == 200)
        }
    }

    @Test func algNoneHS256WithThePublicKeyAndForgedKids() async throws {
        let f = try await self.fixture()
        try await withTeardown({ await f.app.stop() }) {
            let before = try await f.keyspace()
            let claims = try JWT.claims(of: f.login["accessToken"]!)
            let jwk = try #require(try f.keys.load().first?.jwk)
            let publicRaw = Array(
                Data(
                    base64Encoded: (jwk.x ?? "").replacingOccurrences(of: "-", with: "+").replacingOccurrences(
                        of: "_", with: "/")
                        + "=")!)

            try await self.expect401(f, JWT.unsigned(claims), "alg none")
            for secret in [publicRaw, Array((jwk.x ?? "").utf8)] {
                for header in [
                    #"{"alg":"HS256","typ":"at+jwt"}"#, #"{"alg":"HS256","typ":"at+jwt","kid":"\#(jwk.kid)"}"#,
                ] {
                    try await self.expect401(
                        f, try JWT.forge(header: header, claims: claims, hmacKey: secret), "HS256 + public key")
                }
            }
            let parts = f.login["accessToken"]!.split(separator: ".")
            for kid in ["../../../etc/passwd", "https://attacker.example/jwks.json", "file:///dev/zero", "\(jwk.kid)x"]
            {
                let header = JWT.base64URL(Data(#"{"alg":"EdDSA","typ":"at+jwt","kid":"\#(kid)"}"#.utf8))
                try await self.expect401(f, "\(header).\(parts[1]).\(parts[2])", "forged kid \(kid)")
            }
            #expect(try await f.keyspace() == before)
        }
    }

    @Test func timesIssuerAudienceAndType() async throws {
        let f = try await self.fixture()
        try await withTeardown({ await f.app.stop() }) {
            let now = f.clock.now()
            try await self.expect401(f, try await f.mint { $0.exp = now - 31 }, "expired beyond the leeway")
            try await self.expect401(f, try await f.mint { $0.iat = now + 120 }, "not yet valid")
            try await self.expect401(f, try await f.mint { $0.iss = "https://evil.example" }, "wrong iss")
            // Issue 28, item 7: validly signed, with a lifetime authd never issues (both got 200).
            try await self.expect401(f, try await f.mint { $0.exp = Int.max }, "exp of 2^63−1")
            try await self.expect401(f, try await f.mint { $0.iat = Int.min }, "iat of −2^63")
            try await self.expect401(f, try await f.mint { $0.exp = now + 3_600 }, "an hour's lifetime")
            try await self.expect401(f, try await f.mint { $0.aud = "another-api" }, "wrong aud")
            try await self.expect401(
                f, try await f.mint { $0.tokenUse = .refresh }, "refresh claims in an access token")
            try await self.expect401(f, f.login["refreshToken"]!, "a refresh token used as an access token")
            // Expired 15 s ago, read against the clock of now (not of the test's start): inside the
            // 30 s leeway with room for a loaded machine between minting and checking.
            let current = f.clock.now()
            let withinLeeway = try await f.mint {
                $0.iat = current - 900
                $0.exp = current - 15
            }
            let status = try await f.app.client.get("/me", bearer: withinLeeway).status
            #expect(status == 200, "within the leeway")
            let swapped = try await f.app.client.json("POST", "/token", ["token": f.login["accessToken"]!])
            #expect(swapped.status == 400)
            #expect(swapped["error"] == "invalid_grant")
        }
    }

    @Test func aRotatedOutKeyIsRefusedAfterItsGracePeriod() async throws {
        let f = try await self.fixture()
        try await withTeardown({ await f.app.stop() }) {
            let old = try #require(f.login["accessToken"])
            // Published as long as resource servers cache the JWKS before it may sign.
            try f.keys.generate()
            #expect(throws: KeyDirectoryError.self) { try f.keys.rotate(now: f.clock.now()) }
            // The key file's time is the wall clock's, a little after the test clock started: a
            // minute more covers any stall between the two.
            f.clock.advance(by: KeyDirectory.publicationDelay + 60)
            try f.keys.rotate(now: f.clock.now())
            #expect(throws: KeyDirectoryError.self, "a second rotation at once has no published key") {
                try f.keys.rotate(now: f.clock.now())
            }
            await f.app.application.reloadKeys()
            let fresh = try await f.app.logIn("target")
            #expect(
                try await f.app.client.get("/me", bearer: old).status == 200, "the old key verifies during its grace")
            #expect(try await f.app.client.get("/me", bearer: fresh["accessToken"]).status == 200)
            let jwks = try #require(
                try await f.app.client.get("/.well-known/jwks.json").json["keys"] as? [[String: Any]])
            #expect(jwks.count == 2)

            // Past the reload lag, the access lifetime and the leeway, the old key is dropped:
            // nothing it signed verifies any more (TokenCodecTests also checks a far-future exp
            // signed with it). Just before, it still verifies what an instance that had not
            // reloaded yet signed with it.
            f.clock.advance(by: TokenCodec.Settings.keyReloadLag + 929)
            await f.app.application.reloadKeys()
            #expect((try await f.app.client.get("/.well-known/jwks.json").json["keys"] as? [[String: Any]])?.count == 2)
            f.clock.advance(by: 2)
            await f.app.application.reloadKeys()
            try await self.expect401(f, old, "old key after its grace period")
            #expect((try await f.app.client.get("/.well-known/jwks.json").json["keys"] as? [[String: Any]])?.count == 1)
            let refreshed = try await f.app.client.json("POST", "/token", ["token": fresh["refreshToken"]!])
            #expect(try await f.app.client.get("/me", bearer: refreshed["accessToken"]).status == 200)
        }
    }

    /// Issue 35: a client's own token and a user's differ by `gty` alone, so each is minted into the
    /// other's shape with the real key; client credentials arrive in every broken form. Each gets
    /// its 4xx, never a 5xx, and no client key appears.
    @Test func clientTokensAndCredentialsInHostileShapes() async throws {
        let f = try await self.fixture()
        try await withTeardown({ await f.app.stop() }) {
            let now = f.clock.now()
            // A user's token claiming to be a client's: read against a client "target", which is none.
            try await self.expect401(f, try await f.mint { $0.grantedToClient = true }, "a user's token with gty")
            let secret = try await ClientCredentialsTests.register(f.app.prefix, "svc-hostile", roles: ["svc"])
            let granted = try await ClientCredentialsTests.grant(f.app.client, basic: ("svc-hostile", secret.secret))
            let token = try #require(granted["access_token"])
            let gate = try await f.app.client.get("/forward-auth", bearer: token)
            #expect(gate.status == 200)
            // The client's token without its gty: read against a session of a user "svc-hostile".
            var claims = try JWT.claims(of: token)
            claims.grantedToClient = false
            let codec = try TokenCodec(
                accessSecret: nil, refreshSecret: f.secrets.refresh, signingKeys: try f.keys.load(),
                settings: f.app.application.configuration.auth.tokenSettings, now: now)
            #expect(try await f.app.client.get("/forward-auth", bearer: try codec.sign(claims)).status == 401)
            // A client's token longer-lived than a day, or naming another secret.
            claims.grantedToClient = true
            claims.exp = claims.iat + 86_400 + 3_600
            #expect(try await f.app.client.get("/forward-auth", bearer: try codec.sign(claims)).status == 401)
            claims = try JWT.claims(of: token)
            claims.sid = RandomID.make()
            #expect(try await f.app.client.get("/forward-auth", bearer: try codec.sign(claims)).status == 401)

            let before = try await f.keyspace()
            let form = [("content-type", "application/x-www-form-urlencoded")]
            let body = Array("grant_type=client_credentials".utf8)
            let headers: [(String, [(String, String)], [UInt8])] = [
                (
                    "Basic without a colon",
                    [("authorization", "Basic " + Data("svc-hostile".utf8).base64EncodedString())], body
                ),
                ("Basic not base64", [("authorization", "Basic ***")], body),
                (
                    "Basic not UTF-8", [("authorization", "Basic " + Data([0xFF, 0x3A, 0xFE]).base64EncodedString())],
                    body
                ),
                ("Basic with braces", [("authorization", "Basic " + Data("{x}:y".utf8).base64EncodedString())], body),
                (
                    "Basic with a broken escape",
                    [("authorization", "Basic " + Data("svc-hostile:%zz".utf8).base64EncodedString())], body
                ),
                (
                    "a huge id", [],
                    Array(
                        "grant_type=client_credentials&client_id=\(String(repeating: "a", count: 60_000))&client_secret=x"
                            .utf8)
                ),
                (
                    "an id with braces", [],
                    Array("grant_type=client_credentials&client_id=%7Bsvc%7D&client_secret=x".utf8)
                ),
                ("a secret without an id", [], Array("grant_type=client_credentials&client_secret=x".utf8)),
                ("an id without a secret", [], Array("grant_type=client_credentials&client_id=svc-hostile".utf8)),
                (
                    "the id twice", [],
                    Array("grant_type=client_credentials&client_id=a&client_id=b&client_secret=x".utf8)
                ),
                ("Bearer instead of Basic", [("authorization", "Bearer \(token)")], body),
            ]
            for (name, extra, payload) in headers {
                let answer = try await f.app.client.request("POST", "/token", headers: form + extra, body: payload)
                #expect([400, 401, 413, 429].contains(answer.status), "\(name): \(answer.status) \(answer.text)")
                #expect(answer["error"] != nil, "\(name)")
            }
            #expect(try await f.keyspace() == before, "no key made by a hostile client")
        }
    }

    @Test func nestedDuplicatedAndNonUTF8BodiesAre400() async throws {
        let f = try await self.fixture()
        try await withTeardown({ await f.app.stop() }) {
            let before = try await f.keyspace()
            let bodies: [[UInt8]] = [
                Array((String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)).utf8),
                Array((#"{"username":"#).utf8) + Array(String(repeating: "{\"a\":", count: 40).utf8) + Array("1".utf8)
                    + Array(String(repeating: "}", count: 41).utf8),
                Array(#"{"username":"target","password":"wrong one","password":"correct horse battery"}"#.utf8),
                Array(#"{"username":"tar"#.utf8) + [0xFF, 0xFE] + Array(#"get","password":"x"}"#.utf8),
                Array(#"{"username":"target","password":"\u0000"} trailing"#.utf8),
            ]
            for body in bodies {
                for path in ["/login", "/users", "/token"] {
                    let response = try await f.app.client.request(
                        "POST", path, headers: [("content-type", "application/json")], body: body
                    )
                    #expect(response.status == 400, "\(path): \(response.text)")
                    #expect(response["error"] == "invalid_request")
                }
            }
            #expect(try await f.keyspace() == before)
        }
    }

    @Test func protocolLikeUsernamesTouchNothing() async throws {
        let f = try await self.fixture()
        try await withTeardown({ await f.app.stop() }) {
            let before = try await f.keyspace()
            for name in [
                "*3\r\n$3\r\nDEL\r\n$1\r\n*\r\n", "'; DROP TABLE users; --", "admin\" OR \"1\"=\"1", "{target}",
                "target\r\nFLUSHALL", "%00target", "target\u{0}",
            ] {
                let created = try await f.app.client.json(
                    "POST", "/users", ["username": name, "password": "long enough pw"])
                #expect(created.status == 400)
                let login = try await f.app.client.json(
                    "POST", "/login", ["username": name, "password": "long enough pw"])
                #expect(login.status == 401 || login.status == 429)
            }
            #expect(try await f.keyspace() == before)
            #expect(try await f.app.client.get("/me", bearer: f.login["accessToken"]).status == 200)
        }
    }

    @Test func aHashMadeWithOlderParametersIsUpgradedAtLogin() async throws {
        let prefix = TestRedis.uniquePrefix("upgrade")
        let secrets = TestSecrets()
        let weak = try await TestApp.start(secrets: secrets, prefix: prefix) { $0.argon2.iterations = 1 }
        try await weak.signUpAndLogIn("legacy")
        await weak.stop()
        let redis = try TestRedis.makeClient()
        let key = "\(prefix)user:{legacy}"
        #expect(try await redis.hgetall(key)["password"]?.contains("t=1,") == true)
        let app = try await TestApp.start(secrets: secrets, prefix: prefix)
        try await withTeardown({ await app.stop() }) { () async throws in
            #expect(try await app.logIn("legacy").status == 200)
            #expect(try await redis.hgetall(key)["password"]?.hasPrefix("$argon2id$v=19$m=19456,t=2,p=1$") == true)
            #expect(try await app.logIn("legacy").status == 200)
        }
    }
}

extension JWT {
    static func forge(header: String, claims: TokenClaims, hmacKey: [UInt8]) throws -> String {
        let input = base64URL(Data(header.utf8)) + "." + base64URL(try JSONEncoder().encode(claims))
        let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: hmacKey))
        return input + "." + base64URL(Data(mac))
    }
}
