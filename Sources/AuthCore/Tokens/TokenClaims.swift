import JWTKit

/// Which kind a token is. Each kind has its own secret and its own `token_use` claim, so an access
/// token is never accepted as a refresh token, nor the reverse.
public enum TokenKind: String, Sendable, Codable {
    case access
    case refresh
}

/// The claims of both kinds of token. Times are whole seconds since 1970.
public struct TokenClaims: JWTPayload, Equatable {
    /// Issuer.
    public var iss: String
    /// Subject: the canonical user name.
    public var sub: String
    public var iat: Int
    public var exp: Int
    /// This token's unique id.
    public var jti: String
    /// The session the token belongs to.
    public var sid: String
    public var tokenUse: TokenKind

    enum CodingKeys: String, CodingKey {
        case iss, sub, iat, exp, jti, sid
        case tokenUse = "token_use"
    }

    public init(iss: String, sub: String, iat: Int, exp: Int, jti: String, sid: String, tokenUse: TokenKind) {
        self.iss = iss
        self.sub = sub
        self.iat = iat
        self.exp = exp
        self.jti = jti
        self.sid = sid
        self.tokenUse = tokenUse
    }

    /// jwt-kit calls this after the signature checks out. Expiry is checked by the caller against
    /// the injected clock, since jwt-kit's own checks read the wall clock.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}
