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

    /// Issue 28, item 8: with CORS on, an answer to a request without `Origin` differs from the
    /// one a browser page gets, so it says `Vary: Origin`: a shared cache must not hand the
    /// metadata's `public, max-age=300` copy without CORS headers to a page.
    @Test func answersWithoutAnOriginVaryByOrigin() async throws {
        try await withTestApp(configure: { $0.cors = CORSPolicy(list: Self.app) }) { app in
            let metadata = try await app.client.get("/.well-known/oauth-authorization-server")
            #expect(metadata.status == 200)
            #expect(metadata.headers["vary"]?.contains("origin") == true)
            #expect(metadata.headers["x-content-type-options"] == "nosniff")
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

    @Test(arguments: [
        "*", "null", "https://app.example.test/path", "app.example.test", "ftp://x.test", "",
        // Issue 28, item 10: all of these started up before.
        "http://a.com:abc", "https://a.com:99999", "https://a.com:0", "https://a%2fb.com", "https://a..com",
        "https://a.com:", "https://[zz]",
    ])
    func onlyExactOriginsAreAccepted(_ list: String) {
        #expect(CORSPolicy(list: list) == nil)
    }

    func cookieApp(_ body: (TestApp) async throws -> Void) async throws {
        try await withTestApp(configure: {
            $0.cors = CORSPolicy(list: Self.app)
            $0.cors?.allowCredentials = true
            $0.refreshCookie = true
            $0.auth.refreshGraceWindow = 0
        }) { try await body($0) }
    }

    /// The refresh token of a response's cookies, and each cookie's attributes.
    static func cookies(_ response: TestResponse) -> [String] {
        // TestResponse keeps the last of repeated headers; the raw text keeps them all.
        response.rawHead.split(separator: "\r\n").filter { $0.lowercased().hasPrefix("set-cookie:") }
            .map { String($0.dropFirst("set-cookie:".count)).trimmingCharacters(in: .whitespaces) }
    }

    static func token(in cookies: [String]) -> String? {
        cookies.first.flatMap { $0.split(separator: ";").first }.map { String($0.dropFirst("authd_refresh=".count)) }
    }

    /// Issue 28, items 9 and 10: a refresh cookie planted beside authd's (cookie tossing from a
    /// sibling subdomain, `Domain=.example.com; Path=/token`) makes the request fail instead of
    /// renewing into whichever session the browser listed first; and the form-encoded password
    /// grant from an allowed origin keeps the refresh token out of the body, as the JSON login does.
    @Test func aTossedCookieIsRefusedAndFormGrantsKeepTheTokenOutOfTheBody() async throws {
        try await self.cookieApp { app in
            _ = try await app.client.json(
                "POST", "/users", ["username": "tossed", "password": "correct horse battery"])
            let victim = try await app.client.json(
                "POST", "/login", ["username": "tossed", "password": "correct horse battery"],
                headers: [("origin", Self.app)])
            let mine = try #require(Self.token(in: Self.cookies(victim)))
            _ = try await app.client.json(
                "POST", "/users", ["username": "attacker", "password": "correct horse battery"])
            let planted = try #require(try await app.logIn("attacker")["refreshToken"])
            for order in [[planted, mine], [mine, planted]] {
                let refresh = try await app.client.request(
                    "POST", "/token",
                    headers: [
                        ("origin", Self.app),
                        ("cookie", order.map { "authd_refresh=\($0)" }.joined(separator: "; ")),
                    ])
                #expect(refresh.status == 400, "\(refresh.text)")
                #expect(refresh["error"] == "invalid_request")
                #expect(refresh["accessToken"] == nil)
            }
            let form = try await app.client.request(
                "POST", "/token",
                headers: [("origin", Self.app), ("content-type", "application/x-www-form-urlencoded")],
                body: Array("grant_type=password&username=tossed&password=correct%20horse%20battery".utf8))
            #expect(form.status == 200)
            #expect(form["access_token"] != nil)
            #expect(form["refresh_token"] == nil, "the body the page sees carries no refresh token")
            #expect(Self.token(in: Self.cookies(form)) != nil)
        }
    }

    @Test func inCookieModeABrowserNeverSeesItsRefreshToken() async throws {
        try await self.cookieApp { app in
            _ = try await app.client.json("POST", "/users", ["username": "spa", "password": "correct horse battery"])
            let login = try await app.client.json(
                "POST", "/login", ["username": "spa", "password": "correct horse battery"],
                headers: [("origin", Self.app)])
            #expect(login.status == 200)
            #expect(login["refreshToken"] == nil, "the body carries no refresh token")
            #expect(login["accessToken"] != nil)
            #expect(login.headers["access-control-allow-credentials"] == "true")
            let cookies = Self.cookies(login)
            #expect(cookies.count == 2)
            for (cookie, path) in zip(cookies, ["/token", "/logout"]) {
                #expect(cookie.hasPrefix("authd_refresh=eyJ"))
                for attribute in ["Path=\(path)", "HttpOnly", "Secure", "SameSite=Strict", "Max-Age=604800"] {
                    #expect(cookie.contains(attribute), "\(attribute) in \(cookie)")
                }
            }
            let first = try #require(Self.token(in: cookies))

            // Refresh with the cookie: a new cookie, rotation as with bodies.
            let refreshed = try await app.client.request(
                "POST", "/token", headers: [("origin", Self.app), ("cookie", "authd_refresh=\(first)")])
            #expect(refreshed.status == 200 && refreshed["refreshToken"] == nil)
            let second = try #require(Self.token(in: Self.cookies(refreshed)))
            #expect(second != first)
            // The old cookie again: reuse, the session is revoked (grace window 0 here).
            let reused = try await app.client.request(
                "POST", "/token", headers: [("origin", Self.app), ("cookie", "authd_refresh=\(first)")])
            #expect(reused.status == 400 && reused["error"] == "invalid_grant")
            #expect(
                try await app.client.get("/me", bearer: refreshed["accessToken"]).status == 401,
                "reuse detection ended the session")
        }
    }

    @Test func theCookieIsHonouredOnlyFromAnAllowedOriginAndLogoutClearsIt() async throws {
        try await self.cookieApp { app in
            _ = try await app.client.json("POST", "/users", ["username": "spa2", "password": "correct horse battery"])
            let login = try await app.client.json(
                "POST", "/login", ["username": "spa2", "password": "correct horse battery"],
                headers: [("origin", Self.app)])
            let token = try #require(Self.token(in: Self.cookies(login)))
            // CSRF: the cookie from another origin, or with no Origin at all, does nothing.
            let forged = try await app.client.request(
                "POST", "/token", headers: [("origin", Self.other), ("cookie", "authd_refresh=\(token)")])
            #expect(forged.status == 403)
            let bare = try await app.client.request(
                "POST", "/token",
                headers: [("content-type", "application/json"), ("cookie", "authd_refresh=\(token)")],
                body: Array("{}".utf8))
            #expect(bare.status == 400, "without an allowed Origin the cookie is not read")
            // Logout with the cookie clears it on both paths, and ends the session.
            let logout = try await app.client.request(
                "POST", "/logout", headers: [("origin", Self.app), ("cookie", "authd_refresh=\(token)")])
            #expect(logout.status == 204)
            let cleared = Self.cookies(logout)
            #expect(
                cleared.count == 2 && cleared.allSatisfy { $0.hasPrefix("authd_refresh=;") && $0.contains("Max-Age=0") }
            )
            #expect(try await app.client.get("/me", bearer: login["accessToken"]).status == 401)
            // Clients that send no Origin keep their refresh tokens in bodies.
            let server = try await app.logIn("spa2")
            #expect(server["refreshToken"] != nil && Self.cookies(server).isEmpty)
        }
    }
}
