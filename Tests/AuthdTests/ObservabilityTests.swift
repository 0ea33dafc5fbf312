import Foundation
import Logging
import NIOConcurrencyHelpers
import RedisClient
import TestSupport
import Testing

@testable import AuthdApp
@testable import RedisStore

@Suite("Readiness, metrics and logs")
struct ObservabilityTests {
    @Test func readyzLoadsScriptsRedisLost() async throws {
        let server = try RedisServerProcess()
        try await server.start()
        let app = try await TestApp.start(redisURL: server.url)
        try await withTeardown({ await app.stop() }) {
            let redis = try TestRedis.makeClient(TestRedis.configuration(url: server.url))
            try await redis.send("SCRIPT", ["FLUSH"])
            #expect(try await app.client.get("/readyz").status == 200)
            let loaded = try await redis.send("SCRIPT", ["EXISTS", RedisScript("return 1").sha1]).array
            #expect(loaded == [.integer(0)], "an unrelated script stays unloaded")
            let ours = try await redis.scriptExistsAll()
            #expect(ours, "readyz loaded authd's scripts")
            await redis.shutdown()
        }
    }

    /// Issue 30, item 7: a revoked access token is counted as one, not as a session; a script's
    /// first use on a server (NOSCRIPT, then loaded) is counted as `noscript`, not as a server
    /// error. The counters are process-wide (other tests add to them), so increases are compared.
    @Test func revokedAccessTokensAndNoscriptHaveCountersOfTheirOwn() async throws {
        let server = try RedisServerProcess()
        try await server.start()
        let app = try await TestApp.start(redisURL: server.url)
        try await withTeardown({ await app.stop() }) {
            func value(_ series: String) async throws -> Double {
                let text = try await app.client.get("/metrics").text
                let line = text.split(separator: "\n").first { $0.hasPrefix(series + " ") }
                return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
            }
            let access = #"authd_access_tokens_revoked_total"#
            let noscript = #"authd_redis_command_errors_total{kind="noscript"}"#
            let login = try await app.signUpAndLogIn("counted")
            let before = (access: try await value(access), noscript: try await value(noscript))
            let revoked = try await app.client.request(
                "POST", "/revoke", headers: [("content-type", "application/x-www-form-urlencoded")],
                body: Array("token=\(login["accessToken"]!)".utf8))
            #expect(revoked.status == 200)
            #expect(try await value(access) >= before.access + 1)
            // The scripts flushed: the next login's scripts answer NOSCRIPT once, and are loaded.
            let redis = try TestRedis.makeClient(TestRedis.configuration(url: server.url))
            try await redis.send("SCRIPT", ["FLUSH"])
            await redis.shutdown()
            #expect(try await app.logIn("counted").status == 200)
            #expect(try await value(noscript) > before.noscript)
        }
    }

