import AuthdApp
import Foundation
import TestSupport
import Testing

@Suite("Revoke everything: password change and operator")
struct RevocationTests {
    @Test func aPasswordChangeEndsEverySessionOnEveryInstance() async throws {
        let pair = try await TestApp.startPair()
        try await withTeardown({ await pair.stop() }) {
            let (a, b) = (pair.a, pair.b)
            let first = try await a.signUpAndLogIn("xena", password: "first password")
            let second = try await b.logIn("xena", password: "first password")

            let wrong = try await a.client.json(
                "POST", "/password", ["oldPassword": "not it at all", "newPassword": "second password"],
                headers: [("authorization", "Bearer \(first["accessToken"]!)")]
            )
            #expect(wrong.status == 400)
            #expect(try await b.client.get("/me", bearer: second["accessToken"]).status == 200)

            let changed = try await a.client.json(
                "POST", "/password", ["oldPassword": "first password", "newPassword": "second password"],
                headers: [("authorization", "Bearer \(first["accessToken"]!)")]
            )
            #expect(changed.status == 204)
            for app in [a, b] {
                for login in [first, second] {
                    #expect(try await app.client.get("/me", bearer: login["accessToken"]).status == 401)
                    #expect(
                        try await app.client.json("POST", "/token", ["token": login["refreshToken"]!]).status == 400)
                }
            }
            #expect(try await b.logIn("xena", password: "first password").status == 401)
            #expect(try await b.logIn("xena", password: "second password").status == 200)
        }
    }

    /// Issue 28, item 3: a revoked access token stays refused for as long as it verifies, to its
    /// expiry plus the clock leeway: a later revocation in the same session (which prunes expired
    /// denials) must not bring it back. Before, the denial was pruned at `exp`, and the token
    /// answered 200 again until `exp + leeway`.
    @Test func aRevokedAccessTokenStaysRevokedThroughTheLeeway() async throws {
        let clock = TestClock()
        try await withTestApp(clock: clock) { app in
            let login = try await app.signUpAndLogIn("lazarus")
            let first = try #require(login["accessToken"])
            let revoke = { (token: String) in
                try await app.client.request(
                    "POST", "/revoke", headers: [("content-type", "application/x-www-form-urlencoded")],
                    body: Array("token=\(token)".utf8)
                ).status
            }
            #expect(try await revoke(first) == 200)
            #expect(try await app.client.get("/me", bearer: first).status == 401)
            // Past its expiry (900 s), within the leeway (30 s): the codec still takes it.
            clock.advance(by: 910)
            let refreshed = try await app.client.json("POST", "/token", ["token": login["refreshToken"]!])
            #expect(refreshed.status == 200)
            #expect(try await revoke(refreshed["accessToken"]!) == 200)
            #expect(try await app.client.get("/me", bearer: first).status == 401, "the first token came back")
        }
    }

    @Test func theOperatorRevokesAUserAndListsSessions() async throws {
        let pair = try await TestApp.startPair()
        try await withTeardown({ await pair.stop() }) {
            let (a, b) = (pair.a, pair.b)
            let first = try await a.signUpAndLogIn("yuri")
            let second = try await b.logIn("yuri")
            try await Operator.with(environment: TestRedis.operatorEnvironment(prefix: pair.prefix)) {
                tool in
                let listing = OperatorOutput.sessionsTable(of: "yuri", try await tool.sessions(username: "yuri"))
                let firstID = try #require(try await a.client.get("/me", bearer: first["accessToken"])["sessionId"])
                #expect(listing.contains(firstID))
                #expect(listing.split(separator: "\n").count == 3, "a header and two sessions:\n\(listing)")

                #expect(try await tool.revoke(username: "yuri", sessionID: firstID) == 1)
                #expect(try await a.client.get("/me", bearer: first["accessToken"]).status == 401)
                #expect(try await b.client.get("/me", bearer: second["accessToken"]).status == 200)

                #expect(try await tool.revoke(username: "YURI", sessionID: nil) == 1)
                #expect(try await a.client.get("/me", bearer: second["accessToken"]).status == 401)
                #expect(try await b.client.json("POST", "/token", ["token": second["refreshToken"]!]).status == 400)
                #expect(try await tool.sessions(username: "yuri").isEmpty)
            }
        }
    }
}
