import AuthCore
import JOSE
import NIOHTTP1
import WireJSON

/// RFC 7009 revocation, RFC 7662 introspection and RFC 8414 metadata.
struct OAuthController: Sendable {
    let auth: AuthService
    let dpop: DPoPPolicy

    func register(in router: inout Router) {
        router.add(.POST, "/revoke") { try await self.revoke($0) }
        router.add(.POST, "/introspect") { try await self.introspect($0) }
        router.add(.GET, "/.well-known/oauth-authorization-server") { try await self.metadata($0) }
    }

    /// `POST /revoke` (RFC 7009): `token` and an optional `token_type_hint`, form-encoded (JSON is
    /// accepted too). Always 200 once the request is well-formed, whatever the token was.
    func revoke(_ request: HTTPRequest) async throws -> HTTPResponse {
        let (token, hint) = try Self.tokenAndHint(request)
        try await self.auth.revoke(token: token, hint: hint)
        return HTTPResponse(status: .ok)
    }

    /// `POST /introspect` (RFC 7662), for clients allowed to introspect: registered ones
    /// (`authd clients add --may introspect`) and those of `AUTHD_INTROSPECTION_CLIENTS`, with HTTP
    /// Basic or `client_id` and `client_secret` in the form. An active token gives its claims;
    /// anything else gives only `active: false`.
    func introspect(_ request: HTTPRequest) async throws -> HTTPResponse {
        let form = request.isForm ? try FormBody.parse(request.body) : nil
        guard let credentials = try ClientAuthentication.credentials(of: request, form: form) else {
            throw AuthError.invalidClient
        }
        _ = try await self.auth.authenticateClient(
            id: credentials.id, secret: credentials.secret, for: .introspect, ip: request.clientIP ?? "")
        let (token, hint) = try Self.tokenAndHint(request, form: form)
        var response = HTTPResponse.json(
            try await self.auth.introspect(token: token, hint: hint).map(IntrospectionBody.init)
                ?? IntrospectionBody.inactive)
        // RFC 7662 §4: what a token is worth now must not be cached.
        response.headers.replaceOrAdd(name: "cache-control", value: "no-store")
        return response
    }

    /// RFC 8414 authorization server metadata: where the endpoints are and what they take, so
    /// that clients discover them instead of hard-coding URLs. authd issues no ID tokens and makes
    /// no claim to OpenID Connect.
    func metadata(_ request: HTTPRequest) async throws -> HTTPResponse {
        let issuer = self.auth.settings.issuer
        let base = self.auth.settings.issuerBase
        var response = HTTPResponse.json(
            AuthorizationServerMetadata(
                issuer: issuer,
                tokenEndpoint: base + "/token",
                jwksURI: base + "/.well-known/jwks.json",
                revocationEndpoint: base + "/revoke",
                introspectionEndpoint: base + "/introspect",
                accessTokenAlgorithms: self.auth.accessTokenAlgorithms,
                dpopAlgorithms: self.dpop.mode == .off ? nil : self.dpop.algorithms
            ))
        response.headers.add(name: "cache-control", value: "public, max-age=300")
        return response
    }

    private static func tokenAndHint(_ request: HTTPRequest, form: [String: String]? = nil) throws -> (
        String, TokenKind?
    ) {
        let token: String
        let hint: String?
        if request.isForm {
            let form = try form ?? FormBody.parse(request.body)
            token = try FormBody.required("token", in: form)
            hint = form["token_type_hint"]
        } else {
            let body = try request.decodeJSON(RevokeBody.self)
            token = body.token
            hint = body.tokenTypeHint
        }
        // Unknown hints are ignored, as RFC 7009 §2.1 allows.
        let kind: TokenKind? =
            switch hint {
            case "access_token": .access
            case "refresh_token": .refresh
            default: nil
            }
        return (token, kind)
    }
}

extension OAuthController {
    /// RFC 7009 / 7662 parameters in JSON form.
    struct RevokeBody: JSONRequestBody {
        var token: String
        var tokenTypeHint: String?

        init(fields: JSONFields) throws(HTTPError) {
            self.token = try fields.requiredString("token")
            self.tokenTypeHint = try fields.string("token_type_hint")
        }
    }

    /// RFC 7662 §2.2, for access tokens only. Anything else (a refresh token included) gets
    /// `{"active": false}` and nothing more, so that a resource server can never take a refresh token
    /// for an access token.
    struct IntrospectionBody: JSONResponseBody {
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
        /// RFC 9449 §6.2: the thumbprint of the key a bound token needs a proof of (`cnf.jkt`).
        var boundKey: String?
        /// The RFC 6749 token type of the token (`Bearer`, or `DPoP` when bound), as RFC 7662 §2.2 means it.
        var tokenType: String?
        /// RFC 9068's `typ` of the JWT, for resource servers that check it.
        var tokenUse: String?
        /// The session's roles as they are now (RFC 9068 §2.2.3.1's `roles`); left out when none.
        var roles: [String] = []

