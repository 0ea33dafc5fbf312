import AuthCore
import AuthdApp
import Crypto
import Foundation
import JOSE
import TestSupport
import Testing

/// The revocation feed (`POST /sets/poll`, docs/EVENTS.md): CAEP Security Event Tokens delivered
/// by RFC 8936 poll, on two instances of one deployment. scripts/feed runs the example resource
/// server on it.
@Suite("The revocation feed")
struct FeedTests {
    struct Fixture {
        let pair: TestPair
        let keys: String
        /// Registered clients' secrets, by id.
        let secrets: [String: String]

        func poll(
            _ client: String, on app: TestApp? = nil, secret: String? = nil, _ body: [String: any Sendable] = [:]
        ) async throws -> TestResponse {
            let credentials = "\(client):\(secret ?? self.secrets[client] ?? "")"
            return try await (app ?? self.pair.a).client.json(
                "POST", "/sets/poll", body,
                headers: [("authorization", "Basic \(Data(credentials.utf8).base64EncodedString())")])
        }

        /// The SETs of a poll that must succeed, by jti.
        func sets(_ client: String, on app: TestApp? = nil, _ body: [String: any Sendable] = [:]) async throws
            -> [String: String]
        {
            var body = body
            if body["returnImmediately"] == nil { body["returnImmediately"] = true }
            let response = try await self.poll(client, on: app, body)
            #expect(response.status == 200, "\(response.text)")
            return try #require(response.json["sets"] as? [String: String], "\(response.text)")
        }
    }

    static func withFixture(_ body: (Fixture) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("authd-keys-\(UUID())").path
        try KeyDirectory(path: directory).generate(.edDSA)
        let pair = try await TestApp.startPair { $0.keysDirectory = directory }
        try await withTeardown({
            await pair.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }) {
            var secrets: [String: String] = [:]
            try await Operator.with(environment: TestRedis.operatorEnvironment(prefix: pair.prefix)) { tool in
                for id in ["orders", "billing"] {
                    secrets[id] = try await tool.addClient(.init(id: id, permissions: [.introspect])).secret.secret
                }
                secrets["minter"] = try await tool.addClient(.init(id: "minter", permissions: [.token])).secret.secret
            }
            try await body(Fixture(pair: pair, keys: directory, secrets: secrets))
        }
    }

    /// A SET's header and claims, after checking its signature with the JWKS's Ed25519 key.
    static func verified(_ set: String, _ app: TestApp) async throws -> (header: [String: Any], claims: [String: Any]) {
        let parts = set.split(separator: ".").map(String.init)
        try #require(parts.count == 3)
        let jwks = try #require(try await app.client.get("/.well-known/jwks.json").json["keys"] as? [[String: Any]])
        let x = try #require(jwks.first?["x"] as? String)
        let key = try Curve25519.Signing.PublicKey(rawRepresentation: try #require(Base64URL.decode(Array(x.utf8))))
        let signature = try #require(Base64URL.decode(Array(parts[2].utf8)))
        #expect(key.isValidSignature(signature, for: Array("\(parts[0]).\(parts[1])".utf8)), "signed by the JWKS's key")
        func object(_ part: String) throws -> [String: Any] {
            let bytes = try #require(Base64URL.decode(Array(part.utf8)))
            return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        }
        return (try object(parts[0]), try object(parts[1]))
    }

    static let sessionRevoked = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
    static let credentialChange = "https://schemas.openid.net/secevent/caep/event-type/credential-change"

    /// A logout on one instance is a SET on the other: signed with the JWKS's key, typed
    /// `secevent+jwt`, for the receiver, naming the user and the session. It comes again until it
    /// is acknowledged; then it does not. A receiver that polls for the first time gets what the
    /// feed holds.
    @Test func aLogoutIsASignedSetForEachReceiverUntilAcknowledged() async throws {
        try await Self.withFixture { f in
            let login = try await f.pair.a.signUpAndLogIn("fay")
            let sid = try #require(try await f.pair.a.client.get("/me", bearer: login["accessToken"])["sessionId"])
            #expect(
                try await f.pair.a.client.json("DELETE", "/logout", ["token": login["refreshToken"]!]).status == 204)

            let sets = try await f.sets("orders", on: f.pair.b)
            #expect(sets.count == 1)
            let (jti, set) = try #require(sets.first)
            let (header, claims) = try await Self.verified(set, f.pair.a)
            #expect(header["typ"] as? String == "secevent+jwt")
            #expect(claims["aud"] as? String == "orders")
            #expect(claims["iss"] as? String == "https://authd.test")
            #expect(claims["jti"] as? String == jti)
            let subject = try #require(claims["sub_id"] as? [String: Any])
            #expect(subject["format"] as? String == "complex")
            #expect((subject["user"] as? [String: Any])?["sub"] as? String == "fay")
            #expect((subject["session"] as? [String: Any])?["id"] as? String == sid)
            let event = try #require((claims["events"] as? [String: Any])?[Self.sessionRevoked] as? [String: Any])
            #expect(event["initiating_entity"] as? String == "user")
            #expect((event["event_timestamp"] as? Int ?? 0) > 1_700_000_000)

            // Not acknowledged: it comes again, on either instance; acknowledged: gone.
            #expect(try await f.sets("orders", on: f.pair.a).keys.sorted() == [jti])
            #expect(try await f.sets("orders", ["ack": [jti]]).isEmpty)
            #expect(try await f.sets("orders", on: f.pair.b).isEmpty)
            // Acknowledging again changes nothing.
            #expect(try await f.sets("orders", ["ack": [jti]]).isEmpty)
            // Another receiver has its own place, and its own jti for the same notice.
            let theirs = try await f.sets("billing")
            #expect(theirs.count == 1)
            #expect(theirs.keys.first != jti)
        }
    }

