import AuthCore
import NIOHTTP1
import WireJSON

/// Accounts and tokens: `POST /users`, `POST /login`, and `POST /token` in both of its dialects
/// (the tutorial's JSON, RFC 6749's form-encoded grants).
struct TokenController: Sendable {
    let auth: AuthService
    /// The refresh token in a cookie for browsers on allowed origins; `nil`: bodies only.
    let refreshCookie: RefreshCookie?
    /// The DPoP proof of a token request: its key binds the tokens issued (RFC 9449 §5).
    let dpop: DPoPGuard

    func register(in router: inout Router) {
        router.add(.POST, "/users") { try await self.createUser($0) }
        router.add(.POST, "/login") { try await self.login($0) }
        router.add(.POST, "/token", errors: .oauth) { try await self.token($0) }
    }

    func createUser(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try request.decodeJSON(CredentialsBody.self)
        let name = try await self.auth.register(
            username: try body.requiredUsername(), password: body.password, client: .init(request))
        var writer = JSONObjectWriter()
        writer.add("username", name)
        return .json(PrewrittenJSON(json: writer.finish()), status: .created)
    }

    func login(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try request.decodeJSON(CredentialsBody.self)
        let key = try await self.dpop.tokenRequestKey(request)
        let pair = try await self.auth.login(
            username: try body.requiredUsername(), password: body.password, client: .init(request),
            deviceToken: body.deviceToken, boundKey: key
        )
        return self.tokenResponse(pair, to: request)
    }

    /// `POST /token`: JSON `{"token": refreshToken}` as in the tutorial, or RFC 6749 form-encoded
    /// `grant_type=refresh_token` (§6), `grant_type=password` (§4.3) and, for registered clients,
    /// `grant_type=client_credentials` (§4.4).
    func token(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard request.isForm else {
            if let cookie = self.refreshCookie, cookie.applies(to: request) {
                // A browser in cookie mode: the token is the body's if it sends one, else the cookie's.
                let body =
                    request.body.map { $0.readableBytes > 0 } == true
                    ? try request.decodeJSON(OptionalRefreshBody.self) : OptionalRefreshBody()
                guard let token = try body.token ?? RefreshCookie.token(in: request) else {
                    throw HTTPError.badRequest("no refresh token: neither in the body nor in the cookie")
                }
                let key = try await self.dpop.tokenRequestKey(request)
                return self.tokenResponse(try await self.auth.refresh(refreshToken: token, proofKey: key), to: request)
            }
            let body = try request.decodeJSON(RefreshBody.self)
            let key = try await self.dpop.tokenRequestKey(request)
            return self.tokenResponse(try await self.auth.refresh(refreshToken: body.token, proofKey: key), to: request)
        }
        let form = try FormBody.parse(request.body)
        let pair: TokenPair
        switch form["grant_type"] {
        case "refresh_token":
            let token = try FormBody.required("refresh_token", in: form)
            pair = try await self.auth.refresh(
                refreshToken: token, proofKey: try await self.dpop.tokenRequestKey(request))
        case "password":
            let username = try FormBody.required("username", in: form)
            let password = try FormBody.required("password", in: form)
            let key = try await self.dpop.tokenRequestKey(request)
            // A bad password is RFC 6749 §5.2's invalid_grant with 400: the route's error dialect.
            pair = try await self.auth.login(
                username: username, password: password, client: .init(request), boundKey: key)
        case "client_credentials":
            return try await self.clientCredentials(request, form: form)
        case nil:
            throw HTTPError.badRequest("missing parameter 'grant_type'")
        case let other?:
            throw HTTPError(
                .badRequest, code: "unsupported_grant_type",
                description:
                    "grant_type '\(other.prefix(32))' is not supported; use refresh_token, password or client_credentials"
            )
        }
        return self.tokenResponse(pair, style: .oauth, to: request)
    }

    /// The client-credentials grant: a registered client allowed tokens (`--may token`) authenticates
    /// and gets an access token for itself, and no refresh token. `resource` (RFC 8707) or
    /// `audience` names the audience, one of the client's; `scope` is ignored (authd has no scopes).
    func clientCredentials(_ request: HTTPRequest, form: [String: String]) async throws -> HTTPResponse {
        guard let credentials = try ClientAuthentication.credentials(of: request, form: form) else {
            throw AuthError.invalidClient
        }
        let (client, secret) = try await self.auth.authenticateClient(
            id: credentials.id, secret: credentials.secret, for: .token, ip: request.clientIP ?? "")
        let key = try await self.dpop.tokenRequestKey(request)
        let asked = [form["resource"], form["audience"]].compactMap { $0 }
        if asked.count == 2, asked[0] != asked[1] {
            throw AuthError.invalidTarget("give one audience: resource and audience differ")
        }
        var audience: String?
        if let value = asked.first {
            guard let valid = try? ClientRules.audience(value) else {
                throw AuthError.invalidTarget("an audience is 1 to 256 printable ASCII characters, no space or comma")
            }
            audience = valid
        }
        let (token, expiresIn) = try await self.auth.grantClientToken(
            to: client, secret: secret, audience: audience, boundKey: key)
        var writer = JSONObjectWriter(capacity: 96 + token.utf8.count)
        writer.add("access_token", token)
        writer.add("expires_in", expiresIn)
        writer.add("token_type", TokenPair.tokenType(boundKey: key))
        var response = HTTPResponse.tokens(PrewrittenJSON(json: writer.finish()))
        self.dpop.addNonce(to: &response, for: request)
        return response
    }

