import WireJSON

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
    /// Not before (RFC 7519 §4.1.5). authd never sets it, but honours it when a token carries it.
    public var nbf: Int?
    /// This token's unique id.
    public var jti: String
    /// The session the token belongs to; for a client's own token (``grantedToClient``), the id of
    /// the client secret it was granted with.
    public var sid: String
    public var tokenUse: TokenKind
    /// Access tokens: the user's roles when the token was issued, omitted when there are none. A
    /// snapshot for resource servers that check tokens offline: authd itself (verify, forward
    /// auth, introspection) answers with the session's roles as they are now.
    public var roles: [String]
    /// Whether the token was granted to a client for itself (RFC 6749 §4.4, the client-credentials
    /// grant): then `sub` is the client's id, there is no user and no session, and the claim `gty`
    /// is `client_credentials` (absent otherwise). Client ids and user names never overlap.
    public var grantedToClient = false
    /// Access tokens of a user's: how the user authenticated (RFC 8176, `pwd`, `otp`), omitted when
    /// not known.
    public var amr: [String] = []
    /// Access tokens of a user's: when the user last authenticated (OpenID Connect's `auth_time`).
    public var authTime: Int?
    /// The thumbprint of the key the token is bound to (RFC 9449 §6.1, `cnf.jkt`): an access token
    /// or a refresh token that works only with a DPoP proof signed by that key.
    public var boundKey: String?

    /// The `gty` of a client's own token.
    public static let clientCredentialsGrant = "client_credentials"
    /// The longest lifetime a client's own token may be given (a day).
    public static let maxClientTokenLifetime = 86_400

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, iat, exp, nbf, jti, sid, roles, gty, amr, cnf
        case authTime = "auth_time"
        case clientID = "client_id"
        case tokenUse = "token_use"
    }

    public init(
        iss: String, sub: String, aud: String, clientID: String, iat: Int, exp: Int, jti: String, sid: String,
        tokenUse: TokenKind, roles: [String] = []
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
        self.roles = roles
    }
}