    @Test func metricsCountRequestsTokensAndRedisCommands() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            let login = try await app.signUpAndLogIn("metrics-user")
            _ = try await app.client.json("POST", "/token", ["token": login["refreshToken"]!])
            _ = try await app.client.get("/sessions/abc", bearer: "garbage")
            let metrics = try await app.client.get("/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = metrics.text
            for expected in [
                #"authd_http_requests_total{route="/login",method="POST",status="200"}"#,
                #"authd_http_requests_total{route="/sessions/:id",method="GET",status="405"}"#,
                #"authd_tokens_issued_total{grant="login"}"#,
                #"authd_tokens_issued_total{grant="refresh"}"#,
                #"authd_http_request_duration_seconds_bucket{route="/token""#,
                #"authd_redis_command_duration_seconds_bucket{command="EVALSHA""#,
                // Other tests' clients share this process-wide gauge, so only its presence is checked.
                #"authd_redis_connection_up{connection="0"}"#,
            ] {
                #expect(text.contains(expected), "missing \(expected)")
            }
        }
    }

    @Test func jsonLogLinesCarryTheRequestIDAndNeverASecret() async throws {
        let lines = NIOLockedValueBox<[String]>([])
        let handler = JSONLogHandler(label: "authd", metadataProvider: .requestID) { line in
            lines.withLockedValue { $0.append(line) }
        }
        var logger = Logger(label: "authd") { _ in handler }
        logger.logLevel = .trace
        let password = "a very secret password 9c1e"
        let secrets = TestSecrets()
        let app = try await TestApp.start(secrets: secrets, logger: logger)
        try await withTeardown({ await app.stop() }) {

            let login = try await app.signUpAndLogIn("logged-user", password: password)
            let access = try #require(login["accessToken"])
            let refresh = try #require(login["refreshToken"])
            let refreshed = try await app.client.json("POST", "/token", ["token": refresh])
            _ = try await app.client.request(
                "GET", "/me", headers: [("authorization", "Bearer \(access)"), ("x-request-id", "req-from-client-1")]
            )
            _ = try await app.client.json("DELETE", "/logout", ["token": refreshed["refreshToken"]!])
            _ = try await app.logIn("logged-user", password: "wrong \(password)")
            // A registered client's secret and its token, right and wrong, at the token endpoint,
            // at introspection and at a gateway's check.
            let client = try await ClientCredentialsTests.register(
                app.prefix, "logged-svc", may: [.token, .introspect])
            let machine = try await ClientCredentialsTests.grant(app.client, basic: ("logged-svc", client.secret))
            let machineToken = try #require(machine["access_token"])
            _ = try await ClientCredentialsTests.grant(app.client, basic: ("logged-svc", "wrong \(client.secret)"))
            _ = try await app.client.get("/forward-auth", bearer: machineToken)
            _ = try await app.client.request(
                "POST", "/introspect", headers: [("content-type", "application/x-www-form-urlencoded")],
                body: ClientCredentialsTests.form([
                    "token": machineToken, "client_id": "logged-svc", "client_secret": client.secret,
                ]))

            let captured = lines.withLockedValue { $0 }
            #expect(captured.count > 5)
            for line in captured {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object?["ts"] != nil && object?["level"] != nil && object?["message"] != nil, "\(line)")
            }
            #expect(captured.contains { $0.contains(#""request_id":"req-from-client-1""#) && $0.contains("/me") })
            let all = captured.joined()
            for secret in [
                password, access, refresh, refreshed["refreshToken"]!, refreshed["accessToken"]!, secrets.access,
                secrets.refresh, client.secret, machineToken,
            ] {
                #expect(!all.contains(secret), "a secret reached the log")
            }
        }
    }

    @Test func everyResponseCarriesARequestIDTheClientsWhenSaneElseAFreshOne() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            let first = try await app.client.get("/healthz").headers["x-request-id"]
            let second = try await app.client.get("/healthz").headers["x-request-id"]
            let spaced = try await app.client.request("GET", "/healthz", headers: [("x-request-id", "a b")])
            let long = try await app.client.request(
                "GET", "/healthz", headers: [("x-request-id", String(repeating: "x", count: 65))])
            let sane = try await app.client.request("GET", "/healthz", headers: [("x-request-id", "req_42-A")])
            let fresh = [first, second, spaced.headers["x-request-id"], long.headers["x-request-id"]].compactMap { $0 }
            #expect(Set(fresh).count == 4)
            for id in fresh {
                #expect(
                    (1...64).contains(id.count) && id.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" }, "\(id)")
            }
            #expect(sane.headers["x-request-id"] == "req_42-A")
        }
    }

    @Test func jsonStringsAreEscaped() {
        #expect(JSONLogHandler.quote("a\"b\\c\nd\u{1}") == #""a\"b\\c\nd\u0001""#)
    }
}

extension RedisClient {
    /// Whether Redis has every one of authd's scripts loaded.
    fileprivate func scriptExistsAll() async throws -> Bool {
        let probe = try await self.send("SCRIPT", ["EXISTS"] + LuaScripts.all.map(\.sha1)).array ?? []
        return !probe.isEmpty && probe.allSatisfy { $0.int == 1 }
    }
}
