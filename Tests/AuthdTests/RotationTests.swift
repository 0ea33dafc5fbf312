import TestSupport
import Testing

@Suite("Rotation with reuse detection and a grace window")
struct RotationTests {
    @Test func aHundredConcurrentRefreshesOverTwoInstancesLeaveOneChain() async throws {
        let clock = TestClock()
        let pair = try await TestApp.startPair(clock: clock)
        try await withTeardown({ await pair.stop() }) {
            let (a, b) = (pair.a, pair.b)
            let login = try await a.signUpAndLogIn("uma")
            let original = try #require(login["refreshToken"])

            let results = try await withThrowingTaskGroup(of: TestResponse.self) { group in
                for index in 0..<100 {
                    let app = index % 2 == 0 ? a : b
                    group.addTask { try await app.client.json("POST", "/token", ["token": original]) }
                }
                return try await group.reduce(into: [TestResponse]()) { $0.append($1) }
            }
            // Inside the grace window every duplicate gets the one current token: never two chains.
            #expect(results.allSatisfy { $0.status == 200 })
            let successors = Set(results.compactMap { $0["refreshToken"] }.map { try? JWTClaimsID.jti(of: $0) })
            #expect(successors.count == 1, "\(successors.count) live chains")

            // The chain goes on from any of the successors.
            let next = try await a.client.json("POST", "/token", ["token": results[0]["refreshToken"]!])
            #expect(next.status == 200)

            // Outside the window, the original token is reuse: the session is revoked everywhere.
            clock.advance(by: 11)
            let reuse = try await b.client.json("POST", "/token", ["token": original])
            #expect(reuse.status == 400)
            #expect(reuse["error_description"] == "refresh token already used")
            #expect(try await a.client.get("/me", bearer: next["accessToken"]).status == 401)
            #expect(try await a.client.json("POST", "/token", ["token": next["refreshToken"]!]).status == 400)
        }
    }

    @Test func theGraceWindowIsMeasuredByTheInjectedClock() async throws {
        let clock = TestClock()
        let app = try await TestApp.start(clock: clock) { $0.auth.refreshGraceWindow = 10 }
        try await withTeardown({ await app.stop() }) {
            let login = try await app.signUpAndLogIn("vera")
            let first = try #require(login["refreshToken"])
            let rotated = try await app.client.json("POST", "/token", ["token": first])
            #expect(rotated.status == 200)

            clock.advance(by: 10)
            let duplicate = try await app.client.json("POST", "/token", ["token": first])
            #expect(duplicate.status == 200, "10 s after: still inside the window")
            #expect(
                try JWTClaimsID.jti(of: duplicate["refreshToken"]!) == JWTClaimsID.jti(of: rotated["refreshToken"]!))

            clock.advance(by: 1)
            #expect(try await app.client.json("POST", "/token", ["token": first]).status == 400)
            #expect(try await app.client.json("POST", "/token", ["token": rotated["refreshToken"]!]).status == 400)
        }
    }

    @Test func withNoGraceWindowADuplicateRevokesAtOnce() async throws {
        let app = try await TestApp.start { $0.auth.refreshGraceWindow = -1 }
        try await withTeardown({ await app.stop() }) {
            let login = try await app.signUpAndLogIn("wade")
            let first = try #require(login["refreshToken"])
            let rotated = try await app.client.json("POST", "/token", ["token": first])
            #expect(rotated.status == 200)
            #expect(try await app.client.json("POST", "/token", ["token": first]).status == 400)
            #expect(try await app.client.get("/me", bearer: rotated["accessToken"]).status == 401)
        }
    }
}

enum JWTClaimsID {
    static func jti(of token: String) throws -> String {
        try JWT.claims(of: token).jti
    }
}
