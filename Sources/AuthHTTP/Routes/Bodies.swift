import AuthCore
import JOSE
import WireJSON

/// `{"username", "password"}`; `name` is accepted for `username`, as in the tutorial.
struct CredentialsBody: Decodable {
    var username: String?
    var name: String?
    var password: String

    func requiredUsername() throws(HTTPError) -> String {
        guard let username = self.username ?? self.name else { throw .badRequest("missing field 'username'") }
        return username
    }
}

/// `{"token": refreshToken}`
struct RefreshBody: DirectJSONDecodable {
    var token: String

    init?(members: [(name: String, value: JSONReader.Value)]) {
        // Other members are ignored, as JSONDecoder ignores them.
        guard let member = members.first(where: { $0.name == "token" }), case .string(let token) = member.value
        else { return nil }
        self.token = token
    }
}

/// `{"token"?}` for `POST /token` from a browser, whose refresh token may be in the cookie.
struct OptionalRefreshBody: Decodable {
    var token: String?
}

/// `{"token"?, "scope"?}` for `POST /logout`.
struct LogoutBody: Decodable {
    var token: String?
    var scope: String?
}

struct PasswordBody: Decodable {
    var oldPassword: String
    var newPassword: String
}

/// RFC 7009 / 7662 parameters in JSON form.
struct RevokeBody: Decodable {
    var token: String
    var tokenTypeHint: String?

    enum CodingKeys: String, CodingKey {
        case token
        case tokenTypeHint = "token_type_hint"
    }
}

/// The tutorial's token response (camelCase).
struct TokenBody: DirectJSONBody {
    var accessToken: String
    var refreshToken: String
    var tokenType = "Bearer"
    var expiresIn: Int

    /// Whether the refresh token goes in the body (not when it goes in the cookie).
    var includesRefreshToken = true

    enum CodingKeys: String, CodingKey {
        case accessToken, refreshToken, tokenType, expiresIn
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.accessToken, forKey: .accessToken)
        try container.encode(self.expiresIn, forKey: .expiresIn)
        if self.includesRefreshToken { try container.encode(self.refreshToken, forKey: .refreshToken) }
        try container.encode(self.tokenType, forKey: .tokenType)
    }

    init(_ pair: TokenPair, includingRefreshToken: Bool = true) {
        self.accessToken = pair.accessToken
        self.refreshToken = pair.refreshToken
        self.expiresIn = pair.expiresIn
        self.includesRefreshToken = includingRefreshToken
    }

    var json: [UInt8] {
        var writer = JSONObjectWriter(capacity: 96 + self.accessToken.utf8.count + self.refreshToken.utf8.count)
        writer.add("accessToken", self.accessToken)
        writer.add("expiresIn", self.expiresIn)
        if self.includesRefreshToken { writer.add("refreshToken", self.refreshToken) }
        writer.add("tokenType", self.tokenType)
        return writer.finish()
    }
}

/// RFC 6749 §5.1's token response, for form-encoded requests.
struct OAuthTokenBody: DirectJSONBody {
    var accessToken: String
    var refreshToken: String
    var tokenType = "Bearer"
    var expiresIn: Int

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case refreshToken = "refresh_token"
        case tokenType = "token_type"
        case expiresIn = "expires_in"
    }

    init(_ pair: TokenPair) {
        self.accessToken = pair.accessToken
        self.refreshToken = pair.refreshToken
        self.expiresIn = pair.expiresIn
    }

    var json: [UInt8] {
        var writer = JSONObjectWriter(capacity: 96 + self.accessToken.utf8.count + self.refreshToken.utf8.count)
        writer.add("access_token", self.accessToken)
        writer.add("expires_in", self.expiresIn)
        writer.add("refresh_token", self.refreshToken)
        writer.add("token_type", self.tokenType)
        return writer.finish()
    }
}

struct MeBody: DirectJSONBody {
    var username: String
    var sessionId: String
    /// Seconds since 1970.
    var expiresAt: Int

    var json: [UInt8] {
        var writer = JSONObjectWriter()
        writer.add("expiresAt", self.expiresAt)
        writer.add("sessionId", self.sessionId)
        writer.add("username", self.username)
        return writer.finish()
    }
}

