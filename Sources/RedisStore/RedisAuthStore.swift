import AuthCore
import RedisClient

/// The token domain's state in Redis: see ``RedisKeys`` for the layout and `redis/lua/` for the
/// scripts that change it atomically.
///
/// Any Redis failure, connection or server error alike, becomes ``StoreUnavailableError``: the
/// service then answers 503 instead of guessing.
public struct RedisAuthStore: AuthStore {
    /// When a revocation counts as done.
    public struct Durability: Sendable {
        /// Replicas that must have a revocation (logout, revoke, rotation) before it is
        /// acknowledged, checked with `WAIT`. 0: the primary's word is enough.
        public var replicas = 0
        /// How long `WAIT` may take; a revocation not replicated by then is answered with 503.
        public var timeoutMilliseconds = 100

        public init(replicas: Int = 0, timeoutMilliseconds: Int = 100) {
            self.replicas = replicas
            self.timeoutMilliseconds = timeoutMilliseconds
        }
    }

    public let keys: RedisKeys
    let redis: RedisClient
    private let durability: Durability
    private let serverClock = ServerClock()

    public init(redis: RedisClient, keyPrefix: String, durability: Durability = Durability()) {
        self.redis = redis
        self.keys = RedisKeys(prefix: keyPrefix)
        self.durability = durability
    }

    // MARK: Users

    public func createUser(username: String, passwordHash: String, now: Int) async throws -> Bool {
        try await self.run(
            LuaScripts.createUser, keys: [self.keys.user(username), self.keys.client(username)],
            arguments: [passwordHash, String(now)]
        ).int == 1
    }

    public func userExists(username: String) async throws -> Bool {
        try await self.guarded { try await self.redis.send("EXISTS", [self.keys.user(username)]) }.int == 1
    }

    public func password(username: String) async throws -> StoredPassword? {
        // A disabled user is no user to log in as: the login fails as for an unknown name.
        guard let stored = try await self.storedPassword(username: username), !stored.disabled else { return nil }
        return stored.password
    }

    /// The user's password and whether the user is disabled; nil when there is no such user.
    private func storedPassword(username: String) async throws -> (password: StoredPassword, disabled: Bool)? {
        let reply = try await self.guarded {
            try await self.redis.send("HMGET", [self.keys.user(username), "password", "pwv", "disabled", "factor"])
        }
        guard let fields = reply.array, fields.count == 4, let hash = fields[0].string else { return nil }
        // A user created before password versions existed is at version 0.
        return (
            StoredPassword(hash: hash, version: fields[1].string ?? "0", hasSecondFactor: !fields[3].isNull),
            !fields[2].isNull
        )
    }

    public func upgradePasswordHash(username: String, verified: String, upgraded: String) async throws -> Bool {
        try await self.run(
            LuaScripts.upgradePasswordHash, keys: [self.keys.user(username)], arguments: [verified, upgraded]
        ).int == 1
    }

    public func changePassword(username: String, expectedVersion: String, newHash: String) async throws -> Int? {
        try await self.revokeWithUser(
            username, LuaScripts.changePassword,
            arguments: [expectedVersion, newHash, self.keys.sessionPrefix(username)])
    }

    /// Runs a revocation script that takes the user's hash, the session index and every session
    /// key the index lists (`change_password.lua`, `delete_user.lua`, `set_user_disabled.lua`), and
    /// returns its count (nil for its -1).
    private func revokeWithUser(_ username: String, _ script: RedisScript, arguments: [String]) async throws -> Int? {
        Self.count(try await self.runRevocationWithUser(username, script, arguments: arguments))
    }

    /// Runs a revocation script given the user's hash, the session index and every session key the
    /// index lists (again while the index changes under it), and returns its reply.
    private func runRevocationWithUser(_ username: String, _ script: RedisScript, arguments: [String])
        async throws -> RedisValue
    {
        try await self.withSessionKeys(username) { sessionKeys in
            try await self.runRevocation(
                script, keys: [self.keys.user(username), self.keys.sessions(username)] + sessionKeys,
                arguments: arguments)
        }
    }

    // MARK: Users, for operators

    /// One user as `authd users list` shows it.
    public struct UserRecord: Sendable, Equatable {
        public var username: String
        public var createdAt: Int
        public var disabled: Bool
        /// Sessions live now.
        public var sessions: Int
        public var roles: [String] = []
    }

