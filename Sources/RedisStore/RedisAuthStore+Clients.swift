import ASCIIDigits
import AuthCore
import RedisClient

/// Registered clients (``RedisKeys/client(_:)``): read by the service, changed by operators. Every
/// change goes through the revocation barrier: one that takes something away (a secret, the
/// client) is acknowledged once no instance's verify cache can still accept a token it ended, and
/// one that adds (a client, a secret) once every instance sees it.
extension RedisAuthStore {
    public func client(id: String) async throws -> RegisteredClient? {
        let reply = try await self.guarded {
            try await self.redis.cachedSend(RedisCommand("HGETALL", [self.keys.client(id)]))
        }
        return Self.client(id: id, fields: reply.array ?? [])
    }

    public func clientAccessState(clientID: String, secretID: String, tokenID: String) async throws -> AccessState {
        // One HMGET, through the verify cache as a session's is: the secret the token was granted
        // with, the token's own denial, the permissions (a client no longer allowed tokens has
        // none that work), and the roles.
        let reply = try await self.guarded {
            try await self.redis.cachedSend(
                RedisCommand(
                    "HMGET", [self.keys.client(clientID), "secret:" + secretID, "deny:" + tokenID, "may", "roles"]))
        }
        guard let fields = reply.array, fields.count == 4 else {
            throw StoreUnavailableError(reason: "unexpected reply to HMGET")
        }
        guard !fields[0].isNull,
            ClientRules.list(fields[2].string).contains(RegisteredClient.Permission.token.rawValue)
        else { return .sessionEnded }
        return fields[1].isNull ? .active(roles: ClientRules.list(fields[3].string)) : .tokenRevoked
    }

    public func denyClientToken(
        clientID: String, secretID: String, tokenID: String, expiresAt: Int, now: Int, maxDenied: Int
    ) async throws {
        _ = try await self.runRevocation(
            LuaScripts.denyAccessToken, keys: [self.keys.client(clientID)],
            arguments: [tokenID, String(expiresAt), String(now), String(maxDenied), secretID, "client"])
    }

    // MARK: For operators

    /// Registers `client` with its one secret. Returns false when the id is taken, by a client or
    /// by a user.
    public func createClient(_ client: RegisteredClient) async throws -> Bool {
        guard let secret = client.secrets.first, client.secrets.count == 1 else {
            preconditionFailure("a client is registered with exactly one secret")
        }
        // Through the barrier too, like a role granted: an instance whose cache holds the id's
        // absence (a grant tried before) knows the client on the next request.
        return try await self.runRevocation(
            LuaScripts.createClient, keys: [self.keys.client(client.id), self.keys.user(client.id)],
            arguments: [
                String(client.createdAt), client.permissions.map(\.rawValue).joined(separator: ","),
                client.audiences.joined(separator: ","), client.roles.joined(separator: ","),
                client.tokenTTL.map(String.init) ?? "", secret.id, Hex.encode(secret.digest),
            ]
        ).int == 1
    }

    /// What ``addClientSecret(id:_:)`` did.
    public enum SecretAddition: Sendable, Equatable {
        case added
        case noSuchClient
        /// The client holds ``RegisteredClient/maxSecrets`` already.
        case tooManySecrets
    }

    public func addClientSecret(id: String, _ secret: RegisteredClient.Secret) async throws -> SecretAddition {
        let reply = try await self.runRevocation(
            LuaScripts.addClientSecret, keys: [self.keys.client(id)],
            arguments: [
                secret.id, Hex.encode(secret.digest), String(secret.createdAt), String(RegisteredClient.maxSecrets),
            ])
        switch reply.int {
        case 1: return .added
        case 0: return .tooManySecrets
        default: return .noSuchClient
        }
    }

    /// What ``updateClient(id:_:)`` changes; nil: left as it is.
    public struct ClientChange: Sendable, Equatable {
        public var permissions: [RegisteredClient.Permission]?
        public var audiences: [String]?
        public var roles: [String]?
        /// `.some(nil)`: back to the service's default lifetime.
        public var tokenTTL: Int??

