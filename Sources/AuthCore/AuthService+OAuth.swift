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
                    token, as: kind, now: self.clock.now(), checkTimes: kind == .access
                )
            else { continue }
            switch kind {
            case .refresh:
                try await self.store.endSession(username: claims.sub, sessionID: claims.sid)
            case .access:
                try await self.store.denyAccessToken(
                    username: claims.sub, sessionID: claims.sid, tokenID: claims.jti, expiresAt: claims.exp,
                    now: self.clock.now(), maxDenied: self.settings.maxDeniedTokensPerSession)
            }
            AuthMetrics.revoked(.revoke)
            return
        }
    }

    /// Whether a token is active right now, and its claims if it is (RFC 7662). A refresh token is
    /// active while it is its session's current one.
    public func introspect(token: String, hint: TokenKind?) async throws -> TokenClaims? {
        let now = self.clock.now()
        for kind in Self.order(hint) {
            guard let claims = try? self.tokens.verify(token, as: kind, now: now) else { continue }
            switch kind {
            case .access:
                let state = try await self.store.accessState(
                    username: claims.sub, sessionID: claims.sid, tokenID: claims.jti
                )
                return state == .active ? claims : nil
            case .refresh:
                let current = try await self.store.currentRefreshTokenID(username: claims.sub, sessionID: claims.sid)
                return current == claims.jti ? claims : nil
            }
        }
        return nil
    }

    private static func order(_ hint: TokenKind?) -> [TokenKind] {
        hint == .refresh ? [.refresh, .access] : [.access, .refresh]
    }
}
