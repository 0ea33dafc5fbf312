import AuthCore
import Foundation
import JOSE
import RedisClient
import TestSupport
import Testing

/// DPoP (RFC 9449, issue 33) through two real instances on one Redis: tokens bound to a key work
/// only with a fresh proof of that key, on either instance, and a proof works once.
@Suite("DPoP: sender-constrained tokens")
struct DPoPTests {
    static let base = "https://authd.test"

    static func headers(_ token: String, _ proof: String?) -> [(String, String)] {
        [("authorization", "DPoP \(token)")] + (proof.map { [("dpop", $0)] } ?? [])
    }

    /// Signs up and logs in with a proof of `key`: the bound pair.
    static func logIn(_ app: TestApp, _ user: String, key: ProofKey) async throws -> TestResponse {
        let created = try await app.client.json(
            "POST", "/users", ["username": user, "password": "correct horse battery"])
        #expect(created.status == 201 || created.status == 409)
        return try await app.client.json(
            "POST", "/login", ["username": user, "password": "correct horse battery"],
            headers: [("dpop", key.proof("POST", Self.base + "/login"))])
    }

    @Test func boundTokensWorkOnlyWithAFreshProofOfTheirKeyOnEitherInstance() async throws {
        let pair = try await TestApp.startPair()
        try await withTeardown({ await pair.stop() }) {
            let (a, b) = (pair.a, pair.b)
            let key = ProofKey()
            let thief = ProofKey(.edDSA)
            let login = try await Self.logIn(a, "dora", key: key)
            #expect(login.status == 200, "\(login.text)")
            #expect(login["tokenType"] == "DPoP")
            let access = try #require(login["accessToken"])
            let refresh = try #require(login["refreshToken"])
            #expect(try JWT.claims(of: access).boundKey == key.thumbprint)
            #expect(try JWT.claims(of: refresh).boundKey == key.thumbprint)

            // The owner, on the other instance.
            let me = Self.base + "/me"
            let good = key.proof("GET", me, accessToken: access)
            let owner = try await b.client.request("GET", "/me", headers: Self.headers(access, good))
            #expect(owner.status == 200, "\(owner.text)")
            #expect(owner["username"] == "dora")
            // The same proof again, on the first instance: replayed.
            let replay = try await a.client.request("GET", "/me", headers: Self.headers(access, good))
            #expect(replay.status == 401)
            #expect(replay["error"] == "invalid_dpop_proof")
            #expect(replay.headers["www-authenticate"]?.hasPrefix("DPoP algs=\"ES256 EdDSA RS256\"") == true)

            // The stolen access token: as a bearer token, without a proof, with the thief's key.
            let asBearer = try await a.client.get("/me", bearer: access)
            #expect(asBearer.status == 401)
            #expect(asBearer["error"] == "invalid_token")
            let bare = try await a.client.request("GET", "/me", headers: Self.headers(access, nil))
            #expect(bare.status == 401 && bare["error"] == "invalid_dpop_proof")
            let stolen = try await b.client.request(
                "GET", "/me", headers: Self.headers(access, thief.proof("GET", me, accessToken: access)))
            #expect(stolen.status == 401 && stolen["error"] == "invalid_dpop_proof", "\(stolen.text)")

            // The stolen refresh token: nothing is rotated by the thief's attempts.
            let redis = try TestRedis.makeClient()
            let sid = try JWT.claims(of: refresh).sid
            let sessionKey = "\(pair.prefix)session:{dora}:\(sid)"
            let before = try await redis.send("HGET", [sessionKey, "rt"]).string
            let token = Self.base + "/token"
            for proof in [nil, thief.proof("POST", token), key.proof("POST", Self.base + "/login")] {
                let refused = try await b.client.json(
                    "POST", "/token", ["token": refresh], headers: proof.map { [("dpop", $0)] } ?? [])
                #expect(refused.status == 400, "\(refused.text)")
                #expect(refused["error"] == "invalid_dpop_proof")
            }
            #expect(try await redis.send("HGET", [sessionKey, "rt"]).string == before)
            let refreshed = try await b.client.json(
                "POST", "/token", ["token": refresh], headers: [("dpop", key.proof("POST", token))])
            #expect(refreshed.status == 200, "\(refreshed.text)")
            #expect(refreshed["tokenType"] == "DPoP")
            let next = try #require(refreshed["refreshToken"])
            #expect(try JWT.claims(of: next).boundKey == key.thumbprint)
            #expect(try await redis.send("HGET", [sessionKey, "rt"]).string != before)

            // Logout with the bound refresh token needs the key too.
            let logout = Self.base + "/logout"
            let noProof = try await a.client.json("POST", "/logout", ["token": next])
            #expect(noProof.status == 400 && noProof["error"] == "invalid_dpop_proof")
            let thiefs = try await a.client.json(
                "POST", "/logout", ["token": next], headers: [("dpop", thief.proof("POST", logout))])
            #expect(thiefs.status == 400 && thiefs["error"] == "invalid_dpop_proof")
            #expect(try await redis.send("EXISTS", [sessionKey]).int == 1)
            let out = try await a.client.json(
                "POST", "/logout", ["token": next], headers: [("dpop", key.proof("POST", logout))])
            #expect(out.status == 204, "\(out.text)")
            #expect(try await redis.send("EXISTS", [sessionKey]).int == 0)
        }
    }

