import AuthCore
import Crypto
import JOSE
import NIOHTTP1

/// The token endpoint's two dialects, RFC 7009 revocation and RFC 7662 introspection.
extension AuthRoutes {
    /// `POST /token`: JSON `{"token": refreshToken}` as in the tutorial, or RFC 6749 form-encoded
    /// `grant_type=refresh_token` (§6) and `grant_type=password` (§4.3).
    func token(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard request.isForm else {
            if let cookie = self.refreshCookie, cookie.applies(to: request) {
                // A browser in cookie mode: the token is the body's if it sends one, else the cookie's.
                let body =
                    request.body.map { $0.readableBytes > 0 } == true
                    ? try request.decodeJSON(OptionalRefreshBody.self) : OptionalRefreshBody()
                guard let token = body.token ?? RefreshCookie.token(in: request) else {
                    throw HTTPError.badRequest("no refresh token: neither in the body nor in the cookie")
                }
                return self.tokenResponse(try await self.auth.refresh(refreshToken: token), to: request)
            }
            let body = try request.decodeJSON(RefreshBody.self)
            return .tokens(TokenBody(try await self.auth.refresh(refreshToken: body.token)))
        }
        let form = try FormBody.parse(request.body)
        let pair: TokenPair
        switch form["grant_type"] {
        case "refresh_token":
            pair = try await self.auth.refresh(refreshToken: try Self.required("refresh_token", in: form))
        case "password":
            let username = try Self.required("username", in: form)
            let password = try Self.required("password", in: form)
            do {
                pair = try await self.auth.login(
                    username: username, password: password, client: Self.client(of: request))
            } catch AuthError.invalidCredentials {
                // RFC 6749 §5.2: a bad resource owner password is invalid_grant, status 400.
                throw HTTPError(.badRequest, code: "invalid_grant", description: "invalid username or password")
            }
        case nil:
            throw HTTPError.badRequest("missing parameter 'grant_type'")
        case let other?:
            throw HTTPError(
                .badRequest, code: "unsupported_grant_type",
                description: "grant_type '\(other.prefix(32))' is not supported; use refresh_token or password"
            )
        }
        return .tokens(OAuthTokenBody(pair))
    }

    /// `POST /revoke` (RFC 7009): `token` and an optional `token_type_hint`, form-encoded (JSON is
    /// accepted too). Always 200 once the request is well-formed, whatever the token was.
    func revoke(_ request: HTTPRequest) async throws -> HTTPResponse {
        let (token, hint) = try Self.tokenAndHint(request)
        try await self.auth.revoke(token: token, hint: hint)
        return HTTPResponse(status: .ok)
    }

    /// `POST /introspect` (RFC 7662), for resource servers with a configured client id and secret
    /// (HTTP Basic). An active token gives its claims; anything else gives only `active: false`.
    func introspect(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard let credentials = request.basicCredentials(), self.isIntrospectionClient(credentials) else {
            throw HTTPError(
                .unauthorized, code: "invalid_client", description: "introspection needs client credentials",
                headers: ["www-authenticate": "Basic realm=\"authd\""]
            )
        }
        let (token, hint) = try Self.tokenAndHint(request)
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
        let base = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        var response = HTTPResponse.json(
            AuthorizationServerMetadata(
                issuer: issuer,
                tokenEndpoint: base + "/token",
                jwksURI: base + "/.well-known/jwks.json",
                revocationEndpoint: base + "/revoke",
                introspectionEndpoint: base + "/introspect",
                accessTokenAlgorithms: self.auth.accessTokenAlgorithms
            ))
        response.headers.add(name: "cache-control", value: "public, max-age=300")
        return response
    }

    private func isIntrospectionClient(_ credentials: (id: String, secret: String)) -> Bool {
        guard let expected = self.introspectionClients[credentials.id] else { return false }
        // Compare digests, so the comparison takes the same time wherever the secrets differ.
        return SHA256.hash(data: Array(expected.utf8)) == SHA256.hash(data: Array(credentials.secret.utf8))
    }

    private static func tokenAndHint(_ request: HTTPRequest) throws -> (String, TokenKind?) {
        let token: String
        let hint: String?
        if request.isForm {
            let form = try FormBody.parse(request.body)
            token = try Self.required("token", in: form)
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

    private static func required(_ name: String, in form: [String: String]) throws(HTTPError) -> String {
        guard let value = form[name], !value.isEmpty else { throw .badRequest("missing parameter '\(name)'") }
        return value
    }
}
