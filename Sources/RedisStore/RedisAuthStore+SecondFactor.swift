import AuthCore
import RedisClient

extension RedisAuthStore {
    public func beginFactor(username: String, sealedSecret: String, expiresAt: Int, now: Int) async throws
        -> FactorChange
    {
        let reply = try await self.run(
            LuaScripts.beginFactor, keys: [self.keys.factor(username), self.keys.user(username)],
            arguments: [sealedSecret, String(expiresAt), String(now)])
        return Self.factorChange(reply)
    }

    public func factor(username: String) async throws -> StoredFactor? {
        let replies = try await self.guarded {
            try await self.redis.pipeline([
                RedisCommand("HGETALL", [self.keys.factor(username)]),
                RedisCommand("HGET", [self.keys.user(username), "factor"]),
            ])
        }
        guard replies.count == 2 else { throw StoreUnavailableError(reason: "unexpected reply to HGETALL") }
        let fields = Self.fields(replies[0].array ?? [])
        let active = replies[1].string == "totp"
        guard !fields.isEmpty else { return nil }
        return StoredFactor(
            sealedSecret: active ? fields["secret"] : nil, lastStep: fields["step"].flatMap { Int($0) } ?? -1,
            pendingSecret: fields["pending"], pendingExpiresAt: fields["pending_exp"].flatMap { Int($0) } ?? 0,
            recoveryCodesLeft: fields.keys.filter { $0.hasPrefix("rc:") }.count)
    }

    public func confirmFactor(
        username: String, sealedSecret: String, step: Int, recoveryDigests: [String], now: Int
    ) async throws -> FactorChange {
        let reply = try await self.runDurablyOrUnavailable(
            LuaScripts.confirmFactor, keys: [self.keys.factor(username), self.keys.user(username)],
            arguments: [sealedSecret, String(step), String(now)] + recoveryDigests)
        return Self.factorChange(reply)
    }

    public func removeFactor(username: String) async throws -> Bool {
        try await self.runDurablyOrUnavailable(
            LuaScripts.removeFactor, keys: [self.keys.factor(username), self.keys.user(username)], arguments: []
        ).int == 1
    }

    public func createChallenge(_ challenge: FactorChallenge, expiresAt: Int, now: Int) async throws {
        let key = self.keys.challenge(challenge.username, challenge.id)
        _ = try await self.guarded {
            try await self.redis.pipeline([
                RedisCommand(
                    "HSET",
                    [
                        key, "pwv", challenge.passwordVersion, "ua", challenge.client.userAgent, "ip",
                        challenge.client.ip, "device", challenge.device ?? "",
                    ]),
                RedisCommand("EXPIRE", [key, String(max(expiresAt - now, 1))]),
            ])
        }
    }

    public func challengeExists(username: String, id: String) async throws -> Bool {
        try await self.guarded {
            try await self.redis.send("EXISTS", [self.keys.challenge(username, id)])
        }.int == 1
    }

    public func spendFactor(username: String, proof: FactorProof, for use: FactorUse, now: Int) async throws
        -> FactorSpend
    {
        var keys = [self.keys.factor(username), self.keys.user(username)]
        var arguments: [String]
        switch proof {
        case .code(let step): arguments = ["code", String(step)]
        case .recovery(let digest): arguments = ["recovery", digest]
        }
        switch use {
        case .challenge(let id):
            keys.append(self.keys.challenge(username, id))
            arguments += ["challenge", String(now)]
        case .stepUp(let sessionID, let assurance):
            keys.append(self.keys.session(username, sessionID))
            arguments += ["session", String(now), assurance.storedMethods]
        case .check:
            arguments += ["check", String(now)]
        }
        // A spent step must survive a failover, or the code could be spent again on the new primary.
        let parts =
            try await self.runDurablyOrUnavailable(LuaScripts.spendFactor, keys: keys, arguments: arguments).array ?? []
        switch parts.first?.int {
        case 1 where parts.count == 6:
            let left = parts[1].int ?? 0
            guard case .challenge(let id) = use else { return .spent(challenge: nil, recoveryCodesLeft: left) }
            let device = parts[5].string ?? ""
            return .spent(
                challenge: FactorChallenge(
                    id: id, username: username, passwordVersion: parts[2].string ?? "",
                    client: ClientInfo(userAgent: parts[3].string, ip: parts[4].string),
                    device: device.isEmpty ? nil : device),
                recoveryCodesLeft: left)
        case 0: return .refused
        case -1: return .noFactor
        case -2: return .gone
        default: throw StoreUnavailableError(reason: "unexpected reply from spend_factor.lua")
        }
    }

    /// A session's assurance from its fields `amr` and `auth_time` (empty for a session opened
    /// before authd kept them: a password, at an unknown time).
    static func assurance(_ methods: RedisValue, _ time: RedisValue) -> Assurance {
        Assurance(storedMethods: methods.string, authTime: time.string.flatMap { Int($0) })
    }

    private static func factorChange(_ reply: RedisValue) -> FactorChange {
        switch reply.int {
        case 1: .done
        case -1: .active
        case -2: .noUser
        default: .stale
        }
    }
}
