/// What the revocation feed tells offline verifiers (docs/EVENTS.md, the feed): that sessions
/// ended, or that a user's credential changed. Made from the ``SecurityEvent``s that report them,
/// stored with them, and delivered as CAEP Security Event Tokens.
public struct RevocationNotice: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// CAEP `session-revoked`: one session (`sessionID`), or every session of the subject
        /// issued until the notice's time (none given), but `keptSession`.
        case sessionRevoked = "session-revoked"
        /// CAEP `credential-change`: the subject's password changed.
        case credentialChange = "credential-change"
    }

    public var kind: Kind
    /// A user, or a registered client (then `sessionID` is the id of a secret).
    public var subject: String
    public var sessionID: String?
    /// For "every session but this one" (`POST /logout` with scope `others`).
    public var keptSession: String?
    /// Why, in authd's words (`logout`, `reuse`, `password`...).
    public var reason: String
    /// CAEP's `initiating_entity`: `user`, `admin` (an operator), `policy` (authd's own rules:
    /// the session cap, reuse detection) or `system`.
    public var initiator: String

    public init(
        _ kind: Kind, subject: String, sessionID: String? = nil, keptSession: String? = nil, reason: String,
        initiator: String
    ) {
        self.kind = kind
        self.subject = subject
        self.sessionID = sessionID
        self.keptSession = keptSession
        self.reason = reason
        self.initiator = initiator
    }
}

extension SecurityEvent {
    /// The notice this event gives the feed, or nil. `byOperator`: the event is an operator's.
    public func notice(byOperator: Bool) -> RevocationNotice? {
        let detail = { (name: String) in self.details.first { $0.0 == name }?.1 }
        switch self.kind {
        case .sessionEnded:
            let reason = detail("reason") ?? ""
            let initiator =
                switch EndReason(rawValue: reason) {
                case _ where byOperator: "admin"
                case .cap?, .reuse?: "policy"
                case .operator?, .account?: "admin"
                default: "user"
                }
            return RevocationNotice(
                .sessionRevoked, subject: self.subject, sessionID: self.sessionID, keptSession: detail("keeping"),
                reason: reason, initiator: initiator)
        case .passwordChanged:
            return RevocationNotice(
                .credentialChange, subject: self.subject, reason: "password", initiator: byOperator ? "admin" : "user")
        case .clientRemoved:
            return RevocationNotice(
                .sessionRevoked, subject: self.subject, reason: "client_removed", initiator: "admin")
        case .clientSecretRemoved:
            return RevocationNotice(
                .sessionRevoked, subject: self.subject, sessionID: self.sessionID, reason: "secret_removed",
                initiator: "admin")
        default:
            return nil
        }
    }
}

/// A notice as the feed holds it, for one receiver.
public struct FeedItem: Sendable, Equatable {
    /// Its id in the feed (in Redis, the stream entry's): what a receiver acknowledges.
    public var id: String
    /// When it was stored, in ms since 1970.
    public var milliseconds: Int64
    public var notice: RevocationNotice

    public init(id: String, milliseconds: Int64, notice: RevocationNotice) {
        self.id = id
        self.milliseconds = milliseconds
        self.notice = notice
    }
}

/// The feed of ``RevocationNotice``s, with what each receiver has acknowledged (RFC 8936): in
/// Redis, a stream and one consumer group per receiver.
public protocol RevocationFeed: Sendable {
    /// Acknowledges `acknowledged` for `receiver`, then returns up to `limit` items it has not
    /// acknowledged (those delivered before first, then new ones; a new receiver starts at the
    /// oldest item kept), and whether more are waiting.
    func poll(receiver: String, acknowledging acknowledged: [String], limit: Int) async throws -> (
        items: [FeedItem], more: Bool
    )
}
