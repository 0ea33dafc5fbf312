import AuthCore
import Foundation
import JOSE
import Logging
import NIOCore
import NIOPosix
import Passwords
import RedisClient
import RedisStore

/// What an operator command could not do, in words fit for the terminal: no Swift type names, no
/// secrets. The CLI prints it after `authd: ` and exits 1.
public struct OperatorError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// What the operator commands (`authd users ...`, `authd sessions ...`) do, against the same Redis
/// as the service. They need no token secrets.
public struct Operator: Sendable {
    public typealias UserRecord = RedisAuthStore.UserRecord
    public typealias ClientChange = RedisAuthStore.ClientChange
    public typealias EventEntry = RedisEventLog.Entry

    private let redis: RedisClient
    private let store: RedisAuthStore
    /// Where Redis is, as an error may name it: the address only, never the URL's password.
    private let redisAddress: String
    /// The ids of `AUTHD_INTROSPECTION_CLIENTS`, which the registry may not take.
    private let environmentClients: Set<String>
    /// How long to wait for the first connection: the connect timeout (2 s by default).
    private let connectTimeout: TimeAmount
    /// Where operators' commands are recorded, as the service's decisions are; nil when
    /// `AUTHD_EVENTS` is off.
    public let events: RedisEventLog?

    public init(environment: [String: String], logger: Logger) throws {
        let (redis, prefix, events) = try AppConfiguration.store(environment: environment)
        self.redisAddress =
            switch redis.endpoint {
            case .tcp(let host, let port): "\(host.contains(":") ? "[\(host)]" : host):\(port)"
            case .unixSocket(let path): path
            }
        self.connectTimeout = redis.connectTimeout
        let client = RedisClient(
            configuration: redis, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
        self.redis = client
        self.store = RedisAuthStore(redis: client, keyPrefix: prefix)
        self.events = events.map { RedisEventLog(redis: client, keyPrefix: prefix, settings: $0) }
        self.environmentClients = Set(
            (environment["AUTHD_INTROSPECTION_CLIENTS"] ?? "").split(separator: ",").compactMap {
                $0.split(separator: ":", maxSplits: 1).first.map { String($0).lowercased() }
            })
    }

    // MARK: Users

    /// Creates a user (when sign-up is off, the only way). The password follows the service's
    /// rules and is hashed as the service hashes it.
    public func addUser(username: String, password: String) async throws -> String {
        let name = try Self.name(username)
        let hash = try await Self.hash(validated: password)
        let created = try await self.withRedis {
            try await self.store.createUser(username: name, passwordHash: hash, now: Int(Date().timeIntervalSince1970))
        }
        guard created else { throw OperatorError("the name \(name) is taken, by a user or a client") }
        try await self.record(SecurityEvent(.userCreated, subject: name))
        return name
    }

    public func users() async throws -> [UserRecord] {
        try await self.withRedis { try await self.store.listUsers(now: Int(Date().timeIntervalSince1970)) }
    }

    /// Sets a new password, whatever the old one was, and ends every session of the user.
    /// Returns how many sessions ended.
    public func resetPassword(username: String, password: String) async throws -> Int {
        let name = try Self.name(username)
        let hash = try await Self.hash(validated: password)
        guard
            let ended = try await self.withRedis({ try await self.store.resetPassword(username: name, newHash: hash) })
        else { throw Self.noSuchUser(name) }
        try await self.record(SecurityEvent(.passwordChanged, subject: name, isRevocation: true))
        try await self.record(.sessionsEnded(.password, subject: name, count: ended))
        return ended
    }

    /// Disables the user and ends every session, or enables the user again. Returns how many
    /// sessions ended.
    public func setDisabled(username: String, _ disabled: Bool) async throws -> Int {
        let name = try Self.name(username)
        guard let ended = try await self.withRedis({ try await self.store.setDisabled(username: name, disabled) })
        else { throw Self.noSuchUser(name) }
        try await self.record(SecurityEvent(disabled ? .userDisabled : .userEnabled, subject: name))
        if disabled { try await self.record(.sessionsEnded(.account, subject: name, count: ended)) }
        return ended
    }

    /// Deletes the user and every session of the user. Returns how many sessions ended.
    public func deleteUser(username: String) async throws -> Int {
        let name = try Self.name(username)
        guard let ended = try await self.withRedis({ try await self.store.deleteUser(username: name) }) else {
            throw Self.noSuchUser(name)
        }
        try await self.record(SecurityEvent(.userDeleted, subject: name))
        try await self.record(.sessionsEnded(.account, subject: name, count: ended))
        return ended
    }

    /// Removes the user's second factor (a lost authenticator, with no recovery code left): the
    /// next login asks for the password only. Sessions stay. Returns whether there was one.
    public func resetFactor(username: String) async throws -> Bool {
        let name = try Self.name(username)
        let exists = try await self.withRedis { try await self.store.userExists(username: name) }
        guard exists else { throw Self.noSuchUser(name) }
        let removed = try await self.withRedis { try await self.store.removeFactor(username: name) }
        if removed {
            try await self.record(SecurityEvent(.factorRemoved, subject: name, details: [("method", "reset")]))
        }
        return removed
    }

    // MARK: Roles

    /// Grants `role` to the user (`add`) or takes it away, in every live session too: a role taken
    /// away is refused on the next request, on every instance. Returns the user's roles and how
    /// many sessions took the change.
    public func changeRole(username: String, role rawRole: String, add: Bool) async throws -> (
        roles: [String], sessions: Int
    ) {
        let name = try Self.name(username)
        let role: String
        do {
            role = try Roles.canonical(rawRole)
        } catch {
            throw OperatorError("'\(rawRole)': \(Self.words(error))")
        }
        switch try await self.withRedis({ try await self.store.changeRole(username: name, role, add: add) }) {
        case .changed(let roles, let sessions):
            try await self.record(
                SecurityEvent(
                    .roleChanged, subject: name,
                    details: [(add ? "added" : "removed", role), ("roles", roles.joined(separator: ","))],
                    isRevocation: !add))
            return (roles, sessions)
        case .noSuchUser: throw Self.noSuchUser(name)
        case .tooManyRoles: throw OperatorError("\(name) holds \(Roles.maxPerUser) roles, the most a user may")
        }
    }

    // MARK: Clients

    /// A client as an operator asks for it (`authd clients add`).
    public struct ClientRequest: Sendable {
        public var id: String
        public var permissions: [RegisteredClient.Permission]
        public var audiences: [String] = []
        public var tokenTTL: Int?
        public var roles: [String] = []

        public init(
            id: String, permissions: [RegisteredClient.Permission], audiences: [String] = [], tokenTTL: Int? = nil,
            roles: [String] = []
        ) {
            self.id = id
            self.permissions = permissions
            self.audiences = audiences
            self.tokenTTL = tokenTTL
            self.roles = roles
        }
    }

    /// A secret as it is handed out, once: its id, and the secret itself, which authd keeps only
    /// as a digest.
    public struct IssuedSecret: Sendable {
        public var id: String
        public var secret: String
    }

    /// Registers a client with a first secret, which is returned (and never shown again).
    public func addClient(_ request: ClientRequest) async throws -> (client: RegisteredClient, secret: IssuedSecret) {
        let id = try Self.clientID(request.id)
        guard !self.environmentClients.contains(id) else {
            throw OperatorError("\(id) is a client of AUTHD_INTROSPECTION_CLIENTS; remove it there first")
        }
        let permissions = try Self.permissions(request.permissions)
        let audiences = try Self.audiences(request.audiences)
        let roles = try Self.roles(request.roles)
        try Self.check(ttl: request.tokenTTL)
        let now = Int(Date().timeIntervalSince1970)
        let (secret, stored) = RegisteredClient.makeSecret(now: now)
        let client = RegisteredClient(
            id: id, createdAt: now, permissions: permissions, audiences: audiences, tokenTTL: request.tokenTTL,
            roles: roles, secrets: [stored])
        guard try await self.withRedis({ try await self.store.createClient(client) }) else {
            throw OperatorError("the name \(id) is taken, by a client or a user")
        }
        try await self.record(SecurityEvent(.clientCreated, subject: id, details: Self.details(client)))
        return (client, IssuedSecret(id: stored.id, secret: secret))
    }

    /// Changes what a client may do, its audiences, roles or token lifetime (what `change` gives),
    /// on every instance at once: a permission taken away refuses its live tokens on the next
    /// request. Returns the client as it is now.
    public func updateClient(id raw: String, _ change: ClientChange) async throws -> RegisteredClient {
        let id = try Self.clientID(raw)
        var valid = change
        if let permissions = change.permissions { valid.permissions = try Self.permissions(permissions) }
        if let audiences = change.audiences { valid.audiences = try Self.audiences(audiences) }
        if let roles = change.roles { valid.roles = try Self.roles(roles) }
        if let ttl = change.tokenTTL { try Self.check(ttl: ttl) }
        guard valid != ClientChange() else {
            throw OperatorError("nothing to change: give --may, --audience, --role, --token-ttl or their --no- forms")
        }
        let client = try await self.withRedis {
            guard try await self.store.updateClient(id: id, valid), let client = try await self.store.client(id: id)
            else { throw Self.noSuchClient(id) }
            return client
        }
        try await self.record(
            SecurityEvent(.clientUpdated, subject: id, details: Self.details(client), isRevocation: true))
        return client
    }

    /// What a client's events say of it: never a secret or its digest, only the secrets' ids.
    private static func details(_ client: RegisteredClient) -> [(String, String)] {
        [
            ("may", client.permissions.map(\.rawValue).joined(separator: ",")),
            ("aud", client.audiences.joined(separator: ",")), ("roles", client.roles.joined(separator: ",")),
        ]
    }

    private static func permissions(_ given: [RegisteredClient.Permission]) throws -> [RegisteredClient.Permission] {
        guard !given.isEmpty else {
            throw OperatorError("a client needs a permission: --may introspect, --may token, or both")
        }
        return Array(Set(given)).sorted()
    }

    private static func audiences(_ given: [String]) throws -> [String] {
        guard given.count <= RegisteredClient.maxAudiences else {
            throw OperatorError("a client may have at most \(RegisteredClient.maxAudiences) audiences")
        }
        var audiences: [String] = []
        for audience in given {
            do {
                let valid = try ClientRules.audience(audience)
                if !audiences.contains(valid) { audiences.append(valid) }
            } catch {
                throw OperatorError("--audience '\(audience.prefix(64))': \(Self.words(error))")
            }
        }
        return audiences
    }

    private static func roles(_ given: [String]) throws -> [String] {
        var roles: [String] = []
        for raw in given {
            do {
                let role = try Roles.canonical(raw)
                if !roles.contains(role) { roles.append(role) }
            } catch {
                throw OperatorError("--role '\(raw.prefix(64))': \(Self.words(error))")
            }
        }
        guard roles.count <= Roles.maxPerUser else {
            throw OperatorError("a client may hold at most \(Roles.maxPerUser) roles")
        }
        return roles.sorted()
    }

    private static func check(ttl: Int?) throws {
        if let ttl, !RegisteredClient.tokenTTLRange.contains(ttl) {
            throw OperatorError(
                "--token-ttl must be from \(RegisteredClient.tokenTTLRange.lowerBound) to "
                    + "\(RegisteredClient.tokenTTLRange.upperBound) seconds")
        }
    }

    public func clients() async throws -> [RegisteredClient] {
        try await self.withRedis { try await self.store.listClients() }
    }

    /// Removes a client: its secrets stop working, and so do its tokens, on every instance.
    public func removeClient(id raw: String) async throws {
        let id = try Self.clientID(raw)
        guard try await self.withRedis({ try await self.store.deleteClient(id: id) }) else {
            throw Self.noSuchClient(id)
        }
        try await self.record(SecurityEvent(.clientRemoved, subject: id, isRevocation: true))
        // Its place in the revocation feed goes too: a client made again under the id starts afresh.
        if let events = self.events { try? await self.withRedis { try await events.forget(receiver: id) } }
    }

    /// Gives the client one more secret (to replace an old one with an overlap), returned once.
    public func addClientSecret(id raw: String) async throws -> IssuedSecret {
        let id = try Self.clientID(raw)
        let (secret, stored) = RegisteredClient.makeSecret(now: Int(Date().timeIntervalSince1970))
        switch try await self.withRedis({ try await self.store.addClientSecret(id: id, stored) }) {
        case .added:
            try await self.record(SecurityEvent(.clientSecretAdded, subject: id, sessionID: stored.id))
            return IssuedSecret(id: stored.id, secret: secret)
        case .noSuchClient: throw Self.noSuchClient(id)
        case .tooManySecrets:
            throw OperatorError("\(id) holds \(RegisteredClient.maxSecrets) secrets, the most a client may; remove one")
        }
    }

    /// Revokes one secret of the client: it stops working, and so do the tokens granted with it.
    public func removeClientSecret(id raw: String, secretID: String) async throws {
        let id = try Self.clientID(raw)
        guard RandomID.isValid(secretID) else { throw OperatorError("\(secretID) is no secret id") }
        switch try await self.withRedis({ try await self.store.removeClientSecret(id: id, secretID: secretID) }) {
        case true?:
            try await self.record(
                SecurityEvent(.clientSecretRemoved, subject: id, sessionID: secretID, isRevocation: true))
        case false?: throw OperatorError("\(id) has no secret \(secretID)")
        case nil: throw Self.noSuchClient(id)
        }
    }

    private static func clientID(_ raw: String) throws -> String {
        do {
            return try ClientRules.canonicalID(raw)
        } catch {
            throw OperatorError("'\(raw)': \(Self.words(error))")
        }
    }

    private static func noSuchClient(_ id: String) -> OperatorError {
        OperatorError("there is no registered client \(id)")
    }

    // MARK: Sessions

    /// The user's live sessions, oldest first.
    public func sessions(username: String) async throws -> [SessionInfo] {
        let name = try Self.name(username)
        let now = Int(Date().timeIntervalSince1970)
        return try await self.withRedis {
            guard try await self.store.userExists(username: name) else { throw Self.noSuchUser(name) }
            return try await self.store.listSessions(username: name, now: now)
        }
    }

    /// Ends one session of the user, or all of them. Returns how many were ended.
    public func revoke(username: String, sessionID: String?) async throws -> Int {
        let name = try Self.name(username)
        let ended = try await self.withRedis {
            guard try await self.store.userExists(username: name) else { throw Self.noSuchUser(name) }
            if let sessionID {
                guard RandomID.isValid(sessionID) else { throw OperatorError("\(sessionID) is no session id") }
                return try await self.store.endSession(username: name, sessionID: sessionID) ? 1 : 0
            }
            return try await self.store.endSessions(username: name, keeping: nil, proof: nil) ?? 0
        }
        try await self.record(
            .sessionsEnded(.operator, subject: name, sessionID: sessionID, count: sessionID == nil ? ended : nil))
        return ended
    }

    // MARK: Events

    /// A cursor at `milliseconds` since 1970, for ``events(after:user:)``.
    public func eventCursor(since milliseconds: Int64) throws -> RedisEventLog.Cursor {
        try self.eventLog().cursor(since: milliseconds)
    }

    /// The events after the cursor (only `user`'s when given), in time order, and the cursor
    /// after them: a batch of at most 1,000 a shard.
    public func events(after cursor: RedisEventLog.Cursor, user: String?) async throws -> (
        entries: [RedisEventLog.Entry], cursor: RedisEventLog.Cursor
    ) {
        let log = try self.eventLog()
        return try await self.withRedis { try await log.read(after: cursor, user: user) }
    }

    private func eventLog() throws -> RedisEventLog {
        guard let events = self.events else { throw OperatorError("AUTHD_EVENTS is off: no events are recorded") }
        return events
    }

    /// Records an operator's command, as the service records its decisions (`actor: operator`).
    /// The change is made already: an event that cannot be stored is said, and the command fails.
    public func record(_ event: SecurityEvent) async throws {
        guard let events = self.events else { return }
        do {
            try await self.withRedis {
                try await EventOrigin.$current.withValue(EventOrigin(actor: "operator")) {
                    try await events.record(event)
                }
            }
        } catch let error as OperatorError {
            throw OperatorError("done, but its security event (\(event.kind.rawValue)) was not recorded: \(error)")
        }
    }

    // MARK: -

    /// Runs `body` with an operator connected to the deployment's Redis, and closes the
    /// connections before returning or throwing: a process that exits first could cut a
    /// revocation's barrier short.
    public static func with<T>(
        environment: [String: String], logger: Logger = Operator.quietLogger,
        _ body: (Operator) async throws -> T
    ) async throws -> T {
        let tool = try Operator(environment: environment, logger: logger)
        do {
            let result = try await body(tool)
            await tool.redis.shutdown()
            return result
        } catch {
            await tool.redis.shutdown()
            throw error
        }
    }

    /// Errors only: the commands print their own results.
    public static var quietLogger: Logger {
        var logger = Logger(label: "authd")
        logger.logLevel = .error
        return logger
    }

    /// Waits for the first connection and for the barrier's acknowledgement channel, up to the
    /// connect timeout (a command line tool starts cold; without the channel, a revocation would
    /// wait out every cache's lease), then runs the operation. Redis out of reach is said with its address.
    private func withRedis<T>(_ operation: () async throws -> T) async throws -> T {
        let rounds = max(100, Int(self.connectTimeout.nanoseconds / 20_000_000))
        for _ in 0..<rounds where self.redis.connectedCount() == 0 || self.redis.barrierReady() == false {
            try await Task.sleep(for: .milliseconds(20))
        }
        do {
            return try await operation()
        } catch let error as StoreUnavailableError {
            throw OperatorError(
                "cannot reach Redis at \(self.redisAddress) (\(error.reason)); "
                    + "set REDIS_URL in .env or the environment to the service's Redis")
        }
    }

    private static func name(_ raw: String) throws -> String {
        do {
            return try Credentials.canonicalUsername(raw)
        } catch {
            throw OperatorError("'\(raw)': \(Self.words(error))")
        }
    }

    private static func noSuchUser(_ name: String) -> OperatorError {
        OperatorError("there is no user \(name)")
    }

    /// A domain error as a sentence.
    private static func words(_ error: AuthError) -> String {
        switch error {
        case .invalidRequest(let reason), .invalidGrant(let reason), .invalidToken(let reason),
            .unauthorizedClient(let reason), .invalidTarget(let reason), .featureOff(let reason),
            .factorState(let reason), .invalidDPoPProof(let reason):
            reason
        case .secondFactorRequired: "a second factor is required"
        case .invalidCode: "wrong code"
        case .invalidClient: "client authentication failed"
        case .usernameTaken: "the name is taken"
        case .signupDisabled: "sign-up is off"
        case .invalidCredentials: "wrong user name or password"
        case .sessionNotFound: "no such session"
        case .throttled(let seconds, let attempts): "too many \(attempts); try again in \(seconds) s"
        }
    }

    /// Checked against the sign-up rules, then hashed as the service hashes (Argon2id with its
    /// default cost), on a pool of one thread.
    private static func hash(validated password: String) async throws -> String {
        do {
            try Credentials.validateNewPassword(password)
        } catch {
            throw OperatorError(Self.words(error))
        }
        let hasher = try Argon2PasswordHasher(concurrency: 1)
        do {
            let hash = try await hasher.hash(password)
            try await hasher.shutdown()
            return hash
        } catch {
            try? await hasher.shutdown()
            throw error
        }
    }
}
