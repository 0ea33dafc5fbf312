import Foundation
import RedisClient
import TestSupport
import Testing

@testable import RedisStore

@Suite("Lua scripts")
struct LuaScriptsTests {
    @Test func theEmbeddedScriptsMatchRedisLua() throws {
        let folder = repositoryRoot.appendingPathComponent("redis/lua")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".lua") }
        #expect(files.count == LuaScripts.all.count, "run redis/lua/embed.sh")
        let embedded = Set(LuaScripts.all.map(\.source))
        for file in files {
            let source = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            let trimmed = source.hasSuffix("\n") ? String(source.dropLast()) : source
            #expect(embedded.contains(trimmed), "\(file) differs from LuaScripts.swift: run redis/lua/embed.sh")
        }
    }

    /// Every script touches only keys it is given (Redis Cluster routes and migrates by them). The
    /// scripts that act on all of a user's sessions are given the keys the caller read from the
    /// index; when a session was opened in between, they must do nothing and say so (-2), never act
    /// on a partial list. Called here directly, with one session's key left out on purpose.
    @Test func scriptsGivenAnIncompleteListOfSessionKeysDoNothing() async throws {
        let redis = try TestRedis.makeClient()
        try await withTeardown({ await redis.shutdown() }) {
            let keys = RedisKeys(prefix: TestRedis.uniquePrefix("lua"))
            let user = "partial"
            let now = Int(Date().timeIntervalSince1970)
            _ = try await redis.evalSHA(
                LuaScripts.createUser, keys: [keys.user(user), keys.client(user)], arguments: ["hash", String(now)])
            func open(_ id: String, cap: Int = 100, extra: [String] = []) async throws -> RedisValue {
                try await redis.evalSHA(
                    LuaScripts.createSession,
                    keys: [keys.session(user, id), keys.sessions(user), keys.user(user)] + extra,
                    arguments: [
                        id, "rt-\(id)", String(now), String(now + 600), String(now + 3600), "", "", "1", String(cap),
                    ])
            }
            for id in ["s1", "s2", "s3"] { #expect(try await open(id).array?.first?.int == 1) }
            let known = [keys.session(user, "s1"), keys.session(user, "s2")]  // s3 left out
            let prefix = keys.sessionPrefix(user)

            let ended = try await redis.evalSHA(
                LuaScripts.endSessions, keys: [keys.sessions(user)] + known, arguments: [prefix, "", "none"])
            #expect(ended.int == -2)
            let listed = try await redis.evalSHA(
                LuaScripts.listSessions, keys: [keys.sessions(user)] + known, arguments: [prefix, String(now)])
            #expect(listed.int == -2)
            let changed = try await redis.evalSHA(
                LuaScripts.changePassword, keys: [keys.user(user), keys.sessions(user)] + known,
                arguments: ["1", "new-hash", prefix])
            #expect(changed.int == -2)
            let granted = try await redis.evalSHA(
                LuaScripts.setUserRoles, keys: [keys.user(user), keys.sessions(user)] + known,
                arguments: [prefix, "add", "admin", "32"])
            #expect(granted.int == -2)
            #expect(try await redis.send("HGET", [keys.user(user), "roles"]).isNull)
            #expect(try await redis.send("HGET", [keys.session(user, "s1"), "roles"]).string == "")
            // At the cap of 3, a fourth session must end s1 (closest to expiry, first in the index):
            // without its key the script names the candidates and opens nothing.
            let refused = try await open("s4", cap: 3)
            #expect(refused.array?.first?.int == -2)
            #expect(refused.array?.dropFirst().compactMap(\.string).first == "s1", "\(refused)")
            // Nothing changed: three sessions, all stored, the password untouched, no s4.
            #expect(try await redis.send("ZCARD", [keys.sessions(user)]).int == 3)
            for id in ["s1", "s2", "s3"] {
                #expect(try await redis.send("EXISTS", [keys.session(user, id)]).int == 1)
            }
            #expect(try await redis.send("EXISTS", [keys.session(user, "s4")]).int == 0)
            #expect(try await redis.send("HGET", [keys.user(user), "password"]).string == "hash")
            // With the named key, it opens s4 and ends s1; with every key, logout everywhere works.
            #expect(try await open("s4", cap: 3, extra: [keys.session(user, "s1")]).array?.first?.int == 1)
            #expect(try await redis.send("EXISTS", [keys.session(user, "s1")]).int == 0)
            let all = ["s2", "s3", "s4"].map { keys.session(user, $0) }
            let endedAll = try await redis.evalSHA(
                LuaScripts.endSessions, keys: [keys.sessions(user)] + all, arguments: [prefix, "", "none"])
            #expect(endedAll.int == 3)
        }
    }
}