    @Test func aBearerClientKeepsBearerTokensAndTheProofsThatNeverCameAreNotAsked() async throws {
        try await withTestApp { app in
            let login = try await app.signUpAndLogIn("bert")
            #expect(login["tokenType"] == "Bearer")
            let access = try #require(login["accessToken"])
            #expect(try JWT.claims(of: access).boundKey == nil)
            #expect(try await app.client.get("/me", bearer: access).status == 200)
            // An unbound token with a proof is refused: the scheme says what the token is.
            let proof = ProofKey().proof("GET", Self.base + "/me", accessToken: access)
            let mixed = try await app.client.request("GET", "/me", headers: Self.headers(access, proof))
            #expect(mixed.status == 401 && mixed["error"] == "invalid_token")
            // No token at all: RFC 6750's challenge, as before DPoP.
            let none = try await app.client.get("/me")
            #expect(none.status == 401)
            #expect(none.headerValues("www-authenticate") == [#"Bearer realm="authd""#])
            // Discovery says which algorithms proofs may use.
            let metadata = try await app.client.get("/.well-known/oauth-authorization-server").json
            #expect(metadata["dpop_signing_alg_values_supported"] as? [String] == ["ES256", "EdDSA", "RS256"])
        }
    }

    /// A session's binding is its login's: a bearer session's refresh traded with a proof gets a
    /// bound access token, and its refresh token stays unbound (no copy of the chain is both).
    @Test func aBearerSessionsRefreshWithAProofBindsTheAccessTokenOnly() async throws {
        try await withTestApp { app in
            let login = try await app.signUpAndLogIn("una")
            let refresh = try #require(login["refreshToken"])
            let key = ProofKey()
            let traded = try await app.client.json(
                "POST", "/token", ["token": refresh], headers: [("dpop", key.proof("POST", Self.base + "/token"))])
            #expect(traded.status == 200, "\(traded.text)")
            #expect(traded["tokenType"] == "DPoP")
            let access = try #require(traded["accessToken"])
            #expect(try JWT.claims(of: access).boundKey == key.thumbprint)
            let next = try #require(traded["refreshToken"])
            #expect(try JWT.claims(of: next).boundKey == nil)
            let me = try await app.client.request(
                "GET", "/me", headers: Self.headers(access, key.proof("GET", Self.base + "/me", accessToken: access)))
            #expect(me.status == 200)
            // Within the grace window, the same trade without a proof gets the same successor, unbound.
            let again = try await app.client.json("POST", "/token", ["token": refresh])
            #expect(again.status == 200 && again["tokenType"] == "Bearer", "\(again.text)")
            #expect(try JWT.claims(of: try #require(again["refreshToken"])).jti == JWT.claims(of: next).jti)
        }
    }

    @Test func fiftyConcurrentReplaysOfOneProofOverTwoInstancesGiveOneSuccess() async throws {
        let pair = try await TestApp.startPair()
        try await withTeardown({ await pair.stop() }) {
            let key = ProofKey()
            let login = try await Self.logIn(pair.a, "rita", key: key)
            let access = try #require(login["accessToken"])
            for round in 0..<3 {
                let proof = key.proof("GET", Self.base + "/me", accessToken: access)
                let statuses = try await inParallel(50) { index in
                    let app = index % 2 == 0 ? pair.a : pair.b
                    return try await app.client.request("GET", "/me", headers: Self.headers(access, proof)).status
                }
                #expect(statuses.filter { $0 == 200 }.count == 1, "round \(round): \(statuses)")
                #expect(statuses.filter { $0 == 401 }.count == 49, "round \(round): \(statuses)")
            }
            // One proof of a refresh, fifty times at once: one pair.
            let refresh = try #require(login["refreshToken"])
            let proof = key.proof("POST", Self.base + "/token")
            let statuses = try await inParallel(50) { index in
                let app = index % 2 == 0 ? pair.a : pair.b
                return try await app.client.json("POST", "/token", ["token": refresh], headers: [("dpop", proof)])
                    .status
            }
            #expect(statuses.filter { $0 == 200 }.count == 1, "\(statuses)")
            #expect(statuses.filter { $0 == 400 }.count == 49, "\(statuses)")
        }
    }

