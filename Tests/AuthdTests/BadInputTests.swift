import AuthCore
import Crypto
import Foundation
import JOSE
import TestSupport
import Testing

@Suite("Bad input gets a documented 4xx with a JSON error, never a 5xx")
struct BadInputTests {
    static let postEndpoints = [("POST", "/users"), ("POST", "/login"), ("POST", "/token"), ("DELETE", "/logout")]

    private func expectError(
        _ response: TestResponse, _ status: Int, _ code: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(response.status == status, "\(response.text)", sourceLocation: sourceLocation)
        #expect(response["error"] == code, "\(response.text)", sourceLocation: sourceLocation)
        #expect(response["error_description"]?.isEmpty == false, sourceLocation: sourceLocation)
        #expect(response.headers["content-type"] == "application/json", sourceLocation: sourceLocation)
    }

    @Test func malformedJSONMissingFieldsAndWrongTypesOnEveryEndpoint() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            let bodies: [String] = [
                "", "not json", "{", "[]", "null", "\"string\"", "{}", #"{"username": 5, "password": "x", "token": 5}"#,
                #"{"username": null, "password": null, "token": null}"#,
                #"{"username": ["a"], "password": {"b": 1}, "token": []}"#,
            ]
            for (method, path) in Self.postEndpoints {
                for body in bodies {
                    let response = try await app.client.request(
                        method, path, headers: [("content-type", "application/json")], body: Array(body.utf8)
                    )
                    self.expectError(response, 400, "invalid_request")
                }
            }
        }
    }

    @Test func invalidUsernamesAndPasswordsAreRefusedWithTheRule() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            let cases: [(String, String)] = [
                ("ab", "long enough password"),
                (String(repeating: "a", count: 65), "long enough password"),
                ("bad name", "long enough password"),
                ("{tag}", "long enough password"),
                ("*3\r\n$3\r\nDEL", "long enough password"),
                ("_leading", "long enough password"),
                ("valid-name", "short"),
                ("valid-name", String(repeating: "p", count: 1025)),
            ]
            for (username, password) in cases {
                let response = try await app.client.json(
                    "POST", "/users", ["username": username, "password": password])
                self.expectError(response, 400, "invalid_request")
            }
            // Login with such input is simply a failed login.
            let login = try await app.client.json(
                "POST", "/login", ["username": "*3\r\n$3\r\nDEL", "password": "whatever123"])
            self.expectError(login, 401, "invalid_grant")
        }
    }

    @Test func aOneMebibyteBodyIs413() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            let big = [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
            for (method, path) in Self.postEndpoints {
                let response = try await app.client.request(method, path, body: big)
                self.expectError(response, 413, "invalid_request")
            }
            // The server is still fine.
            #expect(try await app.client.get("/healthz").status == 200)
        }
    }

    @Test func garbageForgedAndNoneTokensAreRefused() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            let login = try await app.signUpAndLogIn("mallory")
            let access = try #require(login["accessToken"])
            let refresh = try #require(login["refreshToken"])
            let claims = try JWT.claims(of: access)

            var badAccess = [
                "garbage", "a.b.c", String(repeating: "x", count: 5000),
                JWT.unsigned(claims),  // alg: none
                try await JWT.signed(claims, access: RandomID.hexBytes(32)),  // another secret
                refresh,  // the wrong kind
            ]
            badAccess.append(String(access.dropLast(2)) + (access.hasSuffix("AA") ? "BB" : "AA"))
            for token in badAccess {
                let response = try await app.client.get("/me", bearer: token)
                self.expectError(response, 401, "invalid_token")
                #expect(response.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
            }

            let refreshClaims = try JWT.claims(of: refresh)
            let badRefresh = [
                "garbage", JWT.unsigned(refreshClaims),
                try await JWT.signed(refreshClaims, refresh: RandomID.hexBytes(32)),
                access,  // the wrong kind
            ]
            for token in badRefresh {
                self.expectError(try await app.client.json("POST", "/token", ["token": token]), 400, "invalid_grant")
                self.expectError(try await app.client.json("DELETE", "/logout", ["token": token]), 400, "invalid_grant")
            }
            // None of that hurt the real session.
            #expect(try await app.client.get("/me", bearer: access).status == 200)
            #expect(try await app.client.json("POST", "/token", ["token": refresh]).status == 200)
        }
    }

    @Test func anAuthorizationHeaderOfAnotherSchemeOrWithoutToken() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            for value in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "token"] {
                let response = try await app.client.request("GET", "/me", headers: [("authorization", value)])
                #expect(response.status == 401, "\(value)")
                #expect(response.headers["www-authenticate"] != nil)
            }
            let missing = try await app.client.get("/me")
            #expect(missing.status == 401)
            #expect(missing.headers["www-authenticate"] == "Bearer realm=\"authd\"")
        }
    }

    /// The scheme is case-insensitive (RFC 7235 §2.1) and blanks around the token do not matter;
    /// anything glued to the scheme or the token is not a bearer token.
    @Test func theBearerSchemeIsReadWhateverItsCaseAndSpacing() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            let access = try #require(try await app.signUpAndLogIn("iris")["accessToken"])
            for value in ["Bearer \(access)", "bearer \(access)", "BEARER   \(access)  ", "Bearer \t\(access)"] {
                let response = try await app.client.request("GET", "/me", headers: [("authorization", value)])
                #expect(response.status == 200, "\(value.prefix(10))")
            }
            for value in ["Bearer\(access)", "Bearerx \(access)", "Bearer \(access)x", "Bearer \(access) \(access)"] {
                let response = try await app.client.request("GET", "/me", headers: [("authorization", value)])
                #expect(response.status == 401, "\(value.prefix(10))")
            }
        }
    }

    @Test func expiredTokensAreRefusedByTheInjectedClock() async throws {
        let clock = TestClock()
        let app = try await TestApp.start(clock: clock)
        try await withTeardown({ await app.stop() }) {
            let login = try await app.signUpAndLogIn("nina")
            let access = try #require(login["accessToken"])
            #expect(try await app.client.get("/me", bearer: access).status == 200)

            // 900 s of life, and 30 s of leeway for clock skew.
            clock.advance(by: 929)
            #expect(try await app.client.get("/me", bearer: access).status == 200)
            clock.advance(by: 1)
            let expired = try await app.client.get("/me", bearer: access)
            self.expectError(expired, 401, "invalid_token")
            #expect(expired["error_description"] == "access token expired")

            clock.advance(by: 7 * 86_400)
            let refresh = try await app.client.json("POST", "/token", ["token": login["refreshToken"]!])
            self.expectError(refresh, 400, "invalid_grant")
            #expect(refresh["error_description"] == "refresh token expired")
        }
    }

    @Test func unknownRoutesAndMethods() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            self.expectError(try await app.client.get("/nope"), 404, "not_found")
            let wrongMethod = try await app.client.request("GET", "/login")
            self.expectError(wrongMethod, 405, "method_not_allowed")
            #expect(wrongMethod.headers["allow"] == "POST")
        }
    }

    @Test func malformedHTTPAndHugeHeaders() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            let garbage = try await app.client.raw(Array("NOT HTTP AT ALL\r\n\r\n".utf8))
            self.expectError(garbage, 400, "invalid_request")
            let huge = try await app.client.request(
                "GET", "/me", headers: [("x-filler", String(repeating: "a", count: 100_000))])
            self.expectError(huge, 431, "invalid_request")
            #expect(try await app.client.get("/healthz").status == 200)
        }
    }
}

