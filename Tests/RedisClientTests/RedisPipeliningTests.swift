import RedisClient
import TestSupport
import Testing

@Suite("Pipelining on one connection")
struct RedisPipeliningTests {
    @Test func tenThousandConcurrentCommandsEachGetTheirOwnReply() async throws {
        var configuration = try TestRedis.configuration()
        configuration.poolSize = 1
        configuration.commandTimeout = .seconds(30)
        let redis = try TestRedis.makeClient(configuration)
        try await TestRedis.waitUntilConnected(redis)
        let mismatches = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<10_000 {
                group.addTask {
                    let reply = try await redis.send("ECHO", ["reply-\(index)"])
                    return reply.string == "reply-\(index)"
                }
            }
            var mismatches = 0
            for try await matched in group where !matched { mismatches += 1 }
            return mismatches
        }
        #expect(mismatches == 0)
        await redis.shutdown()
    }
}
