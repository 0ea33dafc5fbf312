import AuthHTTP
import Foundation
import TestSupport
import Testing

@Suite("OAuth: RFC 6749 token endpoint, RFC 7009 revocation, RFC 7662 introspection")
struct OAuthTests {
    static let clientSecret = "resource-server-secret-0123456789"

    private func form(_ fields: [String: String]) -> [UInt8] {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return Array(
            fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }
                .joined(separator: "&").utf8
        )
    }

    private func post(
        _ app: TestApp, _ path: String, _ fields: [String: String], basic: String? = nil, from ip: String? = nil
    ) async throws -> TestResponse {
        var headers = [("content-type", "application/x-www-form-urlencoded")]
        if let ip { headers.append(("x-forwarded-for", ip)) }
        if let basic { headers.append(("authorization", "Basic \(Data(basic.utf8).base64EncodedString())")) }
        return try await app.client.request("POST", path, headers: headers, body: self.form(fields))
    }

    private func start() async throws -> TestApp {
        try await TestApp.start { $0.introspectionClients = ["rs": Self.clientSecret] }
    }

    @Test func passwordAndRefreshTokenGrants() async throws {
        let app = try await self.start()
        try await withTeardown({ await app.stop() }) {
            try await app.signUpAndLogIn("zack")
            let login = try await self.post(
                app, "/token", ["grant_type": "password", "username": "zack", "password": "correct horse battery"])
            #expect(login.status == 200)
            #expect(login["token_type"] == "Bearer")
            #expect(login.json["expires_in"] as? Int == 900)
            #expect(login.headers["cache-control"] == "no-store")
            let refresh = try #require(login["refresh_token"])

            let refreshed = try await self.post(
                app, "/token", ["grant_type": "refresh_token", "refresh_token": refresh])
            #expect(refreshed.status == 200)
            #expect(try await app.client.get("/me", bearer: refreshed["access_token"]).status == 200)

            let badPassword = try await self.post(
                app, "/token", ["grant_type": "password", "username": "zack", "password": "nope nope"])
            #expect(badPassword.status == 400)
            #expect(badPassword["error"] == "invalid_grant")
            let unsupported = try await self.post(
                app, "/token", ["grant_type": "urn:ietf:params:oauth:grant-type:device_code"])
            #expect(unsupported.status == 400)
            #expect(unsupported["error"] == "unsupported_grant_type")
            let missing = try await self.post(app, "/token", ["refresh_token": refresh])
            #expect(missing["error"] == "invalid_request")
            let twice = try await app.client.request(
                "POST", "/token", headers: [("content-type", "application/x-www-form-urlencoded")],
                body: Array("grant_type=refresh_token&grant_type=password".utf8)
            )
            #expect(twice.status == 400)
            #expect(twice["error"] == "invalid_request")
        }
    }

    @Test func revokingARefreshTokenEndsItsSessionAndUnknownTokensStill200() async throws {
        let app = try await self.start()
        try await withTeardown({ await app.stop() }) {
            let login = try await app.signUpAndLogIn("amy")
            #expect(try await self.post(app, "/revoke", ["token": "not-a-token"]).status == 200)
            #expect(try await self.post(app, "/revoke", ["token": "x.y.z", "token_type_hint": "bogus"]).status == 200)
            #expect(try await self.post(app, "/revoke", [:]).status == 400)

            let revoked = try await self.post(
                app, "/revoke", ["token": login["refreshToken"]!, "token_type_hint": "refresh_token"])
            #expect(revoked.status == 200)
            #expect(try await app.client.get("/me", bearer: login["accessToken"]).status == 401)
            #expect(try await app.client.json("POST", "/token", ["token": login["refreshToken"]!]).status == 400)
        }
    }

    @Test func revokingAnAccessTokenDeniesOnlyThatToken() async throws {
        let app = try await self.start()
        try await withTeardown({ await app.stop() }) {
            let login = try await app.signUpAndLogIn("ben")
            let access = try #require(login["accessToken"])
            #expect(try await self.post(app, "/revoke", ["token": access]).status == 200)
            let denied = try await app.client.get("/me", bearer: access)
            #expect(denied.status == 401)
            #expect(denied["error_description"] == "access token revoked")
            // The session lives on: a refresh gives a working access token.
            let refreshed = try await app.client.json("POST", "/token", ["token": login["refreshToken"]!])
            #expect(try await app.client.get("/me", bearer: refreshed["accessToken"]).status == 200)
        }
    }

    /// Issue 28, item 5: wrong client secrets are throttled per address (300 in a row all got 401
    /// before): 20 failures, then 429 from that address, the right secret included; another
    /// address, the resource server's, is not locked out.
    @Test func wrongClientSecretsAreThrottledPerAddress() async throws {
        let app = try await TestApp.start {
            $0.introspectionClients = ["rs": Self.clientSecret]
            $0.http.trustedProxies = TrustedProxies(list: "127.0.0.1")!
        }
        try await withTeardown({ await app.stop() }) {
            let access = try #require(try await app.signUpAndLogIn("introspected")["accessToken"])
            var statuses: [Int] = []
            for attempt in 0..<25 {
                statuses.append(
                    try await self.post(
                        app, "/introspect", ["token": access], basic: "rs:guess-\(attempt)-0123456789abcdef",
                        from: "203.0.113.50"
                    ).status)
            }
            #expect(statuses.prefix(20).allSatisfy { $0 == 401 }, "\(statuses)")
            #expect(statuses.dropFirst(20).allSatisfy { $0 == 429 }, "\(statuses)")
            let right = "rs:\(Self.clientSecret)"
            #expect(
                try await self.post(app, "/introspect", ["token": access], basic: right, from: "203.0.113.50").status
                    == 429)
            let server = try await self.post(app, "/introspect", ["token": access], basic: right, from: "198.51.100.9")
            #expect(server.status == 200 && server.json["active"] as? Bool == true)
        }
    }

    @Test func introspectionShapesAndCallerAuthentication() async throws {
        let app = try await self.start()
        try await withTeardown({ await app.stop() }) {
            let login = try await app.signUpAndLogIn("cleo")
            let access = try #require(login["accessToken"])
            let basic = "rs:\(Self.clientSecret)"

            for credentials in [nil, "rs:wrong-secret-000000000", "other:\(Self.clientSecret)"] {
                let refused = try await self.post(app, "/introspect", ["token": access], basic: credentials)
                #expect(refused.status == 401)
                #expect(refused["error"] == "invalid_client")
                #expect(refused.headers["www-authenticate"]?.hasPrefix("Basic") == true)
            }

            let active = try await self.post(app, "/introspect", ["token": access], basic: basic)
            #expect(active.status == 200)
            #expect(active.json["active"] as? Bool == true)
            #expect(active["sub"] == "cleo")
            #expect(active["username"] == "cleo")
            // RFC 7662 §2.2 means the RFC 6749 token type; the audience and client let a resource
            // server check what the token is for; what a token is worth now is not cached.
            #expect(active["token_type"] == "Bearer")
            #expect(
                active["aud"] == "authd" && active["client_id"] == "authd-public" && active["token_use"] == "access")
            #expect(active.headers["cache-control"] == "no-store")
            #expect(
                active["sid"] != nil && active["jti"] != nil && active.json["exp"] is Int && active.json["iat"] is Int)

            // A live refresh token is no access token: a stock validator that checks `active` must
            // never accept one, so it introspects as inactive, with or without the hint.
            for hint in ["refresh_token", "access_token", nil] {
                var parameters = ["token": login["refreshToken"]!]
                if let hint { parameters["token_type_hint"] = hint }
                let refresh = try await self.post(app, "/introspect", parameters, basic: basic)
                #expect(refresh.json.count == 1 && refresh.json["active"] as? Bool == false, "hint \(hint ?? "none")")
            }

            for token in ["garbage", JWT.unsigned(try JWT.claims(of: access))] {
                let inactive = try await self.post(app, "/introspect", ["token": token], basic: basic)
                #expect(inactive.status == 200)
                #expect(inactive.text == #"{"active":false}"#)
            }
            #expect(try await app.client.json("DELETE", "/logout", ["token": login["refreshToken"]!]).status == 204)
            let loggedOut = try await self.post(app, "/introspect", ["token": access], basic: basic)
            #expect(loggedOut.text == #"{"active":false}"#)
        }
    }
}
