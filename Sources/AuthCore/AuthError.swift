/// What went wrong in the token domain, in the client's terms. The HTTP layer maps each case to a
/// status and a standard error body in one place.
public enum AuthError: Error, Sendable, Equatable {
    /// The request is malformed or a field breaks a documented rule.
    case invalidRequest(String)
    case usernameTaken
    case signupDisabled
    /// Unknown user or wrong password: deliberately the same error.
    case invalidCredentials
    /// A refresh token that is malformed, forged, expired, of the wrong type, revoked or reused.
    case invalidGrant(String)
    /// An access token that is malformed, forged, expired, of the wrong type or of an ended session.
    case invalidToken(String)
    /// The caller has no session with that id.
    case sessionNotFound
    /// Too many attempts of a kind (`attempts`: "failed logins", "sign-ups", "wrong client
    /// secrets"); try again after this many seconds.
    case throttled(retryAfter: Int, attempts: String)
    /// Client authentication failed: unknown client, wrong secret, or none (RFC 6749 §5.2).
    case invalidClient
    /// The client authenticated, but may not do this (RFC 6749 §5.2's `unauthorized_client`).
    case unauthorizedClient(String)
    /// The audience asked for is not one of the client's (RFC 8707's `invalid_target`).
    case invalidTarget(String)
    /// A feature this deployment does not offer as configured (404).
    case featureOff(String)
    /// The password was right, and the user has a second factor: no tokens yet, but a challenge
    /// (``FactorChallenge/token``), completed with a code within `expiresIn` seconds.
    case secondFactorRequired(challenge: String, expiresIn: Int)
    /// A second-factor code that is wrong, outside the accepted steps, or already used; or a
    /// recovery code that is unknown or spent.
    case invalidCode
    /// A second factor is active already (enrolment), or none is (step-up, removal).
    case factorState(String)
    /// A DPoP proof (RFC 9449) that is missing where a bound token needs one, malformed, replayed,
    /// or made with another key than the token's.
    case invalidDPoPProof(String)
}

/// The store (Redis) could not be reached or refused the operation. The service fails closed:
/// nothing is accepted that the store could not confirm.
public struct StoreUnavailableError: Error, Sendable, CustomStringConvertible {
    /// For logs only; never sent to clients.
    public let reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { "store unavailable: \(self.reason)" }
}