        /// The members in sorted order; absent ones are left out.
        var json: [UInt8] {
            var writer = JSONObjectWriter(capacity: 384)
            writer.add("active", self.active)
            if let aud = self.aud { writer.add("aud", aud) }
            if let clientID = self.clientID { writer.add("client_id", clientID) }
            if let key = self.boundKey { writer.add("cnf", json: TokenClaims.confirmation(boundTo: key)) }
            if let exp = self.exp { writer.add("exp", exp) }
            if let iat = self.iat { writer.add("iat", iat) }
            if let iss = self.iss { writer.add("iss", iss) }
            if let jti = self.jti { writer.add("jti", jti) }
            if let nbf = self.nbf { writer.add("nbf", nbf) }
            if !self.roles.isEmpty { writer.add("roles", self.roles) }
            if let sid = self.sid { writer.add("sid", sid) }
            if let sub = self.sub { writer.add("sub", sub) }
            if let tokenType = self.tokenType { writer.add("token_type", tokenType) }
            if let tokenUse = self.tokenUse { writer.add("token_use", tokenUse) }
            if let username = self.username { writer.add("username", username) }
            return writer.finish()
        }

        static let inactive = IntrospectionBody(active: false)

        private init(active: Bool) {
            self.active = active
        }

        init(_ claims: TokenClaims) {
            self.active = true
            self.sub = claims.sub
            // A client's own token has no resource owner (RFC 7662 §2.2's `username`).
            self.username = claims.grantedToClient ? nil : claims.sub
            self.iss = claims.iss
            self.aud = claims.aud
            self.clientID = claims.clientID
            self.exp = claims.exp
            self.iat = claims.iat
            self.nbf = claims.nbf
            self.jti = claims.jti
            self.sid = claims.sid
            self.boundKey = claims.boundKey
            self.tokenType = TokenPair.tokenType(boundKey: claims.boundKey)
            self.tokenUse = claims.tokenUse.rawValue
            self.roles = claims.roles
        }
    }

    /// RFC 8414 §2.
    struct AuthorizationServerMetadata: JSONResponseBody {
        var issuer: String
        var tokenEndpoint: String
        var jwksURI: String
        var revocationEndpoint: String
        var introspectionEndpoint: String
        var grantTypesSupported = ["client_credentials", "password", "refresh_token"]
        /// REQUIRED by RFC 8414, but authd has no authorization endpoint: `none` is the registered
        /// response type that returns nothing.
        var responseTypesSupported = ["none"]
        /// Public clients use the token endpoint without authentication; registered clients
        /// authenticate for the client-credentials grant. Revocation takes none.
        var tokenEndpointAuthMethodsSupported = ["client_secret_basic", "client_secret_post", "none"]
        var revocationEndpointAuthMethodsSupported = ["none"]
        var introspectionEndpointAuthMethodsSupported = ["client_secret_basic", "client_secret_post"]
        /// Not registered by RFC 8414 (which allows more members): the JWS algorithms of access tokens.
        var accessTokenAlgorithms: [String]
        /// RFC 9449 §5.1: the algorithms of DPoP proofs; `nil` with DPoP off.
        var dpopAlgorithms: [String]?

        var json: [UInt8] {
            var writer = JSONObjectWriter(capacity: 768)
            writer.add("access_token_signing_alg_values_supported", self.accessTokenAlgorithms)
            if let dpop = self.dpopAlgorithms { writer.add("dpop_signing_alg_values_supported", dpop) }
            writer.add("grant_types_supported", self.grantTypesSupported)
            writer.add("introspection_endpoint", self.introspectionEndpoint)
            writer.add("introspection_endpoint_auth_methods_supported", self.introspectionEndpointAuthMethodsSupported)
            writer.add("issuer", self.issuer)
            writer.add("jwks_uri", self.jwksURI)
            writer.add("response_types_supported", self.responseTypesSupported)
            writer.add("revocation_endpoint", self.revocationEndpoint)
            writer.add("revocation_endpoint_auth_methods_supported", self.revocationEndpointAuthMethodsSupported)
            writer.add("token_endpoint", self.tokenEndpoint)
            writer.add("token_endpoint_auth_methods_supported", self.tokenEndpointAuthMethodsSupported)
            return writer.finish()
        }
    }
}

/// Client authentication, RFC 6749 §2.3.1: HTTP Basic (`client_secret_basic`) or `client_id`
/// and `client_secret` in the form (`client_secret_post`), never both.
enum ClientAuthentication {
    /// The id and secret the request presents; nil when it presents none.
    static func credentials(of request: HTTPRequest, form: [String: String]?) throws(HTTPError) -> (
        id: String, secret: String
    )? {
        let basic = request.basicCredentials()
        let posted = form?["client_secret"].map { (id: form?["client_id"] ?? "", secret: $0) }
        if basic != nil, posted != nil {
            throw .badRequest("use one client authentication method: HTTP Basic or client_secret in the body")
        }
        return basic ?? posted
    }
}
