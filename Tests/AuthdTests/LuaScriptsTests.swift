import Foundation
import TestSupport
import Testing

@testable import AuthStore

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
}
