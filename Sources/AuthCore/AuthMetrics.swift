import CoreMetrics
import MetricHandles

/// The token domain's counters, through swift-metrics: whatever backend the process bootstraps
/// (Prometheus in authd) receives them.
enum AuthMetrics {
    enum Grant: String, Sendable {
        case login
        case refresh
        /// A duplicate refresh inside the grace window, answered with the current token.
        case refreshDuplicate = "refresh_duplicate"
        /// A registered client's own token (RFC 6749 §4.4).
        case clientCredentials = "client_credentials"
    }

    enum Revocation: String, Sendable {
        case logout
        case session
        case revoke
        case password
    }

    private static let issuedCounters = MetricHandles<Grant, Counter>()
    private static let revokedCounters = MetricHandles<Revocation, Counter>()

    static func issued(_ grant: Grant) {
        Self.issuedCounters(grant) {
            Counter(label: "authd_tokens_issued_total", dimensions: [("grant", grant.rawValue)])
        }.increment()
    }

    /// `count` sessions (or access tokens, for `revoke`) ended.
    static func revoked(_ reason: Revocation, count: Int = 1) {
        guard count > 0 else { return }
        Self.revokedCounters(reason) {
            Counter(label: "authd_sessions_revoked_total", dimensions: [("reason", reason.rawValue)])
        }.increment(by: count)
    }

    /// An access token revoked on its own (RFC 7009): no session ends.
    static func accessTokenRevoked() {
        Counter(label: "authd_access_tokens_revoked_total").increment()
    }

    static func reuseDetected() {
        Counter(label: "authd_refresh_reuse_detected_total").increment()
    }

    /// A DPoP proof presented a second time (RFC 9449 §11.1), on this instance or another.
    static func proofReplayed() {
        Counter(label: "authd_dpop_replays_total").increment()
    }

    static func throttled() {
        Counter(label: "authd_logins_throttled_total").increment()
    }

    /// An unknown client or a wrong client secret.
    static func clientAuthenticationFailed() {
        Counter(label: "authd_client_auth_failures_total").increment()
    }

    /// An event the log could not take (``EventLog``): a revocation's fails its request with 503,
    /// any other is dropped.
    static func eventLost(revocation: Bool) {
        Counter(label: "authd_events_lost_total", dimensions: [("revocation", revocation ? "true" : "false")])
            .increment()
    }

    static func loginFailed() {
        Counter(label: "authd_login_failures_total").increment()
    }
}