    /// The replay cache under load, counted in thousands: 8 clients at once, each with its own user
    /// and key (ES256 and Ed25519 alternating), each sending every one of its 250 proofs to both
    /// instances at the same moment. Each of the 2,000 proofs is accepted exactly once.
    @Test func thousandsOfProofsRacedOverTwoInstancesAreEachAcceptedOnce() async throws {
        let pair = try await TestApp.startPair()
        try await withTeardown({ await pair.stop() }) {
            let (clients, rounds) = (8, 250)
            let tallies = try await inParallel(clients) { client in
                let key = ProofKey(client % 2 == 0 ? .es256 : .edDSA)
                let login = try await Self.logIn(pair.a, "soak\(client)", key: key)
                guard let access = login["accessToken"] else { throw TestFailure("login: \(login.text)") }
                var (accepted, refused, unexpected) = (0, 0, [Int]())
                for _ in 0..<rounds {
                    let proof = key.proof("GET", Self.base + "/me", accessToken: access)
                    async let first = pair.a.client.request("GET", "/me", headers: Self.headers(access, proof))
                    async let second = pair.b.client.request("GET", "/me", headers: Self.headers(access, proof))
                    let statuses = [try await first.status, try await second.status]
                    if statuses.sorted() == [200, 401] {
                        accepted += 1
                        refused += 1
                    } else {
                        unexpected.append(contentsOf: statuses)
                    }
                }
                return (accepted: accepted, refused: refused, unexpected: unexpected)
            }
            #expect(tallies.map(\.accepted).reduce(0, +) == clients * rounds)
            #expect(tallies.map(\.refused).reduce(0, +) == clients * rounds)
            let unexpected = tallies.flatMap(\.unexpected)
            #expect(
                unexpected.count == 0, "rounds not one 200 and one 401: the first statuses \(unexpected.prefix(10))")
        }
    }

    /// Each hostile proof, at a token request (400) and at a protected route (401): the right
    /// error, never a 5xx, and nothing issued.
    @Test func malformedProofsAreRefusedWithTheirError() async throws {
        try await withTestApp { app in
            let key = ProofKey()
            let login = try await Self.logIn(app, "mona", key: key)
            let access = try #require(login["accessToken"])
            let now = Int(Date().timeIntervalSince1970)
            let me = Self.base + "/me"
            func claims(_ htm: String = "GET", _ htu: String = me, iat: Int = now, ath: String? = nil) -> String {
                let hash = ath ?? DPoPVerifier.accessTokenHash(access)
                return #"{"jti":"\#(RandomID.make())","htm":"\#(htm)","htu":"\#(htu)","iat":\#(iat),"ath":"\#(hash)"}"#
            }
            let privateJWK = String(key.jwkJSON.dropLast()) + #","d":"\#(key.privateMember)"}"#
            let header = Base64URL.encode(Array(key.header().utf8))
            let cases: [(String, String)] = [
                ("wrong typ", key.signed(header: key.header(typ: "jwt"), claims: claims())),
                (
                    "alg none",
                    Base64URL.encode(Array(key.header(alg: "none").utf8)) + "." + Base64URL.encode(Array(claims().utf8))
                        + "."
                ),
                ("symmetric alg", key.signed(header: key.header(alg: "HS256"), claims: claims())),
                ("alg of another key type", key.signed(header: key.header(alg: "EdDSA"), claims: claims())),
                ("a private key in jwk", key.signed(header: key.header(jwk: privateJWK), claims: claims())),
                ("no jwk", key.signed(header: #"{"typ":"dpop+jwt","alg":"ES256"}"#, claims: claims())),
                ("htu with a query", key.signed(header: key.header(), claims: claims("GET", me + "?x=1"))),
                (
                    "htu on another port",
                    key.signed(header: key.header(), claims: claims("GET", "https://authd.test:8443/me"))
                ),
                (
                    "htu of another path",
                    key.signed(header: key.header(), claims: claims("GET", Self.base + "/sessions"))
                ),
                ("wrong htm", key.signed(header: key.header(), claims: claims("POST"))),
                ("iat far in the past", key.signed(header: key.header(), claims: claims(iat: now - 600))),
                ("iat in the future", key.signed(header: key.header(), claims: claims(iat: now + 600))),
                ("iat of Int.min", key.signed(header: key.header(), claims: claims(iat: Int.min))),
                ("iat of Int.max", key.signed(header: key.header(), claims: claims(iat: Int.max))),
                (
                    "wrong ath",
                    key.signed(header: key.header(), claims: claims(ath: DPoPVerifier.accessTokenHash("other")))
                ),
                (
                    "no ath",
                    key.signed(
                        header: key.header(),
                        claims: #"{"jti":"\#(RandomID.make())","htm":"GET","htu":"\#(me)","iat":\#(now)}"#)
                ),
                (
                    "duplicate header member",
                    key.signed(
                        header: #"{"typ":"dpop+jwt","typ":"dpop+jwt","alg":"ES256","jwk":\#(key.jwkJSON)}"#,
                        claims: claims())
                ),
                (
                    "duplicate jwk member",
                    key.signed(header: key.header(jwk: #"{"kty":"EC","kty":"EC","crv":"P-256"}"#), claims: claims())
                ),
                (
                    "duplicate claim",
                    key.signed(header: key.header(), claims: String(claims().dropLast()) + #","htm":"GET"}"#)
                ),
                (
                    "a huge header",
                    key.signed(
                        header: String(key.header().dropLast()) + #","x":"\#(String(repeating: "a", count: 3500))"}"#,
                        claims: claims())
                ),
                (
                    "signed by another key",
                    header + "."
                        + ProofKey().signed(header: key.header(), claims: claims()).split(separator: ".").dropFirst()
                        .joined(separator: ".")
                ),
                ("not a JWS", "not-a-proof"),
                ("empty", ""),
            ]
            for (name, proof) in cases {
                let answer = try await app.client.request("GET", "/me", headers: Self.headers(access, proof))
                #expect(answer.status == 401, "\(name): \(answer.status) \(answer.text)")
                #expect(answer["error"] == "invalid_dpop_proof", "\(name): \(answer.text)")
            }
            // At a token request, the same faults are 400s, and nothing is issued.
            for (name, proof) in cases.prefix(6) {
                let answer = try await app.client.json(
                    "POST", "/login", ["username": "mona", "password": "correct horse battery"],
                    headers: [("dpop", proof)])
                #expect(answer.status == 400, "\(name): \(answer.status) \(answer.text)")
                #expect(answer["error"] == "invalid_dpop_proof", "\(name)")
                #expect(answer["accessToken"] == nil)
            }
            let two = try await app.client.request(
                "GET", "/me",
                headers: Self.headers(access, key.proof("GET", me, accessToken: access)) + [
                    ("dpop", key.proof("GET", me, accessToken: access))
                ])
            #expect(two.status == 401 && two["error"] == "invalid_dpop_proof")
            // The owner's own proof still works after all that.
            let good = try await app.client.request(
                "GET", "/me", headers: Self.headers(access, key.proof("GET", me, accessToken: access)))
            #expect(good.status == 200, "\(good.text)")
        }
    }

    @Test func requiredModeRefusesBearerTokensAndOffModeIgnoresProofs() async throws {
        let secrets = TestSecrets()
        let prefix = TestRedis.uniquePrefix("dpop")
        let optional = try await TestApp.start(secrets: secrets, prefix: prefix)
        let required = try await TestApp.start(secrets: secrets, prefix: prefix) { $0.dpopMode = .required }
        let off = try await TestApp.start(secrets: secrets, prefix: prefix) { $0.dpopMode = .off }
        try await withTeardown({
            await optional.stop()
            await required.stop()
            await off.stop()
        }) {
            let bearer = try #require(try await optional.signUpAndLogIn("reed")["accessToken"])
            let noProof = try await required.logIn("reed")
            #expect(noProof.status == 400 && noProof["error"] == "invalid_dpop_proof", "\(noProof.text)")
            let refused = try await required.client.get("/me", bearer: bearer)
            #expect(refused.status == 401 && refused["error"] == "invalid_token")
            #expect(refused.headers["www-authenticate"]?.hasPrefix("DPoP ") == true)
            let none = try await required.client.get("/me")
            #expect(none.status == 401)
            #expect(none.headerValues("www-authenticate") == [#"DPoP algs="ES256 EdDSA RS256""#])
            let key = ProofKey(.edDSA)
            let bound = try await Self.logIn(required, "reed", key: key)
            #expect(bound.status == 200 && bound["tokenType"] == "DPoP", "\(bound.text)")
            let access = try #require(bound["accessToken"])
            let me = try await required.client.request(
                "GET", "/me", headers: Self.headers(access, key.proof("GET", Self.base + "/me", accessToken: access)))
            #expect(me.status == 200)

            // Off: a proof is ignored, and the tokens are bearer tokens.
            let plain = try await Self.logIn(off, "reed", key: key)
            #expect(plain.status == 200 && plain["tokenType"] == "Bearer")
            #expect(try JWT.claims(of: try #require(plain["accessToken"])).boundKey == nil)
            let metadata = try await off.client.get("/.well-known/oauth-authorization-server").json
            #expect(metadata["dpop_signing_alg_values_supported"] == nil)
        }
    }

    @Test func serverNoncesAreValidOnEveryInstance() async throws {
        let pair = try await TestApp.startPair { $0.dpopNonces = true }
        try await withTeardown({ await pair.stop() }) {
            let key = ProofKey()
            _ = try await pair.a.client.json(
                "POST", "/users", ["username": "nina", "password": "correct horse battery"])
            let body: [String: any Sendable] = ["username": "nina", "password": "correct horse battery"]
            let login = Self.base + "/login"
            let first = try await pair.a.client.json(
                "POST", "/login", body, headers: [("dpop", key.proof("POST", login))])
            #expect(first.status == 400 && first["error"] == "use_dpop_nonce", "\(first.text)")
            let nonce = try #require(first.headers["dpop-nonce"])
            let wrong = try await pair.b.client.json(
                "POST", "/login", body, headers: [("dpop", key.proof("POST", login, nonce: nonce + "x"))])
            #expect(wrong.status == 400 && wrong["error"] == "use_dpop_nonce")
            // The nonce of one instance, on the other.
            let second = try await pair.b.client.json(
                "POST", "/login", body, headers: [("dpop", key.proof("POST", login, nonce: nonce))])
            #expect(second.status == 200, "\(second.text)")
            #expect(second.headers["dpop-nonce"] != nil)
            let access = try #require(second["accessToken"])
            let me = Self.base + "/me"
            let without = try await pair.a.client.request(
                "GET", "/me", headers: Self.headers(access, key.proof("GET", me, accessToken: access)))
            #expect(without.status == 401 && without["error"] == "use_dpop_nonce")
            #expect(without.headers["www-authenticate"]?.contains("use_dpop_nonce") == true)
            let with = try await pair.a.client.request(
                "GET", "/me", headers: Self.headers(access, key.proof("GET", me, accessToken: access, nonce: nonce)))
            #expect(with.status == 200, "\(with.text)")
        }
    }

    @Test func introspectionAndForwardAuthKnowTheBinding() async throws {
        try await withTestApp(configure: { $0.introspectionClients = ["rs": "rs-secret-0123456789abcdef"] }) { app in
            let key = ProofKey()
            let login = try await Self.logIn(app, "ivan", key: key)
            let access = try #require(login["accessToken"])
            let basic = Data("rs:rs-secret-0123456789abcdef".utf8).base64EncodedString()
            let introspected = try await app.client.request(
                "POST", "/introspect",
                headers: [
                    ("authorization", "Basic \(basic)"), ("content-type", "application/x-www-form-urlencoded"),
                ], body: Array("token=\(access)".utf8))
            #expect(introspected.status == 200, "\(introspected.text)")
            #expect((introspected.json["cnf"] as? [String: String])?["jkt"] == key.thumbprint)
            #expect(introspected["token_type"] == "DPoP")

            // Through a gateway: the proof is for the client's request to the gateway.
            let gateway = [
                ("x-forwarded-method", "POST"), ("x-forwarded-uri", "/app/orders?page=2"),
                ("x-forwarded-proto", "https"), ("x-forwarded-host", "shop.example"),
            ]
            let proof = key.proof("POST", "https://shop.example/app/orders", accessToken: access)
            let allowed = try await app.client.request(
                "GET", "/forward-auth", headers: Self.headers(access, proof) + gateway)
            #expect(allowed.status == 200, "\(allowed.text)")
            #expect(allowed.headers["x-auth-request-user"] == "ivan")
            let elsewhere = try await app.client.request(
                "GET", "/forward-auth",
                headers: Self.headers(access, key.proof("POST", Self.base + "/forward-auth", accessToken: access))
                    + gateway)
            #expect(elsewhere.status == 401 && elsewhere["error"] == "invalid_dpop_proof")
        }
    }
}
