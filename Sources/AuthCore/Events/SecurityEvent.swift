/// A security-relevant decision, as the audit trail records it (docs/EVENTS.md).
///
/// It names who and what, never a credential: no token, password, secret or hash is ever a field.
/// Where the request came from is taken from ``EventOrigin/current``, set by whoever handles the
/// request (the HTTP server, or the CLI for operators' commands).
public struct SecurityEvent: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case signUp = "signup"
        case login
        case loginFailed = "login_failed"
        case loginThrottled = "login_throttled"
        case refresh
        /// A spent refresh token presented again: its session (the token family) is ended.
        case refreshReuse = "refresh_reuse"
        case logout
        /// One session ended (`sid`), or several (`sessions`, a count), and `reason` why.
        case sessionEnded = "session_ended"
        /// An access token revoked on its own (`jti`), its session live.
        case tokenRevoked = "token_revoked"
        case passwordChanged = "password_changed"
        case roleChanged = "role_changed"
        case userCreated = "user_created"
        case userDisabled = "user_disabled"
        case userEnabled = "user_enabled"
        case userDeleted = "user_deleted"
        case clientCreated = "client_created"
        case clientUpdated = "client_updated"
        case clientRemoved = "client_removed"
        case clientSecretAdded = "client_secret_added"
        case clientSecretRemoved = "client_secret_removed"
        /// A wrong client secret, or an unknown client.
        case clientAuthFailed = "client_auth_failed"
        /// A registered client's own token (client credentials).
        case clientToken = "client_token"
        /// A signing key added, or made current (`authd keys`).
        case keyRotated = "key_rotated"
        /// A TOTP factor confirmed by its first code.
        case factorEnrolled = "factor_enrolled"
        /// The user's factor removed: by the user with a code, or reset by an operator.
        case factorRemoved = "factor_removed"
        /// A wrong, stale or replayed second-factor code, or an unknown recovery code.
        case factorFailed = "factor_failed"
        /// A session proved a second factor (step-up), or a login did (`login` with `amr` says so).
        case stepUp = "step_up"
    }

    /// Why sessions ended.
    public enum EndReason: String, Sendable {
        case logout
        /// The user's session cap: a new login ended the session closest to expiry.
        case cap
        case password
        /// A spent refresh token came back.
        case reuse
        /// RFC 7009 revocation of the refresh token.
        case revoke
        /// The user ended one of their sessions (`DELETE /sessions/{id}`).
        case user
        /// An operator's command.
        case `operator`
        /// The user was disabled or deleted.
        case account
        /// The user removed their second factor: their other sessions end.
        case factor
    }

    public var kind: Kind
    /// The user (or, for client events, the client id); empty when there is none, or the name
    /// given was not a valid one.
    public var subject: String
    /// The session, when one is concerned.
    public var sessionID: String?
    /// Further fields, by name: `scope`, `reason`, `sessions`, `jti`, `role`... never a secret.
    public var details: [(String, String)]
    /// Whether the event reports a revocation: it must be stored before the revocation is
    /// acknowledged (an event log that cannot take it fails the request with 503).
    public var isRevocation: Bool

    public init(
        _ kind: Kind, subject: String, sessionID: String? = nil, details: [(String, String)] = [],
        isRevocation: Bool = false
    ) {
        self.kind = kind
        self.subject = subject
        self.sessionID = sessionID
        self.details = details
        self.isRevocation = isRevocation
    }

    /// Sessions ended for `reason`: one (`sessionID`) or `count` of them.
    public static func sessionsEnded(
        _ reason: EndReason, subject: String, sessionID: String? = nil, count: Int? = nil,
        details: [(String, String)] = []
    ) -> SecurityEvent {
        var details = [("reason", reason.rawValue)] + details
        if let count { details.append(("sessions", String(count))) }
        return SecurityEvent(
            .sessionEnded, subject: subject, sessionID: sessionID, details: details, isRevocation: true)
    }
}

/// Where the request being handled came from, for the events it causes.
public struct EventOrigin: Sendable, Equatable {
    public var requestID: String?
    public var ip: String?
    public var userAgent: String?
    /// Who acted: `operator` for the CLI; nil for a request of a user or client.
    public var actor: String?

    public init(requestID: String? = nil, ip: String? = nil, userAgent: String? = nil, actor: String? = nil) {
        self.requestID = requestID
        self.ip = ip
        self.userAgent = userAgent
        self.actor = actor
    }

    /// Set by the HTTP server around each request, and by the CLI around each command.
    @TaskLocal public static var current: EventOrigin?
}

/// Where events are kept: in Redis, a stream (module RedisStore).
public protocol EventLog: Sendable {
    /// Stores the events, in order, with ``EventOrigin/current`` and the time. `durable`: returns
    /// once they are stored, or throws ``StoreUnavailableError``; otherwise returns at once, and
    /// calls `lost` if they cannot be stored.
    func record(_ events: [SecurityEvent], durable: Bool, lost: @escaping @Sendable (any Error) -> Void) async throws
}

extension EventLog {
    /// Stores the event, and returns once it is stored.
    public func record(_ event: SecurityEvent) async throws {
        try await self.record([event], durable: true, lost: { _ in })
    }
}
