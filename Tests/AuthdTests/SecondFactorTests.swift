import AuthCore
import AuthHTTP
import Foundation
import JOSE
import RedisClient
import RedisStore
import TestSupport
import Testing

/// Second factors (issue 34), through real instances on one Redis, with codes from `oathtool`.
@Suite("Second factor: TOTP, recovery codes, step-up")
struct SecondFactorTests {
    static let password = "correct horse battery"

    /// A user with a confirmed factor on `app`: its authenticator, recovery codes and access token.
    struct Enrolled {
        var authenticator: Authenticator
        var recoveryCodes: [String]
        var accessToken: String
    }

    static func enrol(_ app: TestApp, _ user: String, clock: any AuthClock) async throws -> Enrolled {
        let login = try await app.signUpAndLogIn(user, password: Self.password)
        let token = try #require(login["accessToken"])
        let bearer = [("authorization", "Bearer \(token)")]
        let wrong = try await app.client.json("POST", "/mfa/totp", ["password": "not the password"], headers: bearer)
        #expect(wrong.status == 401)
        let begun = try await app.client.json("POST", "/mfa/totp", ["password": Self.password], headers: bearer)
        #expect(begun.status == 200, "\(begun.text)")
        #expect(begun.headers["cache-control"] == "no-store")
        let secret = try #require(begun["secret"])
        let uri = try #require(begun["otpauth_uri"])
        #expect(uri.hasPrefix("otpauth://totp/authd:\(user)?secret=\(secret)&issuer=authd"))
        #expect(try await app.client.get("/mfa", bearer: token).json["totp"] as? String == "pending")
        let authenticator = Authenticator(secret: secret)
        let confirmed = try await app.client.json(
            "POST", "/mfa/totp/confirm", ["code": try await authenticator.code(at: clock.now())], headers: bearer)
        #expect(confirmed.status == 200, "\(confirmed.text)")
        let codes = try #require(confirmed.json["recovery_codes"] as? [String])
        #expect(codes.count == 10 && Set(codes).count == 10)
        let status = try await app.client.get("/mfa", bearer: token).json
        #expect(status["totp"] as? String == "active")
        #expect(status["recovery_codes_left"] as? Int == 10)
        return Enrolled(authenticator: authenticator, recoveryCodes: codes, accessToken: token)
    }

    /// Logs in with the password: the 403 and its challenge.
    static func challenge(_ app: TestApp, _ user: String) async throws -> String {
        let answer = try await app.logIn(user, password: Self.password)
        #expect(answer.status == 403, "\(answer.text)")
        #expect(answer["error"] == "mfa_required")
        #expect(answer.json["accessToken"] == nil && answer.json["refreshToken"] == nil)
        #expect(answer.json["expires_in"] as? Int == 300)
        return try #require(answer["mfa_token"])
    }

    static func complete(_ app: TestApp, _ challenge: String, code: String? = nil, recovery: String? = nil)
        async throws -> TestResponse
    {
        var body: [String: any Sendable] = ["mfa_token": challenge]
        if let code { body["code"] = code }
        if let recovery { body["recovery_code"] = recovery }
        return try await app.client.json("POST", "/login/mfa", body)
    }

