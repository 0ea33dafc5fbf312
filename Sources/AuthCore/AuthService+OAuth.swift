import JOSE

/// RFC 7009 token revocation and RFC 7662 token introspection.
extension AuthService {
    /// Revokes a token of either kind (RFC 7009). A refresh token ends its session; an access
    /// token is denied until it would have expired. Anything else is ignored, as the RFC asks: the
    /// caller learns nothing about tokens that are not valid.
    public func revoke(token: String, hint: TokenKind?) async throws {
        for kind in Self.order(hint) {
            // An expired refresh token still names a session to end; an expired access token
            // needs no denial, so the codec's own time check (with its leeway) settles it.
            guard
                let claims = try? self.tokens.verify(
                    token, as: kind, now: self.clock.now(), checkTimes: kind == .access, anyAudience: true
                )
            else { continue }
            switch kind {
            case .refresh:
                if try await self.store.endSession(username: claims.sub, sessionID: claims.sid) {
                    AuthMetrics.revoked(.revoke)
                }
                try await self.record(.sessionsEnded(.revoke, subject: claims.sub, sessionID: claims.sid))
            case .access:
                // The denial lives as long as the token verifies: to its expiry plus the leeway the
                // codec grants (the codec bounds `exp`, so the sum cannot overflow; it saturates
                // all the same).
                let (until, overflow) = claims.exp.addingReportingOverflow(self.settings.clockLeeway)
                if claims.grantedToClient {
                    try await self.store.denyClientToken(
                        clientID: claims.sub, secretID: claims.sid, tokenID: claims.jti,
                        expiresAt: overflow ? Int.max : until, now: self.clock.now(),
                        maxDenied: self.settings.maxDeniedTokensPerClient)
                    AuthMetrics.accessTokenRevoked()
                    try await self.record(
                        SecurityEvent(
                            .tokenRevoked, subject: claims.sub, details: [("jti", claims.jti), ("client", "1")],
                            isRevocation: true))
                    return
                }
                try await self.store.denyAccessToken(
                    username: claims.sub, sessionID: claims.sid, tokenID: claims.jti,
                    expiresAt: overflow ? Int.max : until,
                    now: self.clock.now(), maxDenied: self.settings.maxDeniedTokensPerSession)
                AuthMetrics.accessTokenRevoked()
                try await self.record(
                    SecurityEvent(
                        .tokenRevoked, subject: claims.sub, sessionID: claims.sid, details: [("jti", claims.jti)],
                        isRevocation: true))
            }
            return
        }
    }

    /// The claims of an access token that is active right now (RFC 7662), or `nil`. Introspection
    /// is for resource servers, which only ever receive access tokens: a refresh token, even a live
    /// one, is inactive here, so that no stock validator that checks `active` (and `scope`) can
    /// take one for an access token. The claims' roles are the session's (or the client's) as they
    /// are now. A client's own token may be for any of its audiences: the caller checks `aud`.
    public func introspect(token: String, hint: TokenKind?) async throws -> TokenClaims? {
        guard var claims = try? self.tokens.verify(token, as: .access, now: self.clock.now(), anyAudience: true)
        else { return nil }
        let state =
            claims.grantedToClient
            ? try await self.store.clientAccessState(clientID: claims.sub, secretID: claims.sid, tokenID: claims.jti)
            : try await self.store.accessState(
                username: claims.sub, sessionID: claims.sid, tokenID: claims.jti, now: self.clock.now())
        guard case .active(let roles) = state else { return nil }
        claims.roles = roles
        return claims
    }

    /// The JWS algorithms access tokens are signed with now: the current key's and those of keys
    /// that still verify, or HS256.
    public var accessTokenAlgorithms: [String] {
        let published = Set(self.tokens.jwks.map(\.alg))
        return published.isEmpty ? ["HS256"] : published.sorted()
    }

    private static func order(_ hint: TokenKind?) -> [TokenKind] {
        hint == .refresh ? [.refresh, .access] : [.access, .refresh]
    }
}