    /// The user, or nil when there is none.
    public func user(username: String, now: Int) async throws -> UserRecord? {
        let reply = try await self.guarded {
            try await self.redis.pipeline([
                RedisCommand("HMGET", [self.keys.user(username), "created", "disabled", "password", "roles"]),
                RedisCommand("ZCOUNT", [self.keys.sessions(username), "(\(now)", "+inf"]),
            ])
        }
        guard reply.count == 2, let fields = reply[0].array, fields.count == 4, !fields[2].isNull else { return nil }
        return UserRecord(
            username: username, createdAt: fields[0].int ?? 0, disabled: !fields[1].isNull,
            sessions: reply[1].int ?? 0, roles: Roles.parse(fields[3].string))
    }

    /// Every user, by name (a `SCAN` of the user keys; on a cluster, of every primary).
    public func listUsers(now: Int) async throws -> [UserRecord] {
        // `PREFIXuser:{NAME}`: the key with an empty name, less its closing brace.
        let head = String(self.keys.user("").dropLast())
        let keys = try await self.guarded { try await self.redis.scanAll(match: Self.globEscaped(head) + "*}") }
        var users: [UserRecord] = []
        for key in keys where key.hasPrefix(head) && key.hasSuffix("}") {
            let name = String(key.dropFirst(head.count).dropLast())
            if let user = try await self.user(username: name, now: now) { users.append(user) }
        }
        return users.sorted { $0.username < $1.username }
    }

    /// Deletes the user and every session of the user. Returns how many sessions ended; nil when
    /// there is no such user.
    public func deleteUser(username: String) async throws -> Int? {
        let ended = try await self.revokeWithUser(
            username, LuaScripts.deleteUser, arguments: [self.keys.sessionPrefix(username)])
        // The factor is active only while the user hash says so: gone with it, whatever this does.
        if ended != nil { _ = try await self.removeFactor(username: username) }
        return ended
    }

    /// Disables the user (ending every session) or enables the user again. Returns how many
    /// sessions ended; nil when there is no such user.
    public func setDisabled(username: String, _ disabled: Bool) async throws -> Int? {
        try await self.revokeWithUser(
            username, LuaScripts.setUserDisabled, arguments: [self.keys.sessionPrefix(username), disabled ? "1" : "0"])
    }

    /// What ``changeRole(username:_:add:)`` did.
    public enum RoleChange: Sendable, Equatable {
        /// The user's roles now, and how many live sessions took them.
        case changed(roles: [String], sessions: Int)
        case noSuchUser
        /// The user holds ``Roles/maxPerUser`` roles already.
        case tooManyRoles
    }

    /// Grants `role` to the user (`add`) or takes it away, in the user's hash and every live
    /// session, in one step (`set_user_roles.lua`); acknowledged once no instance's verify cache can
    /// still answer with the old roles (a removal is a revocation like the others).
    public func changeRole(username: String, _ role: String, add: Bool) async throws -> RoleChange {
        let reply = try await self.runRevocationWithUser(
            username, LuaScripts.setUserRoles,
            arguments: [self.keys.sessionPrefix(username), add ? "add" : "remove", role, String(Roles.maxPerUser)])
        switch reply.int {
        case -1: return .noSuchUser
        case -3: return .tooManyRoles
        default:
            guard let parts = reply.array, parts.count == 2, let sessions = parts[0].int else {
                throw StoreUnavailableError(reason: "unexpected reply from set_user_roles.lua")
            }
            return .changed(roles: Roles.parse(parts[1].string), sessions: sessions)
        }
    }

    /// Sets a new password hash whatever the old password was (an operator's reset), and ends
    /// every session of the user. Returns how many sessions ended; nil when there is no such user.
    public func resetPassword(username: String, newHash: String) async throws -> Int? {
        for _ in 0..<10 {
            // A disabled user's password is reset too (and the user stays disabled).
            guard let stored = try await self.storedPassword(username: username) else { return nil }
            // The version read is checked in the script: a change in between makes it try again.
            if let ended = try await self.changePassword(
                username: username, expectedVersion: stored.password.version, newHash: newHash)
            {
                return ended
            }
        }
        throw StoreUnavailableError(reason: "the user's password kept changing")
    }