/// Hand-made JWTs for hostile tests.
enum JWT {
    static func claims(of token: String) throws -> TokenClaims {
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { throw TestFailure("not a JWT") }
        return try JSONDecoder().decode(TokenClaims.self, from: try base64URLDecode(String(parts[1])))
    }

    /// `alg: none`, no signature.
    static func unsigned(_ claims: TokenClaims) -> String {
        let header = base64URL(Data(#"{"alg":"none","typ":"\#(claims.tokenUse.typ)"}"#.utf8))
        let payload = base64URL(try! JSONEncoder().encode(claims))
        return "\(header).\(payload)."
    }

    /// Signed properly, but with secrets of the attacker's.
    static func signed(_ claims: TokenClaims, access: String? = nil, refresh: String? = nil) async throws -> String {
        let codec = try TokenCodec(
            accessSecret: access ?? RandomID.hexBytes(32), refreshSecret: refresh ?? RandomID.hexBytes(32),
            now: claims.iat
        )
        return try codec.sign(claims)
    }

    /// The decoded payload (claims JSON) of a token.
    static func payload(of token: String) throws -> [UInt8] {
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { throw TestFailure("not a JWT") }
        return Array(try base64URLDecode(String(parts[1])))
    }

    /// A token over `header` and `payload`, HS256 with `secret`.
    static func hs256(header: String, payload: [UInt8], secret: String) -> String {
        let input = base64URL(Data(header.utf8)) + "." + base64URL(Data(payload))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return input + "." + base64URL(Data(mac))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private static func base64URLDecode(_ text: String) throws -> Data {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64) else { throw TestFailure("bad base64url") }
        return data
    }
}
