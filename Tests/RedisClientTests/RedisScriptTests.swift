import RedisClient
import TestSupport
import Testing

@Suite("Scripts with EVALSHA")
struct RedisScriptTests {
    @Test func theSHAMatchesRedis() async throws {
        let redis = try TestRedis.makeClient()
        let script = RedisScript("return 'sha-check'")
        let sha = try await redis.send("SCRIPT", ["LOAD", script.source])
        #expect(sha.string == script.sha1)
    }

    @Test func evalSHARecoversFromScriptFlush() async throws {
        // Its own server: SCRIPT FLUSH would disturb the other tests' scripts on the shared one.
        let server = try RedisServerProcess()
        try await server.start()
        let redis = try TestRedis.makeClient(TestRedis.configuration(url: server.url))
        #expect(await TestRedis.allConnected(redis))
        let script = RedisScript("return redis.call('SET', KEYS[1], ARGV[1])")
        #expect(try await redis.evalSHA(script, keys: ["k"], arguments: ["1"]) == .simpleString("OK"))
        try await redis.send("SCRIPT", ["FLUSH"])
        #expect(try await redis.evalSHA(script, keys: ["k"], arguments: ["2"]) == .simpleString("OK"))
        #expect(try await redis.get("k") == "2")
        // After a restart the cache is empty too.
        server.kill()
        // Wait until the client has seen both connections drop: a busy event loop may notice
        // late, and a command sent in between would meet a connection that is going away.
        let clock = ContinuousClock()
        let end = clock.now + .seconds(5)
        while redis.connectedCount() > 0, clock.now < end { try await Task.sleep(for: .milliseconds(10)) }
        try await server.start()
        #expect(await TestRedis.allConnected(redis, timeout: .seconds(5)))
        #expect(try await redis.evalSHA(script, keys: ["k"], arguments: ["3"]) == .simpleString("OK"))
        await redis.shutdown()
    }

    @Test func aScriptErrorIsAServerError() async throws {
        let redis = try TestRedis.makeClient()
        let script = RedisScript("return redis.error_reply('CUSTOM boom')")
        await #expect {
            _ = try await redis.evalSHA(script, keys: [], arguments: [])
        } throws: { error in
            (error as? RedisServerError)?.code == "CUSTOM"
        }
    }
}
