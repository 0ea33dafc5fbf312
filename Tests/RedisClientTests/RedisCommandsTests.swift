import RedisClient
import TestSupport
import Testing

@Suite("Typed commands against a real Redis")
struct RedisCommandsTests {
    let redis: RedisClient
    let prefix = TestRedis.uniquePrefix("cmd")

    init() throws {
        self.redis = try TestRedis.makeClient()
    }

    @Test func setAndGetWithExpiryAndConditions() async throws {
        let key = self.prefix + "s"
        #expect(try await self.redis.get(key) == nil)
        #expect(try await self.redis.set(key, to: "v1", expiration: .seconds(100), condition: .ifNotExists))
        #expect(try await !self.redis.set(key, to: "v2", condition: .ifNotExists))
        #expect(try await self.redis.get(key) == "v1")
        #expect(try await self.redis.set(key, to: "v3", expiration: .milliseconds(50_000), condition: .ifExists))
        #expect(try await self.redis.get(key) == "v3")
        let pttl = try await self.redis.pttl(key)
        #expect(pttl > 40_000 && pttl <= 50_000)
        #expect(try await !self.redis.set(self.prefix + "absent", to: "x", condition: .ifExists))
        #expect(try await self.redis.delete([key]) == 1)
    }

    @Test func keysExistExpireAndTTL() async throws {
        let a = self.prefix + "a"
        let b = self.prefix + "b"
        try await self.redis.set(a, to: "1")
        try await self.redis.set(b, to: "2")
        #expect(try await self.redis.exists([a, b, self.prefix + "none"]) == 2)
        #expect(try await self.redis.ttl(a) == -1)
        #expect(try await self.redis.expire(a, seconds: 30))
        let ttl = try await self.redis.ttl(a)
        #expect(ttl > 25 && ttl <= 30)
        #expect(try await self.redis.ttl(self.prefix + "none") == -2)
        #expect(try await self.redis.delete([a, b]) == 2)
        #expect(try await self.redis.exists([a, b]) == 0)
    }

    @Test func hashes() async throws {
        let key = self.prefix + "h"
        #expect(try await self.redis.hgetall(key).isEmpty)
        #expect(try await self.redis.hset(key, fields: [("f1", "v1"), ("f2", "v2")]) == 2)
        #expect(try await self.redis.hgetall(key) == ["f1": "v1", "f2": "v2"])
        #expect(try await self.redis.hdel(key, fields: ["f1", "missing"]) == 1)
        #expect(try await self.redis.hgetall(key) == ["f2": "v2"])
        try await self.redis.delete([key])
    }

    @Test func sortedSets() async throws {
        let key = self.prefix + "z"
        #expect(try await self.redis.zadd(key, members: [(3, "c"), (1, "a"), (2.5, "b")]) == 3)
        let all = try await self.redis.zrange(key)
        #expect(all.map(\.member) == ["a", "b", "c"])
        #expect(all.map(\.score) == [1, 2.5, 3])
        #expect(try await self.redis.zremrangebyscore(key, min: "-inf", max: "(2.5") == 1)
        #expect(try await self.redis.zrem(key, members: ["c", "zz"]) == 1)
        #expect(try await self.redis.zrange(key).map(\.member) == ["b"])
        try await self.redis.delete([key])
    }

    @Test func scanFindsEveryMatchingKey() async throws {
        let keys = (0..<250).map { self.prefix + "scan:\($0)" }
        // An hour: the test deletes them, and no pause of the machine (one of a minute was seen)
        // can expire them before the scan.
        for key in keys { try await self.redis.set(key, to: "x", expiration: .seconds(3600)) }
        let found = try await self.redis.scanAll(match: self.prefix + "scan:*", count: 50)
        #expect(Set(found) == Set(keys))
        try await self.redis.delete(keys)
    }

    @Test func serverErrorsAreTypedAndLeaveTheConnectionUsable() async throws {
        let key = self.prefix + "wrongtype"
        try await self.redis.hset(key, fields: [("f", "v")])
        await #expect {
            _ = try await self.redis.get(key)
        } throws: { error in
            (error as? RedisServerError)?.code == "WRONGTYPE"
        }
        await #expect {
            _ = try await self.redis.send("NOSUCHCOMMAND", [])
        } throws: { error in
            (error as? RedisServerError)?.code == "ERR"
        }
        try await self.redis.ping()
        try await self.redis.delete([key])
    }

    @Test func binaryArgumentsRoundTrip() async throws {
        let key = self.prefix + "bin"
        var command = RedisCommand("SET", [key])
        command.append(bytes: [0, 1, 13, 10, 255])
        _ = try await self.redis.send(command)
        #expect(try await self.redis.send("GET", [key]) == .bulkString([0, 1, 13, 10, 255]))
        try await self.redis.delete([key])
    }
}
