import AuthCore
import RedisClient

/// The token domain's state in Redis: see ``RedisKeys`` for the layout and `redis/lua/` for the
/// scripts that change it atomically.
///
/// Any Redis failure, connection or server error alike, becomes ``StoreUnavailableError``: the
/// service then answers 503 instead of guessing.
public struct RedisAuthStore: AuthStore {
    public let keys: RedisKeys
    private let redis: RedisClient

    public init(redis: RedisClient, keyPrefix: String) {
        self.redis = redis
        self.keys = RedisKeys(prefix: keyPrefix)
    }

    public func createUser(username: String, passwordHash: String, now: Int) async throws -> Bool {
        try await self.run(
            LuaScripts.createUser, keys: [self.keys.user(username)], arguments: [passwordHash, String(now)]
        ).int == 1
    }

    public func passwordHash(username: String) async throws -> String? {
        let reply = try await self.guarded {
            try await self.redis.send("HGET", [self.keys.user(username), "password"])
        }
        return reply.isNull ? nil : reply.string
    }

    public func createSession(_ session: SessionRecord, now: Int) async throws {
        _ = try await self.run(
            LuaScripts.createSession,
            keys: [self.keys.session(session.username, session.id), self.keys.sessions(session.username)],
            arguments: [
                session.id, session.refreshTokenID, String(now), String(session.refreshExpiresAt),
                String(session.absoluteExpiresAt),
            ]
        )
    }

    public func rotateSession(_ rotation: SessionRotation) async throws -> RotationResult {
        let reply = try await self.run(
            LuaScripts.rotateSession,
            keys: [
                self.keys.session(rotation.username, rotation.sessionID), self.keys.sessions(rotation.username),
            ],
            arguments: [
                rotation.sessionID, rotation.presentedTokenID, rotation.nextTokenID, String(rotation.now),
                String(rotation.refreshExpiresAt),
            ]
        )
        let parts = reply.array?.compactMap(\.int) ?? []
        switch parts.first {
        case 1 where parts.count == 2: return .rotated(refreshExpiresAt: parts[1])
        case 0: return .unknownSession
        case -1: return .reused
        default: throw StoreUnavailableError(reason: "unexpected reply from rotate_session.lua")
        }
    }

    public func endSession(username: String, sessionID: String) async throws {
        _ = try await self.run(
            LuaScripts.endSession,
            keys: [self.keys.session(username, sessionID), self.keys.sessions(username)],
            arguments: [sessionID]
        )
    }

    public func isSessionActive(username: String, sessionID: String) async throws -> Bool {
        try await self.guarded { try await self.redis.exists([self.keys.session(username, sessionID)]) } == 1
    }

    public func checkHealth() async throws {
        try await self.guarded { try await self.redis.ping() }
    }

    private func run(_ script: RedisScript, keys: [String], arguments: [String]) async throws -> RedisValue {
        try await self.guarded { try await self.redis.evalSHA(script, keys: keys, arguments: arguments) }
    }

    /// Turns every Redis failure into ``StoreUnavailableError``, keeping the cause for the log.
    private func guarded<T>(_ operation: () async throws -> T) async throws -> T {
        do {
            return try await operation()
        } catch let error as RedisClientError {
            throw StoreUnavailableError(reason: error.description)
        } catch let error as RedisServerError {
            throw StoreUnavailableError(reason: error.description)
        }
    }
}