    /// The token response: the refresh token in the body, or, for a browser on an allowed origin
    /// in cookie mode, in the cookie only, whatever the request's style. With server nonces on, a
    /// DPoP request's answer carries the next nonce.
    func tokenResponse(_ pair: TokenPair, style: TokenBody.Style = .tutorial, to request: HTTPRequest) -> HTTPResponse {
        var response: HTTPResponse
        if let cookie = self.refreshCookie, cookie.applies(to: request) {
            response = HTTPResponse.tokens(TokenBody(pair, style: style, includingRefreshToken: false))
            cookie.set(pair.refreshToken, on: &response)
        } else {
            response = .tokens(TokenBody(pair, style: style))
        }
        self.dpop.addNonce(to: &response, for: request)
        return response
    }
}

extension TokenController {
    /// `{"username", "password"}`; `name` is accepted for `username`, as in the tutorial.
    struct CredentialsBody: JSONRequestBody {
        var username: String?
        var name: String?
        var password: String
        /// From an earlier login of this user on this client (see ``JOSE/DeviceTokens``).
        var deviceToken: String?

        init(fields: JSONFields) throws(HTTPError) {
            self.username = try fields.string("username")
            self.name = try fields.string("name")
            self.password = try fields.requiredString("password")
            self.deviceToken = try fields.string("deviceToken")
        }

        func requiredUsername() throws(HTTPError) -> String {
            guard let username = self.username ?? self.name else { throw .badRequest("missing field 'username'") }
            return username
        }
    }

    /// `{"token": refreshToken}`
    struct RefreshBody: JSONRequestBody {
        var token: String

        init(fields: JSONFields) throws(HTTPError) {
            self.token = try fields.requiredString("token")
        }
    }

    /// `{"token"?}` for `POST /token` from a browser, whose refresh token may be in the cookie.
    struct OptionalRefreshBody: JSONRequestBody {
        var token: String?

        init() {}

        init(fields: JSONFields) throws(HTTPError) {
            self.token = try fields.string("token")
        }
    }

    /// The token response, in the tutorial's camelCase or RFC 6749 §5.1's snake_case.
    struct TokenBody: JSONResponseBody {
        enum Style {
            /// `accessToken`, `expiresIn`, `refreshToken`, `tokenType`: the tutorial's, for JSON requests.
            case tutorial
            /// `access_token`, `expires_in`, `refresh_token`, `token_type`: for form-encoded requests.
            case oauth
        }

        var accessToken: String
        var refreshToken: String
        /// After a login, in the tutorial's style only.
        var deviceToken: String?
        /// `Bearer`, or `DPoP` for tokens bound to a key (RFC 9449 §5).
        var tokenType: String
        var expiresIn: Int
        var style: Style
        /// Whether the refresh token goes in the body (not when it goes in the cookie).
        var includesRefreshToken = true

        init(_ pair: TokenPair, style: Style = .tutorial, includingRefreshToken: Bool = true) {
            self.accessToken = pair.accessToken
            self.refreshToken = pair.refreshToken
            self.deviceToken = style == .tutorial ? pair.deviceToken : nil
            self.tokenType = pair.tokenType
            self.expiresIn = pair.expiresIn
            self.style = style
            self.includesRefreshToken = includingRefreshToken
        }

        /// The members' names in the style, in sorted order: access token, expiry, refresh token, type.
        private var names: (StaticString, StaticString, StaticString, StaticString) {
            switch self.style {
            case .tutorial: ("accessToken", "expiresIn", "refreshToken", "tokenType")
            case .oauth: ("access_token", "expires_in", "refresh_token", "token_type")
            }
        }

        var json: [UInt8] {
            let names = self.names
            var writer = JSONObjectWriter(capacity: 96 + self.accessToken.utf8.count + self.refreshToken.utf8.count)
            writer.add(names.0, self.accessToken)
            if let device = self.deviceToken { writer.add("deviceToken", device) }
            writer.add(names.1, self.expiresIn)
            if self.includesRefreshToken { writer.add(names.2, self.refreshToken) }
            writer.add(names.3, self.tokenType)
            return writer.finish()
        }
    }
}