    @Test func aUserWithAFactorLogsInWithACodeAndTheTokensSaySo() async throws {
        let clock = TestClock()
        let pair = try await TestApp.startPair(clock: clock)
        try await withTeardown({ await pair.stop() }) {
            let (a, b) = (pair.a, pair.b)
            let user = try await Self.enrol(a, "tess", clock: clock)
            let before = try JWT.claims(of: user.accessToken)
            #expect(before.amr == ["pwd"])

            // The password alone gives a challenge, on either instance; a code gives the pair.
            clock.advance(by: 30)
            let challenge = try await Self.challenge(b, "tess")
            let code = try await user.authenticator.code(at: clock.now())
            let done = try await Self.complete(a, challenge, code: code)
            #expect(done.status == 200, "\(done.text)")
            let access = try #require(done["accessToken"])
            let claims = try JWT.claims(of: access)
            #expect(claims.amr == ["pwd", "otp"])
            #expect(claims.authTime == clock.now())
            #expect(try await b.client.get("/me", bearer: access).status == 200)
            // The challenge is spent.
            let again = try await Self.complete(b, challenge, code: code)
            #expect(again.status == 400 && again["error"] == "invalid_grant")

            // A refresh keeps the session's assurance.
            clock.advance(by: 5)
            let refreshed = try await b.client.json("POST", "/token", ["token": try #require(done["refreshToken"])])
            #expect(refreshed.status == 200)
            let after = try JWT.claims(of: try #require(refreshed["accessToken"]))
            #expect(after.amr == ["pwd", "otp"] && after.authTime == claims.authTime)

            // A code already accepted is refused on the other instance, and the same step's.
            let replay = try await Self.complete(b, try await Self.challenge(a, "tess"), code: code)
            #expect(replay.status == 400 && replay["error"] == "invalid_grant")

            // A recovery code works once, in any spelling.
            let recovery = user.recoveryCodes[0]
            let viaRecovery = try await Self.complete(
                b, try await Self.challenge(a, "tess"),
                recovery: recovery.uppercased().replacingOccurrences(of: "-", with: " "))
            #expect(viaRecovery.status == 200, "\(viaRecovery.text)")
            #expect(try JWT.claims(of: try #require(viaRecovery["accessToken"])).amr == ["pwd", "otp"])
            let spent = try await Self.complete(a, try await Self.challenge(b, "tess"), recovery: recovery)
            #expect(spent.status == 400)
            #expect(try await a.client.get("/mfa", bearer: access).json["recovery_codes_left"] as? Int == 9)

            // The OAuth password grant answers as Auth0's does: 403 mfa_required.
            let grant = try await a.client.request(
                "POST", "/token", headers: [("content-type", "application/x-www-form-urlencoded")],
                body: Array("grant_type=password&username=tess&password=correct+horse+battery".utf8))
            #expect(grant.status == 403 && grant["error"] == "mfa_required" && grant["mfa_token"] != nil)

            // Removing the factor needs a code, and ends the user's other sessions, not this one.
            let bearer = [("authorization", "Bearer \(access)")]
            let noCode = try await a.client.json("DELETE", "/mfa", [:], headers: bearer)
            #expect(noCode.status == 400)
            let wrongCode = try await a.client.json("DELETE", "/mfa", ["code": "000000"], headers: bearer)
            #expect(wrongCode.status == 400 && wrongCode["error"] == "invalid_grant")
            clock.advance(by: 30)
            let removed = try await a.client.json(
                "DELETE", "/mfa", ["code": try await user.authenticator.code(at: clock.now())], headers: bearer)
            #expect(removed.status == 204, "\(removed.text)")
            #expect(try await b.client.get("/me", bearer: access).status == 200)
            #expect(try await b.client.get("/me", bearer: user.accessToken).status == 401)
            #expect(try await b.client.get("/mfa", bearer: access).json["totp"] as? String == "none")
            let plain = try await b.logIn("tess", password: Self.password)
            #expect(plain.status == 200)
            #expect(try JWT.claims(of: try #require(plain["accessToken"])).amr == ["pwd"])
        }
    }

    /// RFC 6238 §5.2: one step of drift either way, no more, and each step once.
    @Test func codesAreAcceptedOneStepEitherSideAndEachStepOnce() async throws {
        let clock = TestClock()
        let pair = try await TestApp.startPair(clock: clock)
        try await withTeardown({ await pair.stop() }) {
            let (a, b) = (pair.a, pair.b)
            let user = try await Self.enrol(a, "drift", clock: clock)
            clock.advance(by: 600)
            // In the middle of a step, so that the edges are the steps' and not the test's.
            clock.advance(by: 15 - clock.now() % 30)
            let now = clock.now()
            func attempt(_ offset: Int, on app: TestApp) async throws -> Int {
                let code = try await user.authenticator.code(at: now + offset)
                return try await Self.complete(app, try await Self.challenge(app, "drift"), code: code).status
            }
            #expect(try await attempt(-60, on: a) == 400)
            #expect(try await attempt(+60, on: b) == 400)
            #expect(try await attempt(-30, on: a) == 200)
            #expect(try await attempt(0, on: b) == 200)
            #expect(try await attempt(+30, on: a) == 200)
            // Every step up to the last one accepted is spent: the same code, and an older one.
            #expect(try await attempt(+30, on: b) == 400)
            #expect(try await attempt(0, on: a) == 400)
        }
    }

    /// 50 logins, each with its own challenge, over two instances, all with one valid code at
    /// once: exactly one gets tokens. The throttle is off, so that only the spent step decides.
    @Test func oneCodeSentFiftyTimesAtOnceOverTwoInstancesLogsInOnce() async throws {
        let clock = TestClock()
        let pair = try await TestApp.startPair(clock: clock) { $0.auth.throttle.enabled = false }
        try await withTeardown({ await pair.stop() }) {
            let user = try await Self.enrol(pair.a, "racer", clock: clock)
            clock.advance(by: 30)
            var challenges: [String] = []
            for index in 0..<50 {
                challenges.append(try await Self.challenge(index % 2 == 0 ? pair.a : pair.b, "racer"))
            }
            let code = try await user.authenticator.code(at: clock.now())
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for (index, challenge) in challenges.enumerated() {
                    let app = index % 2 == 0 ? pair.b : pair.a
                    group.addTask { try await Self.complete(app, challenge, code: code).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.count { $0 == 200 } == 1, "\(statuses)")
            #expect(statuses.count { $0 == 400 } == 49, "\(statuses)")

            // One challenge, sent 50 times at once with the next step's code: one success too.
            clock.advance(by: 30)
            let one = try await Self.challenge(pair.a, "racer")
            let next = try await user.authenticator.code(at: clock.now())
            let again = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<50 {
                    let app = index % 2 == 0 ? pair.b : pair.a
                    group.addTask { try await Self.complete(app, one, code: next).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(again.count { $0 == 200 } == 1, "\(again)")
        }
    }

    /// One recovery code, sent twice at once on two instances (with two challenges): one success.
    @Test func aRecoveryCodeSentTwiceAtOnceWorksOnce() async throws {
        let clock = TestClock()
        let pair = try await TestApp.startPair(clock: clock) { $0.auth.throttle.enabled = false }
        try await withTeardown({ await pair.stop() }) {
            let user = try await Self.enrol(pair.a, "spender", clock: clock)
            for code in user.recoveryCodes {
                let first = try await Self.challenge(pair.a, "spender")
                let second = try await Self.challenge(pair.b, "spender")
                async let x = Self.complete(pair.a, first, recovery: code)
                async let y = Self.complete(pair.b, second, recovery: code)
                let statuses = [try await x.status, try await y.status].sorted()
                #expect(statuses == [200, 400], "\(code): \(statuses)")
            }
            let login = try await pair.a.logIn("spender", password: Self.password)
            #expect(login.status == 403)
        }
    }

    /// 50 wrong codes at once in one challenge: at most the challenge's limit (5) are checked,
    /// the rest are refused with 429 before any check; over three challenges, at most the user's
    /// limit (10). Both counters are in Redis, shared by the two instances.
    @Test func fiftyWrongCodesAtOnceCheckAtMostTheLimit() async throws {
        let clock = TestClock()
        let pair = try await TestApp.startPair(clock: clock)
        try await withTeardown({ await pair.stop() }) {
            _ = try await Self.enrol(pair.a, "guessed", clock: clock)
            var checked = 0
            for _ in 0..<3 {
                let challenge = try await Self.challenge(pair.a, "guessed")
                let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                    for index in 0..<50 {
                        let app = index % 2 == 0 ? pair.b : pair.a
                        let guess = String(format: "%06d", index * 7919 % 1_000_000)
                        group.addTask { try await Self.complete(app, challenge, code: guess).status }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.allSatisfy { $0 == 400 || $0 == 429 }, "\(statuses)")
                let wrong = statuses.count { $0 == 400 }
                #expect(wrong <= 5, "\(statuses)")
                checked += wrong
            }
            #expect(checked <= 10)
            #expect(checked >= 6)
            let redis = try TestRedis.makeClient()
            let counter = try await redis.send("GET", [RedisKeys(prefix: pair.prefix).throttleCodes("guessed")])
            #expect(counter.string.flatMap { Int($0) } == checked)
            let refused = try await Self.complete(pair.b, try await Self.challenge(pair.b, "guessed"), code: "123456")
            #expect(refused.status == 429 || checked < 10)
            #expect(refused.headers["retry-after"] != nil || checked < 10)
        }
    }

    /// Step-up, and the gateway locations that ask for a second factor or a recent one (RFC 9470).
    @Test func forwardAuthAsksForASecondFactorAndStepUpGivesIt() async throws {
        let clock = TestClock()
        try await withTestApp(clock: clock) { app in
            let user = try await Self.enrol(app, "stepper", clock: clock)
            let token = user.accessToken
            let refused = try await app.client.get("/forward-auth?mfa=1", bearer: token)
            #expect(refused.status == 401 && refused["error"] == "insufficient_user_authentication")
            #expect(refused.headers["www-authenticate"]?.contains("insufficient_user_authentication") == true)
            #expect(try await app.client.get("/forward-auth", bearer: token).status == 200)
            #expect(try await app.client.get("/forward-auth?max_age=60", bearer: token).status == 200)
            #expect(try await app.client.get("/forward-auth?mfa=maybe", bearer: token).status == 400)

            clock.advance(by: 120)
            let stale = try await app.client.get("/forward-auth?max_age=60", bearer: token)
            #expect(stale.status == 401 && stale.headers["www-authenticate"]?.contains("max_age=60") == true)

            let bearer = [("authorization", "Bearer \(token)")]
            let wrong = try await app.client.json("POST", "/mfa/step-up", ["code": "12345"], headers: bearer)
            #expect(wrong.status == 400)
            let stepped = try await app.client.json(
                "POST", "/mfa/step-up", ["code": try await user.authenticator.code(at: clock.now())], headers: bearer)
            #expect(stepped.status == 200, "\(stepped.text)")
            let upgraded = try #require(stepped["accessToken"])
            #expect(try JWT.claims(of: upgraded).amr == ["pwd", "otp"])
            #expect(try await app.client.get("/forward-auth?mfa=1&max_age=60", bearer: upgraded).status == 200)
            // The session's next refresh keeps it: its refresh token is unchanged, its session is not.
            clock.advance(by: 120)
            #expect(try await app.client.get("/forward-auth?mfa=1&max_age=60", bearer: upgraded).status == 401)
            #expect(try await app.client.get("/forward-auth?mfa=1", bearer: upgraded).status == 200)
        }
    }

    /// No TOTP secret or recovery code anywhere but the enrolment's answers: not in Redis (the
    /// secret is sealed, the codes are HMACs), not in the logs at any level, not in the events,
    /// not in the metrics.
    @Test func noSecretOfTheFactorIsKeptInTheClear() async throws {
        let clock = TestClock()
        let logs = LogCapture(level: .trace)
        let secrets = TestSecrets()
        let prefix = TestRedis.uniquePrefix("factor")
        let app = try await TestApp.start(secrets: secrets, prefix: prefix, clock: clock, logger: logs.logger)
        try await withTeardown({ await app.stop() }) {
            let user = try await Self.enrol(app, "keeper", clock: clock)
            clock.advance(by: 30)
            let wrong = try await Self.complete(app, try await Self.challenge(app, "keeper"), code: "999999")
            #expect(wrong.status == 400)
            let withRecovery = try await Self.complete(
                app, try await Self.challenge(app, "keeper"), recovery: user.recoveryCodes[1])
            #expect(withRecovery.status == 200)
            let code = try await user.authenticator.code(at: clock.now())
            #expect(try await Self.complete(app, try await Self.challenge(app, "keeper"), code: code).status == 200)

            let secretBytes = try #require(Base32.decode(user.authenticator.secret))
            var forbidden = [
                user.authenticator.secret, user.authenticator.secret.lowercased(),
                secretBytes.map { String(format: "%02x", $0) }.joined(),
            ]
            forbidden += user.recoveryCodes + user.recoveryCodes.map { $0.replacingOccurrences(of: "-", with: "") }
            let redis = try TestRedis.makeClient()
            var stored = ""
            for key in try await redis.scanAll(match: prefix + "*") {
                switch try await redis.send("TYPE", [key]).string {
                case "hash": stored += "\(try await redis.send("HGETALL", [key]))"
                case "string": stored += "\(try await redis.send("GET", [key]))"
                case "stream": stored += "\(try await redis.send("XRANGE", [key, "-", "+"]))"
                case "zset": stored += "\(try await redis.send("ZRANGE", [key, "0", "-1"]))"
                default: break
                }
            }
            // The sealed secret and the digests are there, and they open with the deployment's key.
            let factor = try await redis.send("HGETALL", [RedisKeys(prefix: prefix).factor("keeper")])
            let flat = (factor.array ?? []).compactMap(\.string)
            let fields = Dictionary(
                stride(from: 0, to: flat.count - 1, by: 2).map { (flat[$0], flat[$0 + 1]) }, uniquingKeysWith: { $1 })
            let vault = FactorVault(key: "factor:" + secrets.refresh)
            #expect(vault.open(try #require(fields["secret"]), for: "keeper") == secretBytes)
            #expect(vault.open(try #require(fields["secret"]), for: "other") == nil)
            #expect(fields.keys.filter { $0.hasPrefix("rc:") }.count == 9)
            #expect(fields["rc:" + (vault.recoveryDigest(of: user.recoveryCodes[2]) ?? "")] == "1")
            let metrics = try await app.client.get("/metrics").text
            let events = try await EventTests.events(redis, prefix) { entries in
                entries.contains { $0["type"] == "factor_failed" } && entries.count { $0["type"] == "login" } >= 3
            }
            for secret in forbidden {
                #expect(!stored.contains(secret), "in Redis: \(secret)")
                #expect(!logs.text.contains(secret), "in the logs: \(secret)")
                #expect(!metrics.contains(secret), "in the metrics: \(secret)")
                #expect(!"\(events)".contains(secret), "in the events: \(secret)")
            }
            #expect(events.contains { $0["type"] == "factor_enrolled" && $0["user"] == "keeper" })
            #expect(events.contains { $0["type"] == "login" && $0["method"] == "recovery_code" })
        }
    }
}
