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

    @Test func theOperatorRevokesAUserAndListsSessions() async throws {
        let pair = try await TestApp.startPair()
        try await withTeardown({ await pair.stop() }) {
            let (a, b) = (pair.a, pair.b)
            let first = try await a.signUpAndLogIn("yuri")
            let second = try await b.logIn("yuri")
            let tool = try Operator(
                environment: ["REDIS_URL": TestRedis.url, "AUTHD_KEY_PREFIX": pair.prefix], logger: quietLogger)
            let listing = try await tool.listSessions(username: "yuri")
            let firstID = try #require(try await a.client.get("/me", bearer: first["accessToken"])["sessionId"])
            #expect(listing.contains(firstID))
            #expect(listing.split(separator: "\n").count == 3, "a header and two sessions:\n\(listing)")

            #expect(try await tool.revoke(username: "yuri", sessionID: firstID) == 1)
            #expect(try await a.client.get("/me", bearer: first["accessToken"]).status == 401)
            #expect(try await b.client.get("/me", bearer: second["accessToken"]).status == 200)

            #expect(try await tool.revoke(username: "YURI", sessionID: nil) == 1)
            #expect(try await a.client.get("/me", bearer: second["accessToken"]).status == 401)
            #expect(try await b.client.json("POST", "/token", ["token": second["refreshToken"]!]).status == 400)
            #expect(try await tool.listSessions(username: "yuri").contains("no live sessions"))
            await tool.shutdown()
        }
    }
}
