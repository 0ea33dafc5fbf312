/// Which kind a token is. Each kind has its own key, its own `typ` header and its own
/// `token_use` claim, so an access token is never accepted as a refresh token, nor the reverse.
public enum TokenKind: String, Sendable, Codable {
    case access
    case refresh

    /// The JOSE `typ` header: RFC 9068's for access tokens, one of authd's own for refresh tokens.
    public var typ: String {
        switch self {
        case .access: "at+jwt"
        case .refresh: "rt+jwt"
        }
    }
}

/// The claims of both kinds of token (RFC 9068 §2.2 for access tokens). Times are whole seconds
/// since 1970.
public struct TokenClaims: Codable, Sendable, Equatable {
    /// Issuer.
    public var iss: String
    /// Subject: the canonical user name.
    public var sub: String
    /// Audience: the resource servers an access token is for; authd itself for refresh tokens.
    public var aud: String
    /// The OAuth client the token was issued to.
    public var clientID: String
    public var iat: Int
    public var exp: Int
    /// This token's unique id.
    public var jti: String
    /// The session the token belongs to.
    public var sid: String
    public var tokenUse: TokenKind

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, iat, exp, jti, sid
        case clientID = "client_id"
        case tokenUse = "token_use"
    }

    public init(
        iss: String, sub: String, aud: String, clientID: String, iat: Int, exp: Int, jti: String, sid: String,
        tokenUse: TokenKind
    ) {
        self.iss = iss
        self.sub = sub
        self.aud = aud
        self.clientID = clientID
        self.iat = iat
        self.exp = exp
        self.jti = jti
        self.sid = sid
        self.tokenUse = tokenUse
    }
}