struct SessionBody: Encodable {
    var id: String
    var current: Bool
    var createdAt: Int
    var lastUsedAt: Int
    var expiresAt: Int
    var absoluteExpiresAt: Int
    var userAgent: String
    var ip: String

    init(_ session: SessionInfo, current: Bool) {
        self.id = session.id
        self.current = current
        self.createdAt = session.createdAt
        self.lastUsedAt = session.lastUsedAt
        self.expiresAt = session.expiresAt
        self.absoluteExpiresAt = session.absoluteExpiresAt
        self.userAgent = session.client.userAgent
        self.ip = session.client.ip
    }
}

/// RFC 7662 §2.2, for access tokens only. Anything else (a refresh token included) gets
/// `{"active": false}` and nothing more, so that a resource server can never take a refresh token
/// for an access token.
struct IntrospectionBody: Encodable {
    var active: Bool
    var sub: String?
    var username: String?
    var iss: String?
    var aud: String?
    var clientID: String?
    var exp: Int?
    var iat: Int?
    var nbf: Int?
    var jti: String?
    var sid: String?
    /// The RFC 6749 token type of the token (`Bearer`), as RFC 7662 §2.2 means it.
    var tokenType: String?
    /// RFC 9068's `typ` of the JWT, for resource servers that check it.
    var tokenUse: String?

    enum CodingKeys: String, CodingKey {
        case active, sub, username, iss, aud, exp, iat, nbf, jti, sid
        case clientID = "client_id"
        case tokenType = "token_type"
        case tokenUse = "token_use"
    }

    static let inactive = IntrospectionBody(active: false)

    private init(active: Bool) {
        self.active = active
    }

    init(_ claims: TokenClaims) {
        self.active = true
        self.sub = claims.sub
        self.username = claims.sub
        self.iss = claims.iss
        self.aud = claims.aud
        self.clientID = claims.clientID
        self.exp = claims.exp
        self.iat = claims.iat
        self.nbf = claims.nbf
        self.jti = claims.jti
        self.sid = claims.sid
        self.tokenType = "Bearer"
        self.tokenUse = claims.tokenUse.rawValue
    }
}

/// RFC 8414 §2.
struct AuthorizationServerMetadata: Encodable {
    var issuer: String
    var tokenEndpoint: String
    var jwksURI: String
    var revocationEndpoint: String
    var introspectionEndpoint: String
    var grantTypesSupported = ["password", "refresh_token"]
    /// REQUIRED by RFC 8414, but authd has no authorization endpoint: `none` is the registered
    /// response type that returns nothing.
    var responseTypesSupported = ["none"]
    /// Public clients: the token and revocation endpoints take no client authentication.
    var tokenEndpointAuthMethodsSupported = ["none"]
    var revocationEndpointAuthMethodsSupported = ["none"]
    var introspectionEndpointAuthMethodsSupported = ["client_secret_basic"]
    /// Not registered by RFC 8414 (which allows more members): the JWS algorithms of access tokens.
    var accessTokenAlgorithms: [String]

    enum CodingKeys: String, CodingKey {
        case issuer
        case tokenEndpoint = "token_endpoint"
        case jwksURI = "jwks_uri"
        case revocationEndpoint = "revocation_endpoint"
        case introspectionEndpoint = "introspection_endpoint"
        case grantTypesSupported = "grant_types_supported"
        case responseTypesSupported = "response_types_supported"
        case tokenEndpointAuthMethodsSupported = "token_endpoint_auth_methods_supported"
        case revocationEndpointAuthMethodsSupported = "revocation_endpoint_auth_methods_supported"
        case introspectionEndpointAuthMethodsSupported = "introspection_endpoint_auth_methods_supported"
        case accessTokenAlgorithms = "access_token_signing_alg_values_supported"
    }
}

struct ExamplePost: Encodable {
    var username: String
    var title: String
}

enum ExamplePosts {
    static let all = [
        ExamplePost(username: "kyle", title: "Post 1"),
        ExamplePost(username: "jim", title: "Post 2"),
    ]
}
