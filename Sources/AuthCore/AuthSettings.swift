import JOSE

/// The domain's tunables. Defaults follow the tutorial authd replaces, tightened where it was loose.
public struct AuthSettings: Sendable {
    /// The `iss` claim of every token.
    public var issuer = "authd"

    /// The issuer without a trailing `/`: the base of the endpoints' URLs (the metadata's, and the
    /// URIs DPoP proofs are for).
    public var issuerBase: String { self.issuer.hasSuffix("/") ? String(self.issuer.dropLast()) : self.issuer }
    /// The `aud` claim of access tokens: the resource servers they are for.
    public var audience = "authd"
    /// The `client_id` of tokens whose request names no client.
    public var defaultClientID = "authd-public"
    /// Clock skew tolerated on `exp` and `iat`, in seconds.
    public var clockLeeway = 30
    /// Access token lifetime in seconds (15 minutes).
    public var accessTokenTTL = 900
    /// Refresh token lifetime in seconds (7 days). Each rotation issues a token with a fresh
    /// lifetime, so this is also the session's idle timeout.
    public var refreshTokenTTL = 7 * 86_400
    /// A session's absolute lifetime in seconds (30 days): no rotation extends it.
    public var sessionMaxLifetime = 30 * 86_400
    /// Seconds after a rotation during which the previous refresh token still gets the current one
    /// instead of revoking the session: two tabs refreshing at once must not log the user out.
    public var refreshGraceWindow = 10
    /// Limits on failed logins.
    public var throttle = ThrottlePolicy()
    /// Whether `POST /users` accepts sign-ups.
    public var signupEnabled = true
    /// Most sessions one user may hold; a new login beyond it ends the session closest to expiry.
    public var maxSessionsPerUser = 100
    /// Most access tokens of one session revoked on their own (`/revoke`) and not yet expired; one
    /// more ends the session instead, so that its record stays small.
    public var maxDeniedTokensPerSession = 64
    /// Most tokens of one registered client revoked on their own and not yet expired; one more
    /// revokes the secret the token was granted with instead.
    public var maxDeniedTokensPerClient = 256
    /// Longest a poll of the revocation feed waits for something to return (RFC 8936's long
    /// poll), in seconds.
    public var feedWait = 5
    /// Second factors (TOTP).
    public var secondFactor = SecondFactorSettings()

    public init() {}
}

extension AuthSettings {
    /// What the token codec needs of these settings.
    public var tokenSettings: TokenCodec.Settings {
        var settings = TokenCodec.Settings()
        settings.issuer = self.issuer
        settings.audience = self.audience
        settings.leeway = self.clockLeeway
        settings.accessTokenTTL = self.accessTokenTTL
        return settings
    }
}