    /// `SCAN MATCH` treats `*?[]\` specially; a key prefix is matched as it is.
    static func globEscaped(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if "*?[]\\".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    // MARK: Sessions

    public func createSession(_ session: SessionRecord, now: Int, maxSessions: Int) async throws -> OpenedSession? {
        let keys = [
            self.keys.session(session.username, session.id), self.keys.sessions(session.username),
            self.keys.user(session.username),
        ]
        let arguments = [
            session.id, session.refreshTokenID, String(now), String(session.refreshExpiresAt),
            String(session.absoluteExpiresAt), session.client.userAgent, session.client.ip,
            session.passwordVersion, String(maxSessions), session.assurance.storedMethods,
            String(session.assurance.authTime == 0 ? now : session.assurance.authTime),
        ]
        // At the cap, the script names the sessions it may evict, and is called again with their
        // keys: only a user at the cap pays for a second call (a third when many logins of the
        // user run at once).
        var evicted: [String] = []
        for _ in 0..<10 {
            let reply = try await self.run(LuaScripts.createSession, keys: keys + evicted, arguments: arguments)
            guard let named = reply.array, named.first?.int == Self.indexChanged else {
                // Sessions the cap may have ended are revoked: acknowledged once no cache can
                // still accept them.
                if !evicted.isEmpty { try await self.barrier() }
                guard let opened = reply.array, opened.count >= 2, opened[0].int == 1 else { return nil }
                return OpenedSession(
                    roles: Roles.parse(opened[1].string), evicted: opened.dropFirst(2).compactMap(\.string))
            }
            evicted = named.dropFirst().compactMap(\.string).map { self.keys.session(session.username, $0) }
        }
        throw StoreUnavailableError(reason: "the session index of a user kept changing")
    }

    public func rotateSession(_ rotation: SessionRotation) async throws -> RotationResult {
        // Past this, the request has answered 503: a rotation that Redis runs later (after a stall)
        // must not happen, or the client's retry with the same token would be judged reuse.
        let deadline = try await self.guarded { try await self.serverClock.deadline(of: self.redis) }
        let session = self.keys.session(rotation.username, rotation.sessionID)
        let reply: RedisValue
        do {
            reply = try await self.runDurably(
                LuaScripts.rotateSession,
                keys: [session, self.keys.sessions(rotation.username)],
                arguments: [
                    rotation.sessionID, rotation.presentedTokenID, rotation.nextTokenID, String(rotation.now),
                    String(rotation.refreshExpiresAt), String(rotation.graceSeconds), String(deadline),
                ]
            )
        } catch let failure as NotReplicated {
            // Rotated on the primary, but answered 503: the client's retry with the same token must
            // get the current pair, not be judged reuse, for as long as a client keeps retrying.
            if failure.reply.array?.first?.int == 1 {
                _ = try await self.run(
                    LuaScripts.markUnconfirmed, keys: [session],
                    arguments: [
                        rotation.presentedTokenID, rotation.nextTokenID,
                        String(rotation.now + Self.unconfirmedRetrySeconds),
                    ])
            }
            throw StoreUnavailableError(reason: failure.reason)
        }
        let parts = reply.array ?? []
        switch parts.first?.int {
        case 1 where parts.count == 5:
            if let expiry = parts[1].int {
                return .rotated(
                    refreshExpiresAt: expiry, roles: Roles.parse(parts[2].string),
                    assurance: Self.assurance(parts[3], parts[4]))
            }
        case 2 where parts.count == 6:
            if let current = parts[1].string, let expiry = parts[2].int {
                return .duplicate(
                    currentTokenID: current, refreshExpiresAt: expiry, roles: Roles.parse(parts[3].string),
                    assurance: Self.assurance(parts[4], parts[5]))
            }
        case 0: return .unknownSession
        case -3: throw StoreUnavailableError(reason: "the rotation reached Redis after its deadline; nothing changed")
        case -1:
            // Reuse ended the session: a revocation like any other.
            try await self.barrier()
            return .reused
        default: break
        }
        throw StoreUnavailableError(reason: "unexpected reply from rotate_session.lua")
    }

    public func endSession(username: String, sessionID: String) async throws -> Bool {
        try await self.runRevocation(
            LuaScripts.endSession,
            keys: [self.keys.session(username, sessionID), self.keys.sessions(username)],
            arguments: [sessionID]
        ).int == 1
    }

    public func endSessions(username: String, keeping: String?, proof: SessionProof?) async throws -> Int? {
        var arguments = [self.keys.sessionPrefix(username), keeping ?? ""]
        var proving: String?
        switch proof {
        case nil:
            arguments.append("none")
        case .refreshToken(let sessionID, let tokenID, let now, let grace):
            proving = sessionID
            arguments += ["refresh", tokenID, String(now), String(grace), sessionID]
        case .accessToken(let sessionID, let tokenID):
            proving = sessionID
            arguments += ["access", tokenID, "0", "0", sessionID]
        }
        return Self.count(
            try await self.withSessionKeys(username, including: proving) { sessionKeys in
                try await self.runRevocation(
                    LuaScripts.endSessions, keys: [self.keys.sessions(username)] + sessionKeys, arguments: arguments)
            })
    }

    public func listSessions(username: String, now: Int) async throws -> [SessionInfo] {
        let reply = try await self.withSessionKeys(username) { sessionKeys in
            try await self.run(
                LuaScripts.listSessions,
                keys: [self.keys.sessions(username)] + sessionKeys,
                arguments: [self.keys.sessionPrefix(username), String(now)]
            )
        }
        let items = reply.array ?? []
        return stride(from: 0, to: items.count - 1, by: 2).compactMap { index in
            guard let id = items[index].string, let flat = items[index + 1].array else { return nil }
            let fields = Self.fields(flat)
            return SessionInfo(
                id: id,
                createdAt: Int(fields["created"] ?? "") ?? 0,
                lastUsedAt: Int(fields["last_used"] ?? "") ?? 0,
                expiresAt: Int(fields["rt_exp"] ?? "") ?? 0,
                absoluteExpiresAt: Int(fields["expires"] ?? "") ?? 0,
                client: ClientInfo(userAgent: fields["ua"], ip: fields["ip"])
            )
        }
    }

    // MARK: Throttling

    public func takeAttempt(_ scope: ThrottleScope, policy: ThrottlePolicy) async throws -> Int {
        let groups = self.throttleGroups(scope, policy: policy)
        for (index, (keys, arguments)) in groups.enumerated() {
            let result = try await self.run(LuaScripts.throttle, keys: keys, arguments: ["take"] + arguments).int ?? 0
            if result != 0 {
                // Release what the groups before this one took: this attempt does not happen.
                for (keys, arguments) in groups.prefix(index) {
                    _ = try await self.run(LuaScripts.throttle, keys: keys, arguments: ["ok"] + arguments)
                }
                return result
            }
        }
        return 0
    }

    public func finishAttempt(_ scope: ThrottleScope, policy: ThrottlePolicy, failed: Bool) async throws {
        for (keys, arguments) in self.throttleGroups(scope, policy: policy) {
            _ = try await self.run(LuaScripts.throttle, keys: keys, arguments: [failed ? "fail" : "ok"] + arguments)
        }
    }

    /// The counters of a scope, grouped by Cluster slot: the user's two share the user's hash tag,
    /// and each group is checked and counted by one script. Each counter goes with the key of its
    /// attempts in flight.
    private func throttleGroups(_ scope: ThrottleScope, policy: ThrottlePolicy) -> [([String], [String])] {
        func group(_ counters: (String, ThrottlePolicy.Limit)...) -> ([String], [String]) {
            (
                counters.flatMap { [$0.0, self.keys.running($0.0)] },
                counters.flatMap { [String($0.1.failures), String($0.1.windowSeconds)] }
            )
        }
        switch scope {
        case .password(let username, let ip, let device?):
            // A client that logged in as the user before: its own counter, not the user's (so
            // guesses from elsewhere cannot lock it out), and the address's as always.
            return [
                group((self.keys.throttleUserFromDevice(username, device), policy.userFromAddress)),
                group((self.keys.throttleAddress(ip), policy.address)),
            ]
        case .password(let username, let ip, nil):
            return [
                group(
                    (self.keys.throttleUserFromAddress(username, ip), policy.userFromAddress),
                    (self.keys.throttleUser(username), policy.user)),
                group((self.keys.throttleAddress(ip), policy.address)),
            ]
        case .signUp(let ip):
            return [group((self.keys.throttleSignUp(ip), policy.signUpFromAddress))]
        case .clientSecret(let ip):
            return [group((self.keys.throttleClientSecret(ip), policy.clientSecretFromAddress))]
        case .secondFactor(let username, let attempt):
            return [
                group(
                    (self.keys.throttleCodes(username, attempt: attempt), policy.codesPerAttempt),
                    (self.keys.throttleCodes(username), policy.codesPerUser))
            ]
        }
    }

    // MARK: Tokens

    public func accessState(username: String, sessionID: String, tokenID: String, now: Int) async throws
        -> AccessState
    {
        // One plain HMGET: the session's current refresh id proves it is live, the deny field
        // says whether this access token was revoked on its own, and `roles` are the session's
        // (set_user_roles.lua changes them in every session of the user). It goes through the client-side
        // cache when there is one (AUTHD_VERIFY_CACHE), so it is answered as it would be by Redis:
        // a session whose key has expired is ended from its `rt_exp` (the key's expiry), before
        // Redis gets round to deleting it and sending the invalidation.
        let reply = try await self.guarded {
            try await self.redis.cachedSend(
                RedisCommand(
                    "HMGET", [self.keys.session(username, sessionID), "rt", "deny:" + tokenID, "rt_exp", "roles"]))
        }
        guard let fields = reply.array, fields.count == 4 else {
            throw StoreUnavailableError(reason: "unexpected reply to HMGET")
        }
        if fields[0].isNull { return .sessionEnded }
        if let expiry = fields[2].int, expiry <= now { return .sessionEnded }
        return fields[1].isNull ? .active(roles: Roles.parse(fields[3].string)) : .tokenRevoked
    }

    public func denyAccessToken(
        username: String, sessionID: String, tokenID: String, expiresAt: Int, now: Int, maxDenied: Int
    ) async throws {
        _ = try await self.runRevocation(
            LuaScripts.denyAccessToken,
            keys: [self.keys.session(username, sessionID), self.keys.sessions(username)],
            arguments: [tokenID, String(expiresAt), String(now), String(maxDenied), sessionID, "session"]
        )
    }

    /// PING, then loads any script Redis lacks (after a restart or `SCRIPT FLUSH`); on a cluster,
    /// on every primary.
    public func checkReadiness() async throws {
        try await self.guarded {
            try await self.redis.ping()
            let replies = try await self.redis.broadcast(
                RedisCommand("SCRIPT", ["EXISTS"] + LuaScripts.all.map(\.sha1)))
            for (index, script) in LuaScripts.all.enumerated()
            where replies.contains(where: { reply in
                (reply.array.flatMap { $0.indices.contains(index) ? $0[index].int : nil }) != 1
            }) {
                try await self.redis.scriptLoad(script)
            }
        }
    }

    // MARK: -

    func run(_ script: RedisScript, keys: [String], arguments: [String]) async throws -> RedisValue {
        try await self.guarded { try await self.redis.evalSHA(script, keys: keys, arguments: arguments) }
    }

    /// Runs a script that revokes something, then the barrier (``RedisClient/barrier()``): the
    /// revocation is acknowledged only once no instance's verify cache can still accept what it
    /// revoked. Durable as ``runDurably(_:keys:arguments:)``.
    func runRevocation(_ script: RedisScript, keys: [String], arguments: [String]) async throws -> RedisValue {
        let reply = try await self.runDurablyOrUnavailable(script, keys: keys, arguments: arguments)
        try await self.barrier()
        return reply
    }

    /// Runs a script durably (``runDurably(_:keys:arguments:)``); a change that reached too few
    /// replicas answers 503 (``StoreUnavailableError``), and the client's retry finds it made or not.
    func runDurablyOrUnavailable(_ script: RedisScript, keys: [String], arguments: [String]) async throws
        -> RedisValue
    {
        do {
            return try await self.runDurably(script, keys: keys, arguments: arguments)
        } catch let failure as NotReplicated {
            // Applied on the primary only: 503, and the client's retry is idempotent.
            throw StoreUnavailableError(reason: failure.reason)
        }
    }

    private func barrier() async throws {
        try await self.guarded { _ = try await self.redis.barrier() }
    }

    /// Runs a script. With ``Durability/replicas`` set, the script and a `WAIT` go out together on
    /// one connection, and the change is acknowledged only once that many replicas have it: an
    /// acknowledged logout then survives a failover.
    private func runDurably(_ script: RedisScript, keys: [String], arguments: [String]) async throws -> RedisValue {
        guard self.durability.replicas > 0 else { return try await self.run(script, keys: keys, arguments: arguments) }
        let wait = RedisCommand(
            "WAIT", [String(self.durability.replicas), String(self.durability.timeoutMilliseconds)]
        )
        return try await self.guarded {
            for attempt in 0..<2 {
                let replies = try await self.redis.pipeline([script.evalSHA(keys: keys, arguments: arguments), wait])
                if case .error(let error) = replies[0] {
                    guard error.code == "NOSCRIPT", attempt == 0 else { throw error }
                    try await self.redis.scriptLoad(script)
                    continue
                }
                guard let acknowledged = replies[1].int, acknowledged >= self.durability.replicas else {
                    throw NotReplicated(
                        reply: replies[0],
                        reason:
                            "revocation reached \(replies[1].int ?? 0) of \(self.durability.replicas) replicas in time")
                }
                return replies[0]
            }
            throw StoreUnavailableError(reason: "script missing after SCRIPT LOAD")
        }
    }

    /// What a script that is given the user's session keys returns when the index holds one more:
    /// a session opened between the caller's read of the index and the script.
    private static let indexChanged = -2

    /// Runs `script` with the keys of the user's sessions as the index lists them (and `including`
    /// session's, when given), again while it answers ``indexChanged``: every key a script touches
    /// is in its KEYS, as Redis Cluster needs, and the script itself checks that the list is whole.
    private func withSessionKeys(
        _ username: String, including extra: String? = nil, _ script: ([String]) async throws -> RedisValue
    ) async throws -> RedisValue {
        for _ in 0..<10 {
            let ids =
                try await self.guarded {
                    try await self.redis.send("ZRANGE", [self.keys.sessions(username), "0", "-1"])
                }.array?.compactMap(\.string) ?? []
            var keys = ids.map { self.keys.session(username, $0) }
            if let extra, !ids.contains(extra) { keys.append(self.keys.session(username, extra)) }
            let reply = try await script(keys)
            if reply.int != Self.indexChanged { return reply }
        }
        // Ten sessions opened, each between a read of the index and the script.
        throw StoreUnavailableError(reason: "the session index of a user kept changing")
    }

    /// How long a rotation answered 503 lets its retry with the same token through (as a
    /// duplicate, whatever the grace window): 5 minutes, far more than a client's retries take.
    static let unconfirmedRetrySeconds = 300

    /// A script that ran on the primary but was not replicated in time (its `WAIT` fell short):
    /// answered 503 by the callers, after whatever they do about it.
    struct NotReplicated: Error {
        let reply: RedisValue
        let reason: String
    }

    /// A hash's fields from the flat list `HGETALL` (or a script) returns: name, value, name, value.
    static func fields(_ flat: [RedisValue]) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in stride(from: 0, to: flat.count - 1, by: 2) {
            if let name = flat[pair].string, let value = flat[pair + 1].string { fields[name] = value }
        }
        return fields
    }

    /// The count a script returns, or `nil` for its -1: a check inside the script refused (a
    /// changed password, a failed proof), and nothing was done.
    private static func count(_ reply: RedisValue) -> Int? {
        let count = reply.int ?? -1
        return count < 0 ? nil : count
    }

    public func spendProof(id: String, ttl: Int) async throws -> Bool {
        // SET NX: the first use writes the key, any later one (here or elsewhere) finds it.
        try await self.guarded {
            try await self.redis.send("SET", [self.keys.proof(id), "1", "NX", "EX", String(ttl)])
        }.isNull == false
    }

    func guarded<T>(_ operation: () async throws -> T) async throws -> T {
        try await storeGuarded(operation)
    }
}

/// Turns every Redis failure into ``StoreUnavailableError``, keeping the cause for the log: what
/// the store's callers see of Redis, whichever part of the store (sessions, events) failed.
func storeGuarded<T>(_ operation: () async throws -> T) async throws -> T {
    do {
        return try await operation()
    } catch let error as RedisClientError {
        throw StoreUnavailableError(reason: error.description)
    } catch let error as RedisServerError {
        throw StoreUnavailableError(reason: error.description)
    }
}
