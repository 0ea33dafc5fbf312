import WireJSON

/// The claims of a Security Event Token (RFC 8417 §2.2) carrying one CAEP event: who (`sub_id`,
/// RFC 9493 `iss_sub`, with the session as `opaque` in a `complex` subject when one is concerned),
/// what, when, and why. Signed with ``TokenCodec/signSecurityEvent(_:)``.
public struct SecurityEventClaims: Sendable, Equatable {
    public enum Event: Sendable, Equatable {
        /// CAEP `session-revoked`; `keptSession` (authd's own member) for "every session but that one".
        case sessionRevoked(keptSession: String?)
        /// CAEP `credential-change` of a password.
        case passwordChanged

        var type: String {
            switch self {
            case .sessionRevoked: "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
            case .passwordChanged: "https://schemas.openid.net/secevent/caep/event-type/credential-change"
            }
        }
    }

    public var iss: String
    public var aud: String
    public var iat: Int
    public var jti: String
    public var subject: String
    public var session: String?
    public var event: Event
    /// When it happened, in seconds since 1970.
    public var timestamp: Int
    /// CAEP's `initiating_entity`.
    public var initiator: String
    /// CAEP's `reason_admin`, in English.
    public var reason: String

    public init(
        iss: String, aud: String, iat: Int, jti: String, subject: String, session: String?, event: Event,
        timestamp: Int, initiator: String, reason: String
    ) {
        self.iss = iss
        self.aud = aud
        self.iat = iat
        self.jti = jti
        self.subject = subject
        self.session = session
        self.event = event
        self.timestamp = timestamp
        self.initiator = initiator
        self.reason = reason
    }

    /// The payload, members in sorted order.
    public var json: [UInt8] {
        var user = JSONObjectWriter()
        user.add("format", "iss_sub")
        user.add("iss", self.iss)
        user.add("sub", self.subject)
        var subject = user.finish()
        if let session = self.session {
            var opaque = JSONObjectWriter()
            opaque.add("format", "opaque")
            opaque.add("id", session)
            var complex = JSONObjectWriter()
            complex.add("format", "complex")
            complex.add("session", json: opaque.finish())
            complex.add("user", json: subject)
            subject = complex.finish()
        }
        var reason = JSONObjectWriter()
        reason.add("en", self.reason)
        var event = JSONObjectWriter()
        switch self.event {
        case .sessionRevoked(let kept?): event.add("authd_kept_session", kept)
        case .sessionRevoked(nil): break
        case .passwordChanged:
            event.add("change_type", "update")
            event.add("credential_type", "password")
        }
        event.add("event_timestamp", self.timestamp)
        event.add("initiating_entity", self.initiator)
        event.add("reason_admin", json: reason.finish())
        var events = JSONObjectWriter()
        events.add(member: self.event.type, json: event.finish())
        var claims = JSONObjectWriter(capacity: 640)
        claims.add("aud", self.aud)
        claims.add("events", json: events.finish())
        claims.add("iat", self.iat)
        claims.add("iss", self.iss)
        claims.add("jti", self.jti)
        claims.add("sub_id", json: subject)
        return claims.finish()
    }
}
