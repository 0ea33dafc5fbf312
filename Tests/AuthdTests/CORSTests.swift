import AuthHTTP
import TestSupport
import Testing

/// Browsers on other origins (issue 16's CORS part): preflights, the headers of allowed origins,
/// and refusals for every other origin. Off by default.
@Suite("CORS")
struct CORSTests {
    static let app = "https://app.example.test"
    static let other = "https://evil.example.test"

    func preflight(_ app: TestApp, _ path: String, origin: String, method: String) async throws -> TestResponse {
        try await app.client.request(
            "OPTIONS", path,
            headers: [
                ("origin", origin), ("access-control-request-method", method),
                ("access-control-request-headers", "content-type, authorization"),
            ])
    }

    @Test func anAllowedOriginGetsItsPreflightAndHeaders() async throws {
        try await withTestApp(configure: { $0.cors = CORSPolicy(list: Self.app) }) { app in
            let preflight = try await self.preflight(app, "/login", origin: Self.app, method: "POST")
            #expect(preflight.status == 204)
            #expect(preflight.headers["access-control-allow-origin"] == Self.app)
            #expect(preflight.headers["access-control-allow-methods"] == "POST")
            #expect(preflight.headers["access-control-allow-headers"]?.contains("authorization") == true)
            #expect(preflight.headers["access-control-allow-headers"]?.contains("content-type") == true)
            #expect(preflight.headers["access-control-max-age"] == "600")
            #expect(preflight.headers["access-control-allow-credentials"] == nil, "no cookies: no credentials")

            try await app.signUpAndLogIn("browser")
            let login = try await app.client.json(
                "POST", "/login", ["username": "browser", "password": "correct horse battery"],
                headers: [("origin", Self.app)])
            #expect(login.status == 200)
            #expect(login.headers["access-control-allow-origin"] == Self.app)
            #expect(login.headers["vary"]?.contains("origin") == true)
            let me = try await app.client.request(
                "GET", "/me", headers: [("origin", Self.app), ("authorization", "Bearer \(login["accessToken"]!)")])
            #expect(me.status == 200 && me.headers["access-control-allow-origin"] == Self.app)
            // A 401 is readable too, with its challenge.
            let denied = try await app.client.request("GET", "/me", headers: [("origin", Self.app)])
            #expect(denied.status == 401 && denied.headers["access-control-allow-origin"] == Self.app)
            #expect(denied.headers["access-control-expose-headers"]?.contains("www-authenticate") == true)
            // A preflight for a method the route lacks gets nothing.
            #expect(try await self.preflight(app, "/login", origin: Self.app, method: "DELETE").status == 403)
        }
    }

    @Test func anotherOriginGetsNoCORSHeadersAndCannotChangeState() async throws {
        try await withTestApp(configure: { $0.cors = CORSPolicy(list: Self.app) }) { app in
            try await app.signUpAndLogIn("victim")
            let preflight = try await self.preflight(app, "/login", origin: Self.other, method: "POST")
            #expect(preflight.status == 403)
            #expect(preflight.headers["access-control-allow-origin"] == nil)
            // A simple POST (a form, or fetch with no-cors) from another origin never runs.
            for path in ["/login", "/users", "/token", "/logout", "/password", "/revoke"] {
                let response = try await app.client.request(
                    "POST", path, headers: [("origin", Self.other), ("content-type", "text/plain")],
                    body: Array(#"{"username":"victim","password":"correct horse battery"}"#.utf8))
                #expect(response.status == 403, "\(path)")
                #expect(response.headers["access-control-allow-origin"] == nil)
            }
            // A read is answered, without CORS headers: the browser hides it from the page.
            let health = try await app.client.request("GET", "/healthz", headers: [("origin", Self.other)])
            #expect(health.status == 200 && health.headers["access-control-allow-origin"] == nil)
            // Clients that send no Origin (servers, mobile apps, curl) are not affected.
            #expect(try await app.logIn("victim").status == 200)
        }
    }

    @Test func offByDefault() async throws {
        try await withTestApp { app in
            let preflight = try await self.preflight(app, "/login", origin: Self.app, method: "POST")
            #expect(preflight.status == 405)
            let health = try await app.client.request("GET", "/healthz", headers: [("origin", Self.app)])
            #expect(health.headers["access-control-allow-origin"] == nil)
        }
    }

    @Test(arguments: ["*", "null", "https://app.example.test/path", "app.example.test", "ftp://x.test", ""])
    func onlyExactOriginsAreAccepted(_ list: String) {
        #expect(CORSPolicy(list: list) == nil)
    }
}
