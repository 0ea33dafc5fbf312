/// Why the JOSE layer refused a token or a key: a kind to decide on, and a reason to show.
///
/// A token's reason is safe to give the client who sent it; a key's names the key id, never the
/// key. Neither names a setting or a command: the layers above say which of theirs was at fault.
public struct JOSEError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Not three base64url segments of a JSON header, JSON claims and a signature.
        case malformedToken
        /// A header outside the allow-list: algorithm, key id, `typ` or `crit`.
        case unacceptableHeader
        /// The signature does not verify, or the claims are not a valid claims set.
        case invalidSignature
        /// The claims verify but do not hold: kind, issuer, audience, issued in the future.
        case invalidClaims
        /// Past its `exp` (with the leeway): still authentic, and still names its session.
        case expired
        /// A key or secret that cannot be used: too short, equal to another, not a key.
        case invalidKey
    }

    public let kind: Kind
    public let reason: String

    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    public var description: String { self.reason }
}