        public init(
            permissions: [RegisteredClient.Permission]? = nil, audiences: [String]? = nil, roles: [String]? = nil,
            tokenTTL: Int?? = nil
        ) {
            self.permissions = permissions
            self.audiences = audiences
            self.roles = roles
            self.tokenTTL = tokenTTL
        }
    }

    /// Changes the client's permissions, audiences, roles or lifetime in one step, acknowledged once
    /// every instance sees it (a permission taken away refuses the client's tokens at once; a
    /// lifetime or audience changed applies to tokens granted from then on). Returns whether there
    /// was such a client.
    public func updateClient(id: String, _ change: ClientChange) async throws -> Bool {
        var arguments: [String] = []
        if let permissions = change.permissions {
            arguments += ["may", permissions.map(\.rawValue).joined(separator: ",")]
        }
        if let audiences = change.audiences { arguments += ["aud", audiences.joined(separator: ",")] }
        if let roles = change.roles { arguments += ["roles", roles.joined(separator: ",")] }
        if let ttl = change.tokenTTL { arguments += ["ttl", ttl.map(String.init) ?? ""] }
        return try await self.runRevocation(LuaScripts.updateClient, keys: [self.keys.client(id)], arguments: arguments)
            .int == 1
    }

    /// Revokes one secret of the client, and every token granted with it. Returns whether it was
    /// the client's; nil when there is no such client.
    public func removeClientSecret(id: String, secretID: String) async throws -> Bool? {
        let removed = try await self.runRevocation(
            LuaScripts.removeClientSecret, keys: [self.keys.client(id)], arguments: [secretID]
        ).int
        return removed == -1 ? nil : removed == 1
    }

    /// Removes the client, and every token granted to it. Returns whether there was one.
    public func deleteClient(id: String) async throws -> Bool {
        try await self.runRevocation(LuaScripts.deleteClient, keys: [self.keys.client(id)], arguments: []).int == 1
    }

    /// Every registered client, by id (a `SCAN` of the client keys; on a cluster, of every primary).
    public func listClients() async throws -> [RegisteredClient] {
        let head = String(self.keys.client("").dropLast())
        let keys = try await self.guarded { try await self.redis.scanAll(match: Self.globEscaped(head) + "*}") }
        var clients: [RegisteredClient] = []
        for key in keys where key.hasPrefix(head) && key.hasSuffix("}") {
            let id = String(key.dropFirst(head.count).dropLast())
            let reply = try await self.guarded { try await self.redis.send("HGETALL", [key]) }
            if let client = Self.client(id: id, fields: reply.array ?? []) { clients.append(client) }
        }
        return clients.sorted { $0.id < $1.id }
    }

    /// A client from its hash's fields (`HGETALL`'s flat list); nil when there are none.
    static func client(id: String, fields flat: [RedisValue]) -> RegisteredClient? {
        let fields = Self.fields(flat)
        guard let created = fields["created"].flatMap({ Int($0) }) else { return nil }
        var secrets: [RegisteredClient.Secret] = []
        for (name, value) in fields where name.hasPrefix("secret:") {
            let secretID = String(name.dropFirst("secret:".count))
            guard let digest = Hex.decode(value) else { continue }
            secrets.append(
                .init(id: secretID, digest: digest, createdAt: Int(fields["secret_at:" + secretID] ?? "") ?? 0))
        }
        return RegisteredClient(
            id: id, createdAt: created,
            permissions: ClientRules.list(fields["may"]).compactMap(RegisteredClient.Permission.init(rawValue:)),
            // A lifetime out of range (an operator's HSET) is ignored: the default applies, and
            // no sum of it with the time can overflow.
            audiences: ClientRules.list(fields["aud"]),
            tokenTTL: fields["ttl"].flatMap { Int($0) }.flatMap {
                RegisteredClient.tokenTTLRange.contains($0) ? $0 : nil
            },
            roles: ClientRules.list(fields["roles"]),
            secrets: secrets.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) })
    }
}
