import TestSupport
import Testing

@Suite("Two instances sharing one Redis")
struct TwoInstancesTests {
    @Test func logInOnARefreshOnBLogOutOnBAndARejectsAtOnce() async throws {
        let clock = TestClock()
        let pair = try await TestApp.startPair(clock: clock)
        try await withTeardown({ await pair.stop() }) {
            let (a, b) = (pair.a, pair.b)
            #expect(a.port != b.port)

            let login = try await a.signUpAndLogIn("ivan")
            #expect(login.status == 200)
            let refreshed = try await b.client.json("POST", "/token", ["token": login["refreshToken"]!])
            #expect(refreshed.status == 200)
            let access = try #require(refreshed["accessToken"])
            #expect(try await a.client.get("/me", bearer: access).status == 200)

            // The token B rotated away is dead on A too, once the grace window is over.
            clock.advance(by: 11)
            #expect(try await a.client.json("POST", "/token", ["token": login["refreshToken"]!]).status == 400)
            // That reuse revoked the session everywhere; start a new one for the logout check.
            #expect(try await b.client.get("/me", bearer: access).status == 401)

            let second = try await a.logIn("ivan")
            let secondAccess = try #require(second["accessToken"])
            #expect(try await a.client.get("/me", bearer: secondAccess).status == 200)
            #expect(try await b.client.json("DELETE", "/logout", ["token": second["refreshToken"]!]).status == 204)
            #expect(try await a.client.get("/me", bearer: secondAccess).status == 401)
            #expect(try await a.client.json("POST", "/token", ["token": second["refreshToken"]!]).status == 400)
        }
    }

    @Test func aUserRegisteredOnOneInstanceLogsInOnTheOther() async throws {
        let pair = try await TestApp.startPair()
        try await withTeardown({ await pair.stop() }) { () async throws in
            let (a, b) = (pair.a, pair.b)
            #expect(
                try await a.client.json("POST", "/users", ["username": "judy", "password": "long password"]).status
                    == 201)
            #expect(
                try await b.client.json("POST", "/users", ["username": "judy", "password": "long password"]).status
                    == 409)
            #expect(try await b.logIn("judy", password: "long password").status == 200)
        }
    }
}
