import AuthHTTP
import AuthdApp
import Foundation
import JOSE
import TestSupport
import Testing

/// `/forward-auth` against authd directly, in the request shapes of each gateway: nginx's
/// `auth_request` (as deploy/gateways/nginx.conf sets it), Caddy's and Traefik's forward auth
/// (`X-Forwarded-Method`, `X-Forwarded-Uri`) and Envoy's ext_authz (the original path appended to
/// a prefix). scripts/gateways runs the real nginx and Caddy in front of an app.
@Suite("Forward auth for gateways, with roles")
struct ForwardAuthTests {
    static func operate<T>(_ prefix: String, _ body: (Operator) async throws -> T) async throws -> T {
        try await Operator.with(environment: TestRedis.operatorEnvironment(prefix: prefix), body)
    }

    @Test func everyMethodAndEveryGatewaysShapeGetsTheIdentityHeaders() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            let login = try await app.signUpAndLogIn("gwen")
            let access = try #require(login["accessToken"])
            let me = try await app.client.get("/me", bearer: access)
            let bearer = ("authorization", "Bearer \(access)")
            let shapes: [(String, String, [(String, String)])] = [
                ("nginx", "/forward-auth", [("x-original-method", "POST"), ("x-original-uri", "/app/x?y=1")]),
                ("Caddy/Traefik", "/forward-auth", [("x-forwarded-method", "PUT"), ("x-forwarded-uri", "/app")]),
                ("Envoy", "/forward-auth/app/page?q=1", []),
                ("Envoy, bare", "/forward-auth/", []),
            ]
            for method in ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
                for (gateway, path, headers) in shapes {
                    // A body is ignored, whatever the method.
                    let answer = try await app.client.request(
                        method, path, headers: headers + [bearer], body: method == "POST" ? Array("ignored".utf8) : nil)
                    #expect(answer.status == 200, "\(method) \(gateway): \(answer.status) \(answer.text)")
                    #expect(answer.headers["x-auth-request-user"] == "gwen")
                    #expect(answer.headers["x-auth-request-preferred-username"] == "gwen")
                    #expect(answer.headers["x-auth-request-groups"] == "", "always sent, empty without roles")
                    #expect(answer.headers["x-auth-request-session-id"] == me["sessionId"])
                    #expect(answer.headers["x-auth-request-expires"] == (me.json["expiresAt"] as? Int).map(String.init))
                    #expect(answer.headers["cache-control"] == "no-store")
                }
            }
        }
    }

    /// No token, a bad one, an expired one, a revoked one: 401 with the RFC 6750 challenge, which
    /// the gateway passes on.
    @Test func anythingButALiveAccessTokenIs401WithTheChallenge() async throws {
        let clock = TestClock()
        let app = try await TestApp.start(clock: clock)
        try await withTeardown({ await app.stop() }) {
            let login = try await app.signUpAndLogIn("hugo")
            let access = try #require(login["accessToken"])
            let refresh = try #require(login["refreshToken"])
            let none = try await app.client.get("/forward-auth")
            #expect(none.status == 401)
            #expect(none.headers["www-authenticate"] == #"Bearer realm="authd""#)
            #expect(none.headers["x-auth-request-user"] == nil)
            for (what, token) in [("garbage", "x.y.z"), ("a refresh token", refresh)] {
                let bad = try await app.client.get("/forward-auth/app", bearer: token)
                #expect(bad.status == 401, "\(what)")
                #expect(bad.headers["www-authenticate"]?.contains(#"error="invalid_token""#) == true, "\(what)")
            }
            let basic = try await app.client.request("GET", "/forward-auth", headers: [("authorization", "Basic eDp5")])
            #expect(basic.status == 401)

            clock.advance(by: 3600)
            let expired = try await app.client.get("/forward-auth", bearer: access)
            #expect(expired.status == 401)
            #expect(expired.headers["www-authenticate"]?.contains("access token expired") == true)
            clock.advance(by: -3600)
            #expect(try await app.client.get("/forward-auth", bearer: access).status == 200)
            #expect(try await app.client.json("DELETE", "/logout", ["token": refresh]).status == 204)
            #expect(try await app.client.get("/forward-auth", bearer: access).status == 401)
        }
    }

    /// `allowed_roles` on the auth URL (nginx, Caddy, Traefik) or as the first segment of Envoy's
    /// prefix: one of them is enough; none held is 403 `insufficient_scope`.
    @Test func aRequiredRoleIsCheckedInEachGatewaysForm() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            _ = try await app.signUpAndLogIn("iris")
            let granted = try await Self.operate(app.prefix) { (tool) async throws in
                try await tool.changeRole(username: "IRIS", role: "Editor", add: true)
            }
            #expect(granted.roles == ["editor"])
            #expect(granted.sessions == 1)
            let access = try #require(try await app.logIn("iris")["accessToken"])
            let claims = try #require(Self.claims(of: access))
            #expect(claims["roles"] as? [String] == ["editor"], "the token carries the roles it was issued with")
            #expect(try await app.client.get("/me", bearer: access).json["roles"] as? [String] == ["editor"])

            let allowed = [
                "/forward-auth?allowed_roles=editor", "/forward-auth?allowed_roles=admin,editor",
                "/forward-auth?allowed_roles=EDITOR", "/forward-auth/allowed_roles=editor/app/x",
                "/forward-auth/allowed_roles=admin,editor", "/forward-auth?allowed_roles=",
            ]
            for path in allowed {
                let answer = try await app.client.get(path, bearer: access)
                #expect(answer.status == 200, "\(path): \(answer.status)")
                #expect(answer.headers["x-auth-request-groups"] == "editor")
            }
            for path in ["/forward-auth?allowed_roles=admin", "/forward-auth/allowed_roles=admin,ops/app"] {
                let answer = try await app.client.get(path, bearer: access)
                #expect(answer.status == 403, "\(path)")
                #expect(answer.json["error"] as? String == "insufficient_scope")
                #expect(answer.headers["www-authenticate"]?.contains(#"error="insufficient_scope""#) == true)
                #expect(answer.headers["x-auth-request-user"] == nil)
            }
            // Envoy's query is the client's: it requires nothing.
            #expect(try await app.client.get("/forward-auth/app?allowed_roles=admin", bearer: access).status == 200)
            // A role name that cannot be one: the gateway's configuration is wrong, 400.
            for path in [
                "/forward-auth?allowed_roles=a%20b", "/forward-auth?allowed_roles=%ZZ",
                "/forward-auth/allowed_roles=-x/",
            ] {
                #expect(try await app.client.get(path, bearer: access).status == 400, "\(path)")
            }
            // Without a token, 401 comes first, whatever is required.
            #expect(try await app.client.get("/forward-auth?allowed_roles=admin").status == 401)
        }
    }

    /// A role taken away is refused by both instances on their next request, with the verify cache
    /// on and off, without a logout; the session itself goes on. Sixteen users at once, each granted
    /// and deprived five times, the removal checked on the instance that did not just answer.
    @Test(arguments: [false, true])
    func aRoleTakenAwayIsRefusedAtOnceOnEveryInstance(cache: Bool) async throws {
        let pair = try await TestApp.startPair { configuration in
            if cache { VerifyCacheTests.cacheOn(&configuration) }
            configuration.auth.throttle.enabled = false
        }
        try await withTeardown({ await pair.stop() }) {
            if cache { try await VerifyCacheTests.waitForTracking(pair.a, pair.b) }
            let users = (0..<16).map { "role-\(cache)-\($0)" }
            let tokens = try await inParallel(users.count) { index in
                try #require(try await pair.a.signUpAndLogIn(users[index])["accessToken"])
            }
            let gated = "/forward-auth?allowed_roles=admin"
            let seen = try await Self.operate(pair.prefix) { (tool) async throws in
                try await inParallel(users.count) { index -> [Int] in
                    var seen: [Int] = []
                    for round in 0..<5 {
                        let (first, second) = round % 2 == 0 ? (pair.a, pair.b) : (pair.b, pair.a)
                        _ = try await tool.changeRole(username: users[index], role: "admin", add: true)
                        // Twice on each: the second from the cache when it is on.
                        for app in [first, second, first, second] {
                            let before = try await app.client.get(gated, bearer: tokens[index])
                            guard before.status == 200 else { throw TestFailure("before: \(before.status)") }
                        }
                        _ = try await tool.changeRole(username: users[index], role: "admin", add: false)
                        seen += [
                            try await second.client.get(gated, bearer: tokens[index]).status,
                            try await first.client.get(gated, bearer: tokens[index]).status,
                            // The session lives on: only the role is gone.
                            try await second.client.get("/forward-auth", bearer: tokens[index]).status,
                        ]
                    }
                    return seen
                }
            }
            let counts = Dictionary(grouping: seen.flatMap { $0 }, by: { $0 }).mapValues(\.count)
            #expect(seen.allSatisfy { $0 == Array(repeating: [403, 403, 200], count: 5).flatMap { $0 } }, "\(counts)")
            if cache {
                for app in [pair.a, pair.b] { #expect((app.application.redis.cacheStatistics()?.hits ?? 0) > 0) }
            }
        }
    }

    /// A gateway's check is not a browser's request: CORS does not refuse it, whatever the origin
    /// the client's headers carry.
    @Test func corsDoesNotApply() async throws {
        let app = try await TestApp.start { $0.cors = CORSPolicy(list: "https://app.example") }
        try await withTeardown({ await app.stop() }) {
            let access = try #require(try await app.signUpAndLogIn("jade")["accessToken"])
            let answer = try await app.client.request(
                "POST", "/forward-auth/app",
                headers: [("origin", "https://evil.example"), ("authorization", "Bearer \(access)")])
            #expect(answer.status == 200)
            #expect(answer.headers["access-control-allow-origin"] == nil)
        }
    }

    /// Redis gone: 503, never 200 (the gateway fails closed).
    @Test func redisGoneIs503() async throws {
        let server = try RedisServerProcess()
        try await server.start()
        let app = try await TestApp.start(redisURL: server.url) { configuration in
            configuration.redis.commandTimeout = .seconds(2)
            configuration.redis.connectTimeout = .seconds(2)
        }
        try await withTeardown({
            await app.stop()
            server.kill()
        }) {
            try await app.waitUntilReady()
            let access = try #require(try await app.signUpAndLogIn("kurt")["accessToken"])
            #expect(try await app.client.get("/forward-auth", bearer: access).status == 200)
            server.kill()
            let answer = try await app.client.get("/forward-auth?allowed_roles=x", bearer: access)
            #expect(answer.status == 503)
            #expect(answer.headers["x-auth-request-user"] == nil)
        }
    }

    static func claims(of token: String) -> [String: Any]? {
        let parts = token.split(separator: ".")
        guard parts.count == 3, let payload = Base64URL.decode(String(parts[1])) else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any]
    }
}
