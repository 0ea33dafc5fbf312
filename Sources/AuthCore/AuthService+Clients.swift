import JOSE

/// Registered clients: client authentication (RFC 6749 §2.3) and the client-credentials grant
/// (§4.4), whose tokens are checked live, like a session's.
extension AuthService {
    /// The client these credentials belong to and the secret that matched, or
    /// ``AuthError/invalidClient``; one that may not do `permission` is
    /// ``AuthError/unauthorizedClient(_:)``, after its secret was checked.
    ///
    /// Clients of the environment (``bootstrapClients``) are looked up first, then the store's.
    /// Wrong secrets are counted per address, like password checks, so that guessing is bounded:
    /// past ``ThrottlePolicy/clientSecretFromAddress`` failures, every attempt from that address
    /// gets ``AuthError/throttled(retryAfter:attempts:)``, right or wrong. Per address only: a
    /// guesser elsewhere cannot lock the rightful client out, and guessing 256 random bits from
    /// many addresses gets nowhere either. An address whose last check passed less than a second
    /// ago skips the count (resource servers introspect on every request); a failure always counts.
    public func authenticateClient(
        id rawID: String, secret: String, for permission: RegisteredClient.Permission, ip: String
    ) async throws -> (client: RegisteredClient, secret: RegisteredClient.Secret) {
        let throttled = self.settings.throttle.enabled
        let scope = ThrottleScope.clientSecret(ip: ip)
        // Counted before anything is read, so that an address past the limit costs no lookup; an
        // address whose check passed in the last second is counted only if this one fails.
        let counted = throttled && !self.recentClients.passedRecently(ip)
        if counted { try await self.takeAttempt(scope) }
        var client: RegisteredClient?
        do {
            client = self.bootstrapClients[rawID]
            if client == nil, let id = try? ClientRules.canonicalID(rawID) {
                client = try await self.store.client(id: id)
            }
        } catch {
            // Not the client's failure (the store): it does not count.
            if counted { try await self.finishAttempt(scope, failed: false) }
            throw error
        }
        // An unknown client costs the same digest and comparison as a known one.
        let matched = (client ?? RegisteredClient.unknown).secret(matching: secret)
        let passed = client != nil && matched != nil
        if counted {
            try await self.finishAttempt(scope, failed: !passed)
            if passed { self.recentClients.passed(ip) }
        } else if throttled, !passed {
            try await self.takeAttempt(scope)
            try await self.finishAttempt(scope, failed: true)
        }
        guard let client, let matched else {
            AuthMetrics.clientAuthenticationFailed()
            // The id only when it could be a client's: nothing of the caller's own choosing.
            try await self.record(
                SecurityEvent(.clientAuthFailed, subject: client?.id ?? ((try? ClientRules.canonicalID(rawID)) ?? "")))
            throw AuthError.invalidClient
        }
        guard client.may(permission) else {
            throw AuthError.unauthorizedClient("this client may not \(permission.words)")
        }
        return (client, matched)
    }

    /// An access token for the client itself (RFC 6749 §4.4): `sub` and `client_id` are the
    /// client's id, `sid` the secret's id, and there is no refresh token. `audience` (RFC 8707's
    /// `resource`) must be one of the client's; none: its first, or the service's own.
    public func grantClientToken(
        to client: RegisteredClient, secret: RegisteredClient.Secret, audience: String?, boundKey: String? = nil
    ) async throws -> (accessToken: String, expiresIn: Int) {
        let allowed = client.audiences.isEmpty ? [self.settings.audience] : client.audiences
        let aud = audience ?? allowed[0]
        guard allowed.contains(aud) else {
            throw AuthError.invalidTarget("this client may not have tokens for '\(aud.prefix(64))'")
        }
        let now = self.clock.now()
        let ttl = client.tokenTTL ?? self.settings.accessTokenTTL
        var claims = TokenClaims(
            iss: self.settings.issuer, sub: client.id, aud: aud, clientID: client.id, iat: now, exp: now + ttl,
            jti: RandomID.make(), sid: secret.id, tokenUse: .access, roles: client.roles)
        claims.grantedToClient = true
        claims.boundKey = boundKey
        let token = try self.tokens.sign(claims)
        AuthMetrics.issued(.clientCredentials)
        try await self.record(
            SecurityEvent(
                .clientToken, subject: client.id, sessionID: secret.id, details: [("aud", aud), ("jti", claims.jti)]))
        return (token, ttl)
    }
}

extension RegisteredClient {
    /// A client of the environment: introspection only, one secret.
    init(id: String, bootstrap secret: String) {
        self.init(
            id: id, createdAt: 0, permissions: [.introspect],
            secrets: [.init(id: "environment", digest: Self.digest(secret), createdAt: 0)])
    }

    /// Stands in for an unknown client, so that it costs what a known one does. Its one digest is
    /// 32 zero bytes: no secret hashes to it, short of a SHA-256 preimage.
    static let unknown = RegisteredClient(
        id: "", createdAt: 0, permissions: [],
        secrets: [.init(id: "", digest: [UInt8](repeating: 0, count: 32), createdAt: 0)])
}

extension RegisteredClient.Permission {
    /// What the permission allows, as an error says it.
    var words: String {
        switch self {
        case .introspect: "introspect tokens"
        case .token: "obtain tokens (client_credentials)"
        }
    }
}
