import Foundation
import RedisClient
import TestSupport
import Testing

@Suite("AUTH, SELECT and CLIENT SETNAME on connect")
struct RedisAuthTests {
    @Test func anACLUserWorksAndAWrongPasswordIsRefusedWithoutEchoingIt() async throws {
        let admin = try TestRedis.makeClient()
        let user = "authd-test-\(UUID().uuidString.prefix(8))"
        let password = "pw-\(UUID().uuidString)"
        try await admin.send("ACL", ["SETUSER", user, "on", ">" + password, "~*", "+@all"])
        try await withTeardown({ _ = try? await admin.send("ACL", ["DELUSER", user]) }) {
            let base = try TestRedis.configuration()
            guard case .tcp(let host, let port) = base.endpoint else { return }
            let good = try TestRedis.makeClient(
                RedisConfiguration(url: "redis://\(user):\(password)@\(host):\(port)/0"))
            try await TestRedis.waitUntilConnected(good)
            #expect(try await good.send("ACL", ["WHOAMI"]).string == user)
            await good.shutdown()

            let wrongPassword = "wrong-\(UUID().uuidString)"
            var bad = try RedisConfiguration(url: "redis://\(user):\(wrongPassword)@\(host):\(port)/0")
            bad.poolSize = 1
            // The verdict is the error's kind: a loaded machine must not turn it into a timeout.
            bad.connectTimeout = .seconds(10)
            let client = try TestRedis.makeClient(bad)
            do {
                try await client.ping()
                Issue.record("a wrong password was accepted")
            } catch {
                guard case RedisClientError.authenticationFailed = error else {
                    Issue.record("expected authenticationFailed, got \(error)")
                    return
                }
                #expect(!"\(error)".contains(wrongPassword))
                #expect(!String(reflecting: error).contains(wrongPassword))
            }
            // Later commands, sent while the client backs off and retries, name the cause too rather
            // than a bare "unavailable", whichever moment they arrive at.
            for _ in 0..<3 {
                try await Task.sleep(for: .milliseconds(120))
                await #expect {
                    try await client.ping()
                } throws: { error in
                    if case RedisClientError.authenticationFailed = error { true } else { false }
                }
            }
            await client.shutdown()
        }
    }

    @Test func passwordOnlyAuthSelectAndConnectionName() async throws {
        let password = "requirepass-\(UUID().uuidString.prefix(8))"
        let server = try RedisServerProcess(extraArguments: ["--requirepass", password])
        try await server.start()
        var configuration = try RedisConfiguration(url: "redis://:\(password)@127.0.0.1:\(server.port)/5")
        configuration.connectionName = "authd-auth-test"
        let redis = try TestRedis.makeClient(configuration)
        try await TestRedis.waitUntilConnected(redis)
        let info = try await redis.send("CLIENT", ["INFO"]).string ?? ""
        #expect(info.contains("db=5"))
        #expect(info.contains("name=authd-auth-test"))
        await redis.shutdown()

        // Generous, for a loaded machine: a connect that times out would hide the refusal under test.
        var unauthenticated = try RedisConfiguration(url: server.url)
        unauthenticated.connectTimeout = .seconds(10)
        let noPassword = try TestRedis.makeClient(unauthenticated)
        await #expect {
            try await noPassword.ping()
        } throws: { error in
            if case RedisClientError.authenticationFailed = error { true } else { false }
        }
        // Once the server is gone, that is what commands report: the refused AUTH is not kept.
        server.kill()
        let clock = ContinuousClock()
        let end = clock.now + .seconds(5)
        var last: (any Error)?
        while clock.now < end {
            do { try await noPassword.ping() } catch { last = error }
            if case RedisClientError.unavailable? = last as? RedisClientError { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(last as? RedisClientError == .unavailable, "\(String(describing: last))")
        await noPassword.shutdown()
    }
}