    /// Each kind of revocation, as offline verifiers need it: logout of the other sessions (the
    /// user's sessions, but the one kept), every session, and a password change (a
    /// `credential-change` besides).
    @Test func everyScopeAndAPasswordChangeReachTheFeed() async throws {
        try await Self.withFixture { f in
            let app = f.pair.a
            let first = try await app.signUpAndLogIn("gus")
            let kept = try #require(try await app.client.get("/me", bearer: first["accessToken"])["sessionId"])
            _ = try await app.logIn("gus")
            #expect(
                try await app.client.json("POST", "/logout", ["token": first["refreshToken"]!, "scope": "others"])
                    .status == 204)
            #expect(
                try await app.client.json(
                    "POST", "/password",
                    ["oldPassword": "correct horse battery", "newPassword": "a new long password"],
                    headers: [("authorization", "Bearer \(first["accessToken"]!)")]
                ).status == 204)
            var events: [[String: Any]] = []
            for set in try await f.sets("orders").values { events.append(try await Self.verified(set, app).claims) }
            events.sort { ($0["jti"] as? String ?? "") < ($1["jti"] as? String ?? "") }
            #expect(events.count == 3)
            let others = try #require(events.first?["events"] as? [String: Any])
            #expect((others[Self.sessionRevoked] as? [String: Any])?["authd_kept_session"] as? String == kept)
            #expect((events.first?["sub_id"] as? [String: Any])?["format"] as? String == "iss_sub", "every session")
            let kinds = events.compactMap { ($0["events"] as? [String: Any])?.keys.first }
            #expect(Set(kinds) == [Self.sessionRevoked, Self.credentialChange])
            let changes = events.compactMap { event -> [String: Any]? in
                (event["events"] as? [String: Any])?[Self.credentialChange] as? [String: Any]
            }
            let change = try #require(changes.first)
            #expect(change["credential_type"] as? String == "password")
            #expect(change["change_type"] as? String == "update")
        }
    }

    /// A long poll (no `returnImmediately`) waits for a revocation made on the other instance and
    /// returns it: the poll's answer is the event, not a timer.
    @Test func aLongPollReturnsWithTheRevocationMadeElsewhere() async throws {
        try await Self.withFixture { f in
            let login = try await f.pair.a.signUpAndLogIn("hal")
            #expect(try await f.sets("orders").isEmpty)
            // Up to AUTHD's 5 s wait: the logout below comes well within it, but a loaded machine
            // may be slow, so an empty answer is polled again (never more than a few times).
            async let waited: [String: String] = {
                for _ in 0..<6 {
                    let sets = try await f.sets("orders", on: f.pair.b, ["returnImmediately": false])
                    if !sets.isEmpty { return sets }
                }
                return [:]
            }()
            try await Task.sleep(for: .milliseconds(200))
            #expect(
                try await f.pair.a.client.json("DELETE", "/logout", ["token": login["refreshToken"]!]).status == 204)
            #expect(try await waited.count == 1)
        }
    }

    /// What the feed refuses, each with the standard error: no credentials or a wrong secret
    /// (401), a client that may not introspect (403), another client's jti (400, and nothing is
    /// acknowledged), malformed fields and bounds (400).
    @Test func theFeedRefusesStrangersForeignAcknowledgementsAndBadPolls() async throws {
        try await Self.withFixture { f in
            let login = try await f.pair.a.signUpAndLogIn("ida")
            #expect(
                try await f.pair.a.client.json("DELETE", "/logout", ["token": login["refreshToken"]!]).status == 204)
            let mine = try #require(try await f.sets("orders").keys.first)

            let anonymous = try await f.pair.a.client.json("POST", "/sets/poll", [:])
            #expect(anonymous.status == 401)
            #expect(anonymous["error"] == "invalid_client")
            #expect(anonymous.headers["www-authenticate"]?.hasPrefix("Basic") == true)
            #expect(try await f.poll("orders", secret: "wrong-secret-wrong-secret-wrong-secret").status == 401)
            let minter = try await f.poll("minter")
            #expect(minter.status == 403)
            #expect(minter["error"] == "unauthorized_client")

            let foreign = try await f.poll("billing", ["ack": [mine]])
            #expect(foreign.status == 400)
            #expect(foreign["error"] == "invalid_request")
            #expect(try await f.sets("orders").keys.sorted() == [mine], "still pending for its receiver")
            #expect(try await f.sets("billing").count == 1, "the foreign poll acknowledged nothing of billing's")

            let id = String(mine.prefix { $0 != "." })
            let bad: [[String: any Sendable]] = [
                ["ack": [id]], ["ack": [id + ".AAAAAAAAAAAAAAAAAAAAAA"]], ["ack": ["x." + mine]],
                ["ack": [String(repeating: "9", count: 200)]], ["ack": "\(mine)"], ["ack": [1, 2]],
                ["ack": Array(repeating: mine, count: 1001)], ["maxEvents": 1001], ["maxEvents": -1],
                ["maxEvents": "10"], ["maxEvents": 1e30], ["returnImmediately": "yes"],
            ]
            for body in bad {
                let response = try await f.poll("orders", body)
                #expect(response.status == 400, "\(body.keys.sorted()): \(response.text)")
                #expect(response["error"] == "invalid_request", "\(response.text)")
            }
            let notJSON = try await f.pair.a.client.request(
                "POST", "/sets/poll",
                headers: [
                    ("authorization", "Basic \(Data("orders:\(f.secrets["orders"]!)".utf8).base64EncodedString())"),
                    ("content-type", "application/json"),
                ], body: Array("{\"ack\":".utf8))
            #expect(notJSON.status == 400)
            #expect(try await f.sets("orders").keys.sorted() == [mine], "no bad poll acknowledged anything")
        }
    }

    /// Without signing keys (HS256) there is no feed: no resource server could verify it.
    @Test func withoutSigningKeysThereIsNoFeed() async throws {
        try await withTestApp { app in
            let secret = try await Operator.with(environment: TestRedis.operatorEnvironment(prefix: app.prefix)) {
                try await $0.addClient(.init(id: "orders", permissions: [.introspect])).secret.secret
            }
            let response = try await app.client.json(
                "POST", "/sets/poll", ["returnImmediately": true],
                headers: [("authorization", "Basic \(Data("orders:\(secret)".utf8).base64EncodedString())")])
            #expect(response.status == 404)
            #expect(response["error"] == "not_found")
        }
    }
}
