import AuthCore

/// Authentication, done once for the routes that need it (hummingbird-examples'
/// `JWTAuthenticator` is the model): a route wrapped by it runs with the caller's principal, and
/// a request without a valid access token never reaches the route.
///
/// The token comes as `Authorization: Bearer` (RFC 6750) or, bound to a key, as
/// `Authorization: DPoP` with a proof of that key (RFC 9449 §7); a bound token is never taken as a
/// bearer token, nor an unbound one with a proof.
struct BearerAuthenticator: Sendable {
    let auth: AuthService
    let dpop: DPoPGuard

    /// The access token's principal, a user's or a registered client's own (``Principal/isClient``),
    /// or 401 with a `WWW-Authenticate` challenge. `target`: the request a DPoP proof must be for,
    /// when it is not this one (a gateway's, for forward auth).
    func principal(of request: HTTPRequest, target: DPoPTarget? = nil) async throws -> Principal {
        let mode = self.dpop.policy.mode
        if let token = try request.bearerToken() {
            guard mode != .required else {
                throw self.dpop.challenge(
                    "invalid_token",
                    "bearer tokens are not accepted: send the token as Authorization: DPoP with a proof")
            }
            return try await self.auth.authenticate(accessToken: token) { bound in
                guard bound == nil else {
                    throw self.dpop.challenge(
                        "invalid_token",
                        "this access token is bound to a key: send it as Authorization: DPoP with a proof"
                    )
                }
            }
        }
        if mode != .off, let token = request.authorization(scheme: "dpop") {
            // The token verifies first (an HMAC or one signature of authd's): a made-up token costs
            // no proof verification and no Redis call.
            return try await self.auth.authenticate(accessToken: token) { bound in
                guard let bound else {
                    throw self.dpop.challenge(
                        "invalid_token", "this access token is not bound to a key: send it as Bearer")
                }
                let key = try await self.dpop.resourceKey(
                    request, accessToken: token, target: target ?? self.dpop.target(of: request))
                guard key == bound else {
                    throw self.dpop.challenge(
                        "invalid_dpop_proof", "the DPoP proof's key is not the one this access token is bound to")
                }
            }
        }
        // With DPoP required, its challenge (RFC 9449 §7.1); otherwise RFC 6750's, as before DPoP
        // (gateways pass one challenge on, and the metadata lists the proof algorithms).
        throw mode == .required
            ? self.dpop.challenge(nil, "an access token is required, bound to a key (DPoP)")
            : HTTPError.unauthorized(nil, "an access token is required")
    }

    /// A route of a user's that runs `handler` with the caller's principal. A client's own token
    /// has no user, no session and no password: 403 with `insufficient_scope`. With server nonces
    /// on, a DPoP request's answer carries the next nonce.
    func callAsFunction(
        _ handler: @escaping @Sendable (HTTPRequest, Principal) async throws -> HTTPResponse
    ) -> Router.Handler {
        { request in
            var response = try await handler(request, try await self.userPrincipal(of: request))
            self.dpop.addNonce(to: &response, for: request)
            return response
        }
    }

    /// The access token's principal when it is a user's; a client's own token gets 403.
    func userPrincipal(of request: HTTPRequest) async throws -> Principal {
        let principal = try await self.principal(of: request)
        guard !principal.isClient else {
            throw HTTPError.insufficientScope("this route needs a user's token, not a client's own")
        }
        return principal
    }
}

extension ClientInfo {
    /// The client as the request shows it, for sessions and throttles.
    init(_ request: HTTPRequest) {
        self.init(userAgent: request.headers.first(name: "user-agent"), ip: request.clientIP)
    }
}
