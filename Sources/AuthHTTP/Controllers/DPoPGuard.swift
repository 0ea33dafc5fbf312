import AuthCore
import JOSE
import NIOHTTP1

/// How authd takes DPoP (RFC 9449): whether proofs are ignored, taken when sent, or required;
/// whether they must carry a server nonce; and what they are checked with.
public struct DPoPPolicy: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        /// No DPoP: a `DPoP` header is ignored and tokens are bearer tokens, as before DPoP.
        case off
        /// A client that sends a proof gets bound tokens and must prove the key from then on; one
        /// that sends none gets bearer tokens. A bound token is never accepted as a bearer token.
        case optional
        /// Every token request needs a proof, and a bearer token is refused on every route.
        case required
    }

    public var mode: Mode
    /// Server nonces (RFC 9449 §8 and §9): when set, every proof must carry a current one.
    public var nonces: DPoPNonces?
    public var verifier: DPoPVerifier

    public init(mode: Mode = .optional, nonces: DPoPNonces? = nil, verifier: DPoPVerifier = DPoPVerifier()) {
        self.mode = mode
        self.nonces = nonces
        self.verifier = verifier
    }

    /// `dpop_signing_alg_values_supported` and the challenge's `algs`.
    var algorithms: [String] { self.verifier.settings.algorithms.map(\.rawValue) }
}

/// The request a proof must be for: its method and its absolute URI without the query.
struct DPoPTarget: Sendable {
    var method: String
    var uri: String
}

/// Checks a request's DPoP proof and spends it, once over every instance (the `jti` in Redis):
/// for a token request, the key to bind the tokens to; for a protected route, the key the access
/// token must be bound to.
struct DPoPGuard: Sendable {
    let auth: AuthService
    let policy: DPoPPolicy
    /// The issuer's base (authd's public URL, `AUTHD_ISSUER`), taken once.
    private let issuerBase: String

    init(auth: AuthService, policy: DPoPPolicy) {
        self.auth = auth
        self.policy = policy
        self.issuerBase = auth.settings.issuerBase
    }

    /// Where the request is addressed as the client sees it: the issuer's base and the request's path.
    func target(of request: HTTPRequest) -> DPoPTarget {
        DPoPTarget(method: request.method.rawValue, uri: self.issuerBase + request.path)
    }

    /// The thumbprint of the key a token request proved, to bind its tokens to; `nil` when it
    /// sent no proof and may (or DPoP is off). Faults are RFC 9449 §5's 400 `invalid_dpop_proof`
    /// (or `use_dpop_nonce`).
    func tokenRequestKey(_ request: HTTPRequest) async throws -> String? {
        guard self.policy.mode != .off else { return nil }
        guard let proof = try self.proofHeader(of: request, resource: false) else {
            guard self.policy.mode != .required else {
                throw self.refusal(resource: false, "a DPoP proof is required (the DPoP header)")
            }
            return nil
        }
        return try await self.check(proof, for: self.target(of: request), accessToken: nil, resource: false)
    }

    /// The thumbprint of the key a protected request proved with `accessToken`, or a 401 with
    /// RFC 9449 §7.1's `DPoP` challenge.
    func resourceKey(_ request: HTTPRequest, accessToken: String, target: DPoPTarget) async throws -> String {
        guard let proof = try self.proofHeader(of: request, resource: true) else {
            throw self.refusal(resource: true, "Authorization: DPoP needs a DPoP proof (the DPoP header)")
        }
        return try await self.check(proof, for: target, accessToken: accessToken, resource: true)
    }

    /// A `DPoP` challenge on a protected route (RFC 9449 §7.1), with the algorithms proofs may use.
    func challenge(_ code: String?, _ description: String) -> HTTPError {
        HTTPError.dpopUnauthorized(code, description, algorithms: self.policy.algorithms)
    }

    /// With server nonces on, the nonce a DPoP request's answer gives for the next proof.
    func addNonce(to response: inout HTTPResponse, for request: HTTPRequest) {
        guard let nonces = self.policy.nonces, self.policy.mode != .off, request.headers.contains(name: "dpop") else {
            return
        }
        response.headers.replaceOrAdd(name: "dpop-nonce", value: nonces.current(now: self.auth.now))
    }

    private func proofHeader(of request: HTTPRequest, resource: Bool) throws(HTTPError) -> String? {
        // Not `canonicalForm`: it splits values on commas, which a proof has none of, at a cost
        // (about a twentieth of a DPoP request's CPU).
        let values = request.headers["dpop"]
        guard values.count <= 1 else { throw self.refusal(resource: resource, "send one DPoP proof, not several") }
        return values.first
    }

    private func check(_ proof: String, for target: DPoPTarget, accessToken: String?, resource: Bool) async throws
        -> String
    {
        let now = self.auth.now
        let verified: DPoPProof
        do {
            verified = try self.policy.verifier.verify(
                proof, method: target.method, uri: target.uri, accessToken: accessToken, now: now)
        } catch {
            throw self.refusal(resource: resource, error.reason)
        }
        if let nonces = self.policy.nonces {
            guard let nonce = verified.nonce, nonces.isValid(nonce, now: now) else {
                throw self.nonceRequired(resource: resource, nonces.current(now: now))
            }
        }
        do {
            try await self.auth.spendProof(verified, window: self.policy.verifier.settings.replayWindow)
        } catch AuthError.invalidDPoPProof(let reason) {
            throw self.refusal(resource: resource, reason)
        }
        return verified.thumbprint
    }

    private func refusal(resource: Bool, _ description: String) -> HTTPError {
        resource
            ? self.challenge("invalid_dpop_proof", description)
            : HTTPError(.badRequest, code: "invalid_dpop_proof", description: description)
    }

    /// RFC 9449 §8 (token requests: 400) and §9 (protected routes: 401), with the nonce to use.
    private func nonceRequired(resource: Bool, _ nonce: String) -> HTTPError {
        let description = "the DPoP proof needs the server's nonce: sign a new proof with the DPoP-Nonce given"
        var error =
            resource
            ? self.challenge("use_dpop_nonce", description)
            : HTTPError(.badRequest, code: "use_dpop_nonce", description: description)
        error.headers.add(name: "dpop-nonce", value: nonce)
        return error
    }
}
