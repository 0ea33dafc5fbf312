import AuthCore
import AuthdApp
import Foundation
import RedisClient
import RedisStore
import TestSupport
import Testing

/// Security events (docs/EVENTS.md): each type made by a real request or operator command and read
/// back from its Redis stream; what a lost event does; trimming.
@Suite("Security events")
struct EventTests {
    typealias Entry = [String: String]

    /// Every entry of the prefix's event streams, oldest first, with its id as `id`.
    static func events(_ redis: RedisClient, _ prefix: String, shards: Int = 1) async throws -> [Entry] {
        var entries: [Entry] = []
        for shard in 0..<shards {
            let reply = try await redis.send("XRANGE", ["\(prefix)events:{\(shard)}", "-", "+"])
            for item in reply.array ?? [] {
                guard let parts = item.array, parts.count == 2, let id = parts[0].string else { continue }
                let flat = parts[1].array ?? []
                var entry = ["id": id]
                for index in stride(from: 0, to: flat.count - 1, by: 2) {
                    entry[flat[index].string ?? ""] = flat[index + 1].string ?? ""
                }
                entries.append(entry)
            }
        }
        return entries
    }

    /// The events once `condition` holds of them: an event that is no revocation's is written
    /// after the answer, with the next batch (docs/EVENTS.md), so a test waits for it (up to 30 s,
    /// for a loaded machine; it takes a round trip).
    static func events(
        _ redis: RedisClient, _ prefix: String, when condition: @escaping ([Entry]) -> Bool
    ) async throws -> [Entry] {
        var entries: [Entry] = []
        try await waitUntil(within: .seconds(30), "the events expected") {
            entries = try await Self.events(redis, prefix)
            return condition(entries)
        }
        return entries
    }

    static func operate<T>(_ prefix: String, _ body: (Operator) async throws -> T) async throws -> T {
        try await Operator.with(environment: TestRedis.operatorEnvironment(prefix: prefix), body)
    }

    static func refreshToken(_ response: TestResponse) throws -> String {
        try #require(response.json["refreshToken"] as? String, "\(response.text)")
    }

    static func accessToken(_ response: TestResponse) throws -> String {
        try #require(response.json["accessToken"] as? String, "\(response.text)")
    }

    static func counter(_ app: TestApp, _ line: String) async throws -> Double {
        let text = try await app.client.get("/metrics").text
        return text.split(separator: "\n").first { $0.hasPrefix(line + " ") }.flatMap {
            Double($0.split(separator: " ").last ?? "")
        } ?? 0
    }

    /// Each type of event, from the request or command that makes it, read back from Redis with
    /// where it came from; and none of the secrets the flow handled (passwords, tokens, client
    /// secrets, the stored hashes) in any field of any event.
    @Test func everyDecisionIsAnEventAndNoEventHoldsASecret() async throws {
        let secrets = TestSecrets()
        let redis = try TestRedis.makeClient()
        let app = try await TestApp.start(secrets: secrets) {
            $0.auth.maxSessionsPerUser = 2
            $0.auth.throttle.userFromAddress = .init(failures: 2, windowSeconds: 60)
        }
        try await withTeardown({
            await app.stop()
            await redis.shutdown()
        }) {
            var handled = [secrets.access, secrets.refresh]
            let password = "correct horse battery"
            let newPassword = "a brand new password"
            handled += [password, newPassword]
            let client = app.client
            let agent = [("user-agent", "EventTests/1.0")]

            #expect(try await client.json("POST", "/users", ["username": "Eve", "password": password]).status == 201)
            let first = try await client.json(
                "POST", "/login", ["username": "eve", "password": password], headers: agent)
            #expect(first.status == 200)
            let firstRefresh = try Self.refreshToken(first)
            handled += [firstRefresh, try Self.accessToken(first), first.json["deviceToken"] as? String ?? ""]

            // Verify decides nothing new: it records nothing (and stays the hot path it is).
            let before = try await Self.events(redis, app.prefix) { $0.contains { $0["type"] == "login" } }.count
            for _ in 0..<10 {
                #expect(try await client.get("/me", bearer: try Self.accessToken(first)).status == 200)
                #expect(try await client.get("/forward-auth", bearer: try Self.accessToken(first)).status == 200)
            }
            #expect(try await Self.events(redis, app.prefix).count == before)

            let refreshed = try await client.json("POST", "/token", ["token": firstRefresh])
            #expect(refreshed.status == 200)
            handled += [try Self.refreshToken(refreshed), try Self.accessToken(refreshed)]
            let second = try await client.json("POST", "/login", ["username": "eve", "password": password])
            #expect(second.status == 200)
            handled += [try Self.refreshToken(second), try Self.accessToken(second)]

            // The user ends a session of theirs; then an access token is revoked (RFC 7009), and a
            // refresh token, which ends its session.
            let firstID = try #require(
                (try await client.get("/me", bearer: try Self.accessToken(refreshed))).json["sessionId"] as? String)
            let bearer = [("authorization", "Bearer \(try Self.accessToken(second))")]
            #expect(try await client.request("DELETE", "/sessions/\(firstID)", headers: bearer).status == 204)
            let form = [("content-type", "application/x-www-form-urlencoded")]
            for token in [try Self.accessToken(second), try Self.refreshToken(second)] {
                #expect(
                    try await client.request("POST", "/revoke", headers: form, body: Array("token=\(token)".utf8))
                        .status == 200)
            }

