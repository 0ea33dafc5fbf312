import RedisClient
import TestSupport
import Testing

@Suite("The token flow over HTTP, against a real Redis")
struct TokenFlowTests {
    @Test func registerLoginMeRefreshLogout() async throws {
        let clock = TestClock()
        let app = try await TestApp.start(clock: clock)
        try await withTeardown({ await app.stop() }) {
            let client = app.client

            let created = try await client.json(
                "POST", "/users", ["username": "Alice", "password": "correct horse battery"])
            #expect(created.status == 201)
            #expect(created["username"] == "alice")

            let login = try await app.logIn("alice")
            #expect(login.status == 200)
            #expect(login["tokenType"] == "Bearer")
            #expect(login.json["expiresIn"] as? Int == 900)
            #expect(login.headers["cache-control"] == "no-store")
            let access = try #require(login["accessToken"])
            let refresh = try #require(login["refreshToken"])

            let me = try await client.get("/me", bearer: access)
            #expect(me.status == 200)
            #expect(me["username"] == "alice")
            let sessionID = try #require(me["sessionId"])
            #expect((me.json["expiresAt"] as? Int ?? 0) > 0)

            let refreshed = try await client.json("POST", "/token", ["token": refresh])
            #expect(refreshed.status == 200)
            #expect(refreshed.headers["cache-control"] == "no-store")
            let newAccess = try #require(refreshed["accessToken"])
            let newRefresh = try #require(refreshed["refreshToken"])
            #expect(newRefresh != refresh)
            let meAgain = try await client.get("/me", bearer: newAccess)
            #expect(meAgain["sessionId"] == sessionID, "rotation keeps the session")

            // The old refresh token is spent: once the grace window for concurrent refreshes is over,
            // presenting it again is refused...
            clock.advance(by: app.application.configuration.auth.refreshGraceWindow + 1)
            let replay = try await client.json("POST", "/token", ["token": refresh])
            #expect(replay.status == 400)
            #expect(replay["error"] == "invalid_grant")
            // ...and, as reuse of a rotated token, it ends the session (RFC 9700 §4.14.2).
            #expect(try await client.json("POST", "/token", ["token": newRefresh]).status == 400)
            #expect(try await client.get("/me", bearer: newAccess).status == 401)
        }
    }

    @Test func logoutEndsTheSessionAtOnceAndIsIdempotent() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            let login = try await app.signUpAndLogIn("bob")
            let access = try #require(login["accessToken"])
            let refresh = try #require(login["refreshToken"])

            let logout = try await app.client.json("DELETE", "/logout", ["token": refresh])
            #expect(logout.status == 204)
            #expect(logout.body.isEmpty)
            #expect(try await app.client.json("DELETE", "/logout", ["token": refresh]).status == 204)

            let refused = try await app.client.json("POST", "/token", ["token": refresh])
            #expect(refused.status == 400)
            #expect(refused["error"] == "invalid_grant")
            let me = try await app.client.get("/me", bearer: access)
            #expect(me.status == 401)
            #expect(me.headers["www-authenticate"]?.contains("error=\"invalid_token\"") == true)
        }
    }

    @Test func logoutLeavesTheUsersOtherSessionsWorking() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            let first = try await app.signUpAndLogIn("carol")
            let second = try await app.logIn("carol")
            #expect(try await app.client.json("DELETE", "/logout", ["token": first["refreshToken"]!]).status == 204)
            #expect(try await app.client.get("/me", bearer: second["accessToken"]).status == 200)
        }
    }

    @Test func theTutorialsNameFieldAndPostsRoute() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            #expect(
                try await app.client.json("POST", "/users", ["name": "kyle", "password": "correct horse battery"])
                    .status
                    == 201
            )
            let login = try await app.client.json(
                "POST", "/login", ["name": "kyle", "password": "correct horse battery"])
            #expect(login.status == 200)
            let posts = try await app.client.get("/posts", bearer: login["accessToken"])
            #expect(posts.status == 200)
            #expect(
                posts.text == #"[{"username":"kyle","title":"Post 1"}]"#
                    || posts.text == #"[{"title":"Post 1","username":"kyle"}]"#)
            #expect(try await app.client.get("/posts").status == 401)
        }
    }

    @Test func anUnknownUserAndAWrongPasswordGetTheSameAnswer() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            try await app.signUpAndLogIn("dave")
            let wrong = try await app.logIn("dave", password: "not the password")
            let unknown = try await app.logIn("nobody-here", password: "not the password")
            #expect(wrong.status == 401)
            #expect(unknown.status == 401)
            #expect(wrong.body == unknown.body)
            #expect(wrong["error"] == "invalid_grant")
        }
    }

    @Test func aTakenUsernameIsAConflictWhateverItsCase() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            let password = "correct horse battery"
            #expect(
                try await app.client.json("POST", "/users", ["username": "erin", "password": password]).status == 201)
            let again = try await app.client.json("POST", "/users", ["username": "ERIN", "password": password])
            #expect(again.status == 409)
            #expect(again["error"] == "username_taken")
        }
    }

    @Test func signUpCanBeSwitchedOff() async throws {
        let app = try await TestApp.start { $0.auth.signupEnabled = false }
        try await withTeardown({ await app.stop() }) {
            let response = try await app.client.json(
                "POST", "/users", ["username": "frank", "password": "long enough"])
            #expect(response.status == 403)
            #expect(response["error"] == "signup_disabled")
        }
    }

    @Test func healthzAndReadyz() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            let health = try await app.client.get("/healthz")
            #expect(health.status == 200)
            #expect(health["status"] == "ok")
            let ready = try await app.client.get("/readyz")
            #expect(ready.status == 200)
            #expect(ready["status"] == "ready")
        }
    }
}