extension TokenClaims {
    /// As ``init(json:)`` reads them: `roles` may be absent (none), `nbf` too.
    public init(from decoder: any Decoder) throws {
        let claims = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            iss: try claims.decode(String.self, forKey: .iss), sub: try claims.decode(String.self, forKey: .sub),
            aud: try claims.decode(String.self, forKey: .aud),
            clientID: try claims.decode(String.self, forKey: .clientID),
            iat: try claims.decode(Int.self, forKey: .iat), exp: try claims.decode(Int.self, forKey: .exp),
            jti: try claims.decode(String.self, forKey: .jti), sid: try claims.decode(String.self, forKey: .sid),
            tokenUse: try claims.decode(TokenKind.self, forKey: .tokenUse),
            roles: try claims.decodeIfPresent([String].self, forKey: .roles) ?? [])
        self.nbf = try claims.decodeIfPresent(Int.self, forKey: .nbf)
        self.grantedToClient = try claims.decodeIfPresent(String.self, forKey: .gty) == Self.clientCredentialsGrant
        self.amr = try claims.decodeIfPresent([String].self, forKey: .amr) ?? []
        self.authTime = try claims.decodeIfPresent(Int.self, forKey: .authTime)
        self.boundKey = try claims.decodeIfPresent(Confirmation.self, forKey: .cnf)?.jkt
    }

    /// The `cnf` claim (RFC 7800) with its RFC 9449 member.
    struct Confirmation: Codable {
        var jkt: String
    }

    /// `cnf` as JSON, `{"jkt": THUMBPRINT}`: in a token's claims and in introspection (RFC 9449 §6).
    public static func confirmation(boundTo thumbprint: String) -> [UInt8] {
        var cnf = JSONObjectWriter(capacity: 64)
        cnf.add("jkt", thumbprint)
        return cnf.finish()
    }

    public func encode(to encoder: any Encoder) throws {
        var claims = encoder.container(keyedBy: CodingKeys.self)
        try claims.encode(self.iss, forKey: .iss)
        try claims.encode(self.sub, forKey: .sub)
        try claims.encode(self.aud, forKey: .aud)
        try claims.encode(self.clientID, forKey: .clientID)
        try claims.encode(self.iat, forKey: .iat)
        try claims.encode(self.exp, forKey: .exp)
        try claims.encodeIfPresent(self.nbf, forKey: .nbf)
        try claims.encode(self.jti, forKey: .jti)
        try claims.encode(self.sid, forKey: .sid)
        try claims.encode(self.tokenUse, forKey: .tokenUse)
        if !self.roles.isEmpty { try claims.encode(self.roles, forKey: .roles) }
        if self.grantedToClient { try claims.encode(Self.clientCredentialsGrant, forKey: .gty) }
        if !self.amr.isEmpty { try claims.encode(self.amr, forKey: .amr) }
        try claims.encodeIfPresent(self.authTime, forKey: .authTime)
        try claims.encodeIfPresent(self.boundKey.map(Confirmation.init(jkt:)), forKey: .cnf)
    }

    /// The claims as the JSON of a token's payload.
    public var json: [UInt8] {
        var writer = JSONObjectWriter(capacity: 512)
        writer.add("iss", self.iss)
        writer.add("sub", self.sub)
        writer.add("aud", self.aud)
        writer.add("client_id", self.clientID)
        writer.add("iat", self.iat)
        writer.add("exp", self.exp)
        if let nbf = self.nbf { writer.add("nbf", nbf) }
        writer.add("jti", self.jti)
        writer.add("sid", self.sid)
        writer.add("token_use", self.tokenUse.rawValue)
        if !self.roles.isEmpty { writer.add("roles", self.roles) }
        if self.grantedToClient { writer.add("gty", Self.clientCredentialsGrant) }
        if !self.amr.isEmpty { writer.add("amr", self.amr) }
        if let authTime = self.authTime { writer.add("auth_time", authTime) }
        if let key = self.boundKey { writer.add("cnf", json: Self.confirmation(boundTo: key)) }
        return writer.finish()
    }

    /// The claims of a token's payload; `nil` unless every claim is present with its type.
    /// Claims of other names are ignored (RFC 7519 §4).
    public init?(json: [UInt8]) {
        guard let members = JSONReader.object(json) else { return nil }
        var iss: String?
        var sub: String?
        var aud: String?
        var clientID: String?
        var jti: String?
        var sid: String?
        var tokenUse: String?
        var iat: Int?
        var exp: Int?
        var nbf: Int?
        var roles: [String] = []
        var grantedToClient = false
        var amr: [String] = []
        var authTime: Int?
        var boundKey: String?
        for (name, value) in members {
            switch (name, value) {
            case ("iat", .integer(let time)): iat = time
            case ("exp", .integer(let time)): exp = time
            case ("nbf", .integer(let time)): nbf = time
            case ("iss", .string(let text)): iss = text
            case ("sub", .string(let text)): sub = text
            case ("aud", .string(let text)): aud = text
            case ("client_id", .string(let text)): clientID = text
            case ("jti", .string(let text)): jti = text
            case ("sid", .string(let text)): sid = text
            case ("token_use", .string(let text)): tokenUse = text
            case ("roles", .strings(let list)): roles = list
            case ("gty", .string(let text)) where text == Self.clientCredentialsGrant: grantedToClient = true
            case ("amr", .strings(let list)): amr = list
            case ("auth_time", .integer(let time)): authTime = time
            case ("cnf", .object(let confirmation)):
                // Only the thumbprint is known; a `cnf` of any other kind binds to nothing authd checks.
                guard case .string(let thumbprint)? = confirmation["jkt"] else { return nil }
                boundKey = thumbprint
            case ("iat", _), ("exp", _), ("nbf", _), ("iss", _), ("sub", _), ("aud", _), ("client_id", _), ("jti", _),
                ("sid", _), ("token_use", _), ("roles", _), ("gty", _), ("amr", _), ("auth_time", _), ("cnf", _):
                return nil
            default:
                continue
            }
        }
        guard let iss, let sub, let aud, let clientID, let jti, let sid,
            let tokenUse = tokenUse.flatMap(TokenKind.init(rawValue:)), let iat, let exp
        else { return nil }
        self.init(
            iss: iss, sub: sub, aud: aud, clientID: clientID, iat: iat, exp: exp, jti: jti, sid: sid,
            tokenUse: tokenUse, roles: roles)
        self.nbf = nbf
        self.grantedToClient = grantedToClient
        self.amr = amr
        self.authTime = authTime
        self.boundKey = boundKey
    }
}