            // Logout of every scope, and a password change (which ends the user's sessions).
            let third = try await client.json("POST", "/login", ["username": "eve", "password": password])
            let fourth = try await client.json("POST", "/login", ["username": "eve", "password": password])
            handled += [try Self.refreshToken(third), try Self.accessToken(third), try Self.refreshToken(fourth)]
            #expect(
                try await client.json("POST", "/logout", ["token": try Self.refreshToken(third), "scope": "others"])
                    .status == 204)
            let changed = try await client.json(
                "POST", "/password", ["oldPassword": password, "newPassword": newPassword],
                headers: [("authorization", "Bearer \(try Self.accessToken(third))")])
            #expect(changed.status == 204, "\(changed.text)")
            let fifth = try await client.json("POST", "/login", ["username": "eve", "password": newPassword])
            handled += [try Self.refreshToken(fifth), try Self.accessToken(fifth)]
            #expect(try await client.json("DELETE", "/logout", ["token": try Self.refreshToken(fifth)]).status == 204)
            let sixth = try await client.json("POST", "/login", ["username": "eve", "password": newPassword])
            handled += [try Self.refreshToken(sixth), try Self.accessToken(sixth)]
            #expect(
                try await client.json("POST", "/logout", ["token": try Self.refreshToken(sixth), "scope": "global"])
                    .status == 204)

            // Reuse: rotated twice, the first token is two behind, which is reuse whatever the
            // grace window.
            let seventh = try await client.json("POST", "/login", ["username": "eve", "password": newPassword])
            let spent = try Self.refreshToken(seventh)
            let next = try await client.json("POST", "/token", ["token": spent])
            let after = try await client.json("POST", "/token", ["token": try Self.refreshToken(next)])
            handled += [spent, try Self.refreshToken(next), try Self.refreshToken(after)]
            #expect(try await client.json("POST", "/token", ["token": spent]).status == 400)

            // The cap (2): a third login of a user ends the session closest to expiry.
            for _ in 0..<3 {
                let response = try await app.signUpAndLogIn("cap", password: password)
                handled += [try Self.refreshToken(response), try Self.accessToken(response)]
            }

            // Wrong passwords, then the throttle.
            for _ in 0..<2 {
                #expect(
                    try await client.json("POST", "/login", ["username": "cap", "password": "wrong!"]).status == 401)
            }
            #expect(try await client.json("POST", "/login", ["username": "cap", "password": "wrong!"]).status == 429)
            // A refused login costs nothing, so its events are sampled (one an address every
            // 10 s), or a flood of them would trim the trail away.
            for _ in 0..<20 {
                #expect(
                    try await client.json("POST", "/login", ["username": "cap", "password": "wrong!"]).status == 429)
            }

            // A registered client: a token of its own, and a wrong secret.
            let issued = try await Self.operate(app.prefix) {
                try await $0.addClient(.init(id: "billing", permissions: [.token]))
            }.secret
            handled.append(issued.secret)
            let basic = "Basic \(Data("billing:\(issued.secret)".utf8).base64EncodedString())"
            let grant = try await client.request(
                "POST", "/token", headers: form + [("authorization", basic)],
                body: Array("grant_type=client_credentials".utf8))
            #expect(grant.status == 200)
            handled.append(try #require(grant.json["access_token"] as? String))
            let wrong = try await client.request(
                "POST", "/token",
                headers: form + [("authorization", "Basic \(Data("billing:nope".utf8).base64EncodedString())")],
                body: Array("grant_type=client_credentials".utf8))
            #expect(wrong.status == 401)

            // A second factor: enrolled, a wrong code, a step-up and a removal with recovery codes
            // (the enrolment's code spent the current step), and a login with one.
            let factorLogin = try await app.signUpAndLogIn("fay", password: password)
            let factorToken = try Self.accessToken(factorLogin)
            let factorBearer = [("authorization", "Bearer \(factorToken)")]
            let begun = try await client.json("POST", "/mfa/totp", ["password": password], headers: factorBearer)
            let totpSecret = try #require(begun["secret"])
            let confirmed = try await client.json(
                "POST", "/mfa/totp/confirm",
                ["code": try await Authenticator(secret: totpSecret).code(at: Int(Date().timeIntervalSince1970))],
                headers: factorBearer)
            let recovery = try #require(confirmed.json["recovery_codes"] as? [String])
            handled += [totpSecret, factorToken, try Self.refreshToken(factorLogin)] + recovery
            #expect(
                try await client.json("POST", "/mfa/step-up", ["code": "000000"], headers: factorBearer).status == 400)
            let stepped = try await client.json(
                "POST", "/mfa/step-up", ["recovery_code": recovery[0]], headers: factorBearer)
            #expect(stepped.status == 200)
            handled.append(try Self.accessToken(stepped))
            let challenged = try await client.json("POST", "/login", ["username": "fay", "password": password])
            let mfaToken = try #require(challenged["mfa_token"])
            let completed = try await client.json(
                "POST", "/login/mfa", ["mfa_token": mfaToken, "recovery_code": recovery[1]])
            #expect(completed.status == 200)
            handled += [mfaToken, try Self.accessToken(completed), try Self.refreshToken(completed)]
            #expect(
                try await client.json("DELETE", "/mfa", ["recovery_code": recovery[2]], headers: factorBearer).status
                    == 204)

            // Operators' commands.
            let added = try await Self.operate(app.prefix) { tool in
                _ = try await tool.addUser(username: "olga", password: password)
                _ = try await tool.changeRole(username: "olga", role: "admin", add: true)
                _ = try await tool.changeRole(username: "olga", role: "admin", add: false)
                _ = try await tool.resetPassword(username: "olga", password: newPassword)
                _ = try await tool.revoke(username: "olga", sessionID: nil)
                #expect(try await tool.resetFactor(username: "olga") == false)
                _ = try await tool.setDisabled(username: "olga", true)
                _ = try await tool.setDisabled(username: "olga", false)
                _ = try await tool.deleteUser(username: "olga")
                _ = try await tool.updateClient(id: "billing", .init(roles: ["svc"]))
                let added = try await tool.addClientSecret(id: "billing")
                try await tool.removeClientSecret(id: "billing", secretID: added.id)
                try await tool.removeClient(id: "billing")
                try await tool.record(SecurityEvent(.keyRotated, subject: "", details: [("kid", "k1")]))
                return added
            }
            handled.append(added.secret)

            let all = Set(SecurityEvent.Kind.allCases.map(\.rawValue))
            let events = try await Self.events(redis, app.prefix) { Set($0.compactMap { $0["type"] }) == all }
            let types = Set(events.compactMap { $0["type"] })
            #expect(
                types == Set(SecurityEvent.Kind.allCases.map(\.rawValue)),
                "missing: \(Set(SecurityEvent.Kind.allCases.map(\.rawValue)).subtracting(types))")

            // Where each came from: the login's address, agent, instance and request id.
            let login = try #require(events.first { $0["type"] == "login" })
            #expect(login["user"] == "eve")
            #expect(login["sid"]?.count == 32)
            #expect(login["ip"] == "127.0.0.1")
            #expect(login["ua"] == "EventTests/1.0")
            #expect(login["instance"]?.hasSuffix(":\(app.port)") == true || login["instance"]?.isEmpty == false)
            #expect(login["request"]?.isEmpty == false)
            // Why each session ended.
            let reasons = Set(events.filter { $0["type"] == "session_ended" }.compactMap { $0["reason"] })
            #expect(
                reasons == ["cap", "reuse", "user", "revoke", "logout", "password", "operator", "account", "factor"])
            let scopes = Set(events.filter { $0["type"] == "logout" }.compactMap { $0["scope"] })
            #expect(scopes == ["local", "others", "global"])
            #expect(events.filter { $0["actor"] == "operator" }.count >= 12)
            #expect(events.first { $0["type"] == "login_failed" }?["user"] == "cap")
            #expect(events.filter { $0["type"] == "login_throttled" }.count == 1)
            #expect(events.first { $0["type"] == "client_auth_failed" }?["user"] == "billing")

            // No secret of the flow, in whole or as a token's signature, and no stored hash.
            let stored = try await redis.send("HGET", ["\(app.prefix)user:{eve}", "password"]).string ?? ""
            #expect(stored.hasPrefix("$argon2"))
            handled.append(stored)
            var needles = handled.filter { $0.count >= 8 }
            needles += handled.compactMap {
                $0.split(separator: ".").count == 3 ? String($0.split(separator: ".")[2]) : nil
            }
            for event in events {
                for (name, value) in event {
                    // A field holds at most 256 bytes: a token cut there is a part of it.
                    for needle in needles where value.contains(needle) || (value.count >= 12 && needle.contains(value))
                    {
                        Issue.record("event \(event["type"] ?? "?") has a secret in \(name)")
                    }
                }
            }
        }
    }

    /// The guarantee: a revocation is acknowledged only once its event is stored. A stream that
    /// cannot take an entry (here a key of the wrong type, a real Redis error) makes a logout
    /// answer 503, counted as lost; a login still succeeds, its event counted as lost. Once the
    /// stream takes entries again, the client's retry of the logout is recorded.
    @Test func aRevocationWhoseEventIsNotStoredIsNotAcknowledged() async throws {
        let redis = try TestRedis.makeClient()
        let app = try await TestApp.start()
        try await withTeardown({
            await app.stop()
            await redis.shutdown()
        }) {
            let stream = "\(app.prefix)events:{0}"
            let login = try await app.signUpAndLogIn("lou")
            let refresh = try Self.refreshToken(login)
            // The sign-up's and login's events are in before the stream is broken.
            _ = try await Self.events(redis, app.prefix) { $0.contains { $0["type"] == "login" } }
            let lostRevocations = try await Self.counter(app, #"authd_events_lost_total{revocation="true"}"#)
            let lostOthers = try await Self.counter(app, #"authd_events_lost_total{revocation="false"}"#)

            _ = try await redis.send("DEL", [stream])
            _ = try await redis.send("SET", [stream, "not a stream"])
            let logout = try await app.client.json("DELETE", "/logout", ["token": refresh])
            #expect(logout.status == 503, "\(logout.text)")
            #expect(try await Self.counter(app, #"authd_events_lost_total{revocation="true"}"#) > lostRevocations)
            #expect(try await app.logIn("lou").status == 200, "a login's event is not worth refusing it")
            // Written after the answer: counted once Redis refused it.
            try await waitUntil(within: .seconds(30), "the login's event counted lost") {
                try await Self.counter(app, #"authd_events_lost_total{revocation="false"}"#) > lostOthers
            }

            _ = try await redis.send("DEL", [stream])
            #expect(try await app.client.json("DELETE", "/logout", ["token": refresh]).status == 204)
            let events = try await Self.events(redis, app.prefix)
            #expect(events.map { $0["type"] ?? "" } == ["logout", "session_ended"])
            #expect(events.allSatisfy { $0["sid"] != nil })
        }
    }

    /// Trimmed by length on every write (approximately: Redis drops whole nodes of 100 entries)
    /// and by age once a second (exactly).
    @Test func streamsAreTrimmedByLengthAndByAge() async throws {
        let redis = try TestRedis.makeClient()
        let prefix = TestRedis.uniquePrefix("events")
        let log = RedisEventLog(
            redis: redis, keyPrefix: prefix, settings: .init(maxLength: 10, maxAge: 3600, instance: "test"))
        try await withTeardown({ await redis.shutdown() }) {
            for index in 0..<500 {
                try await log.record(SecurityEvent(.login, subject: "u\(index % 7)"))
            }
            let length = try await redis.send("XLEN", ["\(prefix)events:{0}"]).int ?? 0
            #expect(length > 0 && length <= 10 + 100, "\(length)")

            // Entries older than the age: one written 2 h ago by hand, then a write (a new log, so
            // that its trim is due) drops it.
            let old = Int64(Date().timeIntervalSince1970 - 7200) * 1000
            let aged = "\(prefix)aged:"
            _ = try await redis.send("XADD", ["\(aged)events:{0}", "\(old)-0", "type", "login"])
            let fresh = RedisEventLog(
                redis: redis, keyPrefix: aged, settings: .init(maxLength: 1000, maxAge: 3600, instance: "test"))
            try await fresh.record(SecurityEvent(.login, subject: "u"))
            let left = try await Self.events(redis, aged)
            #expect(left.count == 1)
            #expect(left.first?["id"] != "\(old)-0")
        }
    }
}
