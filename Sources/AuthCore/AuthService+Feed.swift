import JOSE

/// The revocation feed (docs/EVENTS.md): sessions ended and credentials changed, as CAEP Security
/// Event Tokens (RFC 8417), delivered by poll (RFC 8936) to registered clients that may introspect
/// (resource servers that verify tokens offline and hold no Redis credentials).
extension AuthService {
    /// Most SETs one poll returns, and acknowledgements it takes.
    public static let maxFeedBatch = 1000
    /// The SETs of one poll when `maxEvents` is not given.
    public static let defaultFeedBatch = 100

    /// One poll of `client`'s (RFC 8936 §2.4): acknowledges `acknowledged` (jtis delivered to this
    /// client before; any other is refused, and nothing is acknowledged), then returns up to
    /// `maxEvents` SETs it has not acknowledged, by jti, and whether more are waiting. Unless
    /// `returnImmediately`, a poll with nothing to return waits up to ``AuthSettings/feedWait``
    /// seconds for something (a long poll).
    public func pollFeed(
        for client: RegisteredClient, acknowledging acknowledged: [String], maxEvents: Int?, returnImmediately: Bool
    ) async throws -> (sets: [(jti: String, token: String)], more: Bool) {
        guard let feed = self.feed, self.tokens.signsSecurityEvents else {
            throw AuthError.featureOff("the revocation feed needs security events and signing keys (AUTHD_KEYS_DIR)")
        }
        let limit = maxEvents ?? Self.defaultFeedBatch
        guard (0...Self.maxFeedBatch).contains(limit) else {
            throw AuthError.invalidRequest("maxEvents must be from 0 to \(Self.maxFeedBatch)")
        }
        guard acknowledged.count <= Self.maxFeedBatch else {
            throw AuthError.invalidRequest("at most \(Self.maxFeedBatch) acknowledgements a poll")
        }
        var ids: [String] = []
        for jti in acknowledged {
            guard let id = self.feedID(of: jti, for: client.id) else {
                throw AuthError.invalidRequest("ack '\(jti.prefix(64))' names no SET delivered to this client")
            }
            ids.append(id)
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(self.settings.feedWait)
        var (items, more) = try await feed.poll(receiver: client.id, acknowledging: ids, limit: limit)
        while items.isEmpty, limit > 0, !returnImmediately, clock.now < deadline, !Task.isCancelled {
            // Every 50 ms: a script that finds nothing is cheap, and a receiver hears of a
            // revocation within about that much more than the round trips.
            try await Task.sleep(for: .milliseconds(50))
            (items, more) = try await feed.poll(receiver: client.id, acknowledging: [], limit: limit)
        }
        let now = self.clock.now()
        let sets = try items.map { item in
            let jti = item.id + "." + self.tokens.tag(client.id + "|" + item.id)
            let claims = self.securityEventClaims(item, jti: jti, for: client, now: now)
            return (jti, try self.tokens.signSecurityEvent(claims.json))
        }
        return (sets, more)
    }

    /// The feed id a jti of this client's names, or nil when the jti was not made for it.
    private func feedID(of jti: String, for client: String) -> String? {
        guard let dot = jti.lastIndex(of: "."), jti.utf8.count <= 96 else { return nil }
        let id = String(jti[..<dot])
        let parts = id.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { (48...57).contains($0) } }),
            self.tokens.tagMatches(client + "|" + id, String(jti[jti.index(after: dot)...]))
        else { return nil }
        return id
    }

    /// The SET of a feed item for `client`.
    func securityEventClaims(_ item: FeedItem, jti: String, for client: RegisteredClient, now: Int)
        -> SecurityEventClaims
    {
        let notice = item.notice
        return SecurityEventClaims(
            iss: self.settings.issuer, aud: client.id, iat: now, jti: jti, subject: notice.subject,
            session: notice.sessionID,
            event: notice.kind == .credentialChange
                ? .passwordChanged : .sessionRevoked(keptSession: notice.keptSession),
            timestamp: Int(item.milliseconds / 1000), initiator: notice.initiator, reason: notice.reason)
    }
}
