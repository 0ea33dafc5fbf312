import Crypto
import CryptoExtras
import Foundation
import NIOConcurrencyHelpers
import WireJSON

/// A DPoP proof (RFC 9449 §4) that verified: the key that signed it, by its thumbprint, and what
/// it says. Whether its `jti` was seen before is the caller's question (a store shared by every
/// instance), and so is whether its `nonce` is one of the server's.
public struct DPoPProof: Sendable, Equatable {
    /// The RFC 7638 SHA-256 thumbprint of the proof's public key, base64url: what a bound token
    /// carries as `cnf.jkt` (RFC 9449 §6.1).
    public var thumbprint: String
    public var jti: String
    public var iat: Int
    public var nonce: String?
}

/// Why a proof was refused, for `error_description` (RFC 9449 §7.1's `invalid_dpop_proof`).
public struct DPoPError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { self.reason }
}

/// Checks DPoP proofs (RFC 9449 §4.3) before any token is bound to their key or accepted with one.
///
/// The header is held to an allow-list as access tokens' are (RFC 8725): `typ` exactly
/// `dpop+jwt`, an asymmetric `alg` of ``Settings/algorithms`` and never `none` or an HMAC, no
/// `crit`, and a `jwk` that is a public key of that algorithm's type, with no private member
/// (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`). The claims: `jti` (1 to 256 bytes), `htm` equal to
/// the request's method, `htu` equal to its URI without query and fragment (RFC 3986 §6.2.2 and
/// §6.2.3: scheme and host compared case-insensitively, a default port the same as none), `iat`
/// within ``Settings/lifetime`` before now and ``Settings/leeway`` after, and `ath`, the
/// SHA-256 of the access token, whenever one is presented with the proof.
///
/// A client signs every proof with the same key, so its header (the encoded first segment) is the
/// same each time: the parsed key and its thumbprint are kept by that segment (``keyCacheLimit``
/// of them), and only the signature is checked anew.
public final class DPoPVerifier: Sendable {
    /// Longer strings are not proofs: an RSA key of 4096 bits and its signature fit in half.
    public static let maximumProofBytes = 4096
    /// The most parsed keys kept; past it the cache starts again (a flood of new keys costs its
    /// sender the same parsing as it costs authd).
    public static let keyCacheLimit = 1024

    public struct Settings: Sendable {
        /// The algorithms a proof may be signed with (`dpop_signing_alg_values_supported`).
        public var algorithms: [SigningAlgorithm] = [.es256, .edDSA, .rs256]
        /// How long after its `iat` a proof is accepted, in seconds.
        public var lifetime = 60
        /// How far in the future `iat` may be (clock skew), in seconds.
        public var leeway = 30

        public init() {}

        /// How long a proof's `jti` must be remembered: as long as a proof with that `iat` could be
        /// accepted, and a second more.
        public var replayWindow: Int { self.lifetime + self.leeway + 1 }
    }

    struct ProofKey: Sendable {
        let verifier: SignatureVerifier
        let thumbprint: String
    }

    public let settings: Settings
    private let keys = NIOLockedValueBox<[String: ProofKey]>([:])

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// The proof's key and claims, or why it is refused.
    /// - Parameters:
    ///   - method: the request's method, as `htm` must give it.
    ///   - uri: the request's URI without its query, absolute (`https://host/path`).
    ///   - accessToken: the access token presented with the proof, whose hash `ath` must be.
    public func verify(_ proof: String, method: String, uri: String, accessToken: String?, now: Int)
        throws(DPoPError) -> DPoPProof
    {
        let bytes = Array(proof.utf8)
        guard bytes.count <= Self.maximumProofBytes else { throw DPoPError("the DPoP proof is too long") }
        let dot = UInt8(ascii: ".")
        guard let first = bytes.firstIndex(of: dot), let second = bytes[(first + 1)...].firstIndex(of: dot),
            !bytes[(second + 1)...].contains(dot), let signature = Base64URL.decode(bytes[(second + 1)...])
        else { throw DPoPError("the DPoP proof is not a compact JWS") }
        let key = try self.key(ofHeader: String(decoding: bytes[..<first], as: UTF8.self))
        guard key.verifier.isValid(signature, for: bytes[..<second]) else {
            throw DPoPError("the DPoP proof's signature does not verify with its jwk")
        }
        guard let payload = Base64URL.decode(bytes[(first + 1)..<second]), let claims = JSONReader.object(payload)
        else { throw DPoPError("the DPoP proof's claims are not one JSON object") }

        var jti: String?
        var htm: String?
        var htu: String?
        var iat: Int?
        var ath: String?
        var nonce: String?
        for (name, value) in claims {
            switch (name, value) {
            case ("jti", .string(let text)): jti = text
            case ("htm", .string(let text)): htm = text
            case ("htu", .string(let text)): htu = text
            case ("iat", .integer(let time)): iat = time
            case ("ath", .string(let text)): ath = text
            case ("nonce", .string(let text)): nonce = text
            case ("jti", _), ("htm", _), ("htu", _), ("iat", _), ("ath", _), ("nonce", _):
                throw DPoPError("the DPoP proof's claim '\(name)' has the wrong type")
            default: continue
            }
        }
        guard let jti, !jti.isEmpty, jti.utf8.count <= 256 else {
            throw DPoPError("the DPoP proof needs a jti of 1 to 256 bytes")
        }
        guard let htm, let htu, let iat else { throw DPoPError("the DPoP proof needs htm, htu and iat") }
        guard htm == method else { throw DPoPError("the DPoP proof is for another method (htm)") }
        // The same bytes need no normalizing (a client's usual proof); anything else is compared
        // as RFC 3986 says.
        guard htu == uri || (Self.normalized(htu).map { $0 == Self.normalized(uri) } ?? false) else {
            throw DPoPError("the DPoP proof is for another URI (htu)")
        }
        // `iat` is the client's: compared with `now` and the settings, never added to.
        guard iat >= now - self.settings.lifetime else { throw DPoPError("the DPoP proof is too old (iat)") }
        guard iat <= now + self.settings.leeway else { throw DPoPError("the DPoP proof is issued in the future (iat)") }
        if let accessToken {
            guard let ath else { throw DPoPError("the DPoP proof needs ath, the access token's hash") }
            guard ConstantTime.equal(Array(ath.utf8), Array(Self.accessTokenHash(accessToken).utf8)) else {
                throw DPoPError("the DPoP proof is for another access token (ath)")
            }
        }
        return DPoPProof(thumbprint: key.thumbprint, jti: jti, iat: iat, nonce: nonce)
    }

    /// `ath`: the base64url SHA-256 of the access token's ASCII (RFC 9449 §4.2).
    public static func accessTokenHash(_ token: String) -> String {
        Base64URL.encode(Array(SHA256.hash(data: Array(token.utf8))))
    }

    /// The key of a proof's header, parsed once per header.
    private func key(ofHeader segment: String) throws(DPoPError) -> ProofKey {
        if let known = self.keys.withLockedValue({ $0[segment] }) { return known }
        guard let json = Base64URL.decode(segment), let members = JSONReader.object(json) else {
            throw DPoPError("the DPoP proof's header is not one JSON object")
        }
        var typ: String?
        var alg: String?
        var jwk: JSONReader.Members?
        for (name, value) in members {
            switch (name, value) {
            case ("typ", .string(let text)): typ = text
            case ("alg", .string(let text)): alg = text
            case ("jwk", .object(let key)): jwk = key
            case ("crit", _): throw DPoPError("the DPoP proof has a critical header authd does not know")
            case ("typ", _), ("alg", _), ("jwk", _):
                throw DPoPError("the DPoP proof's header '\(name)' has the wrong type")
            default: continue
            }
        }
        guard typ == "dpop+jwt" else { throw DPoPError("the DPoP proof's typ must be dpop+jwt") }
        guard let alg, let algorithm = SigningAlgorithm(rawValue: alg), self.settings.algorithms.contains(algorithm)
        else {
            throw DPoPError(
                "the DPoP proof's alg must be one of \(self.settings.algorithms.map(\.rawValue).joined(separator: ", "))"
            )
        }
        guard let jwk else { throw DPoPError("the DPoP proof's header needs its public key as jwk") }
        let key = try Self.publicKey(jwk, algorithm: algorithm)
        self.keys.withLockedValue { keys in
            if keys.count >= Self.keyCacheLimit { keys.removeAll(keepingCapacity: true) }
            keys[segment] = key
        }
        return key
    }

    /// A public JWK of the algorithm's key type, and its RFC 7638 thumbprint, computed over the
    /// required members as authd re-encodes them (so that two spellings of one key are one key).
    static func publicKey(_ jwk: JSONReader.Members, algorithm: SigningAlgorithm) throws(DPoPError) -> ProofKey {
        let privateMembers = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]
        guard !jwk.list.contains(where: { privateMembers.contains($0.name) }) else {
            throw DPoPError("the DPoP proof's jwk must be a public key: it holds private members")
        }
        func bytes(_ name: String) throws(DPoPError) -> [UInt8] {
            guard case .string(let text)? = jwk[name], let decoded = Base64URL.decode(text) else {
                throw DPoPError("the DPoP proof's jwk needs '\(name)' in base64url")
            }
            return decoded
        }
        func text(_ name: String) -> String? {
            if case .string(let text)? = jwk[name] { text } else { nil }
        }
        var thumbprint = JSONObjectWriter()
        let verifier: SignatureVerifier
        switch algorithm {
        case .es256:
            guard text("kty") == "EC", text("crv") == "P-256" else {
                throw DPoPError("an ES256 proof's jwk must be an EC key on P-256")
            }
            let x = try bytes("x")
            let y = try bytes("y")
            guard x.count == 32, y.count == 32, let key = try? P256.Signing.PublicKey(rawRepresentation: x + y) else {
                throw DPoPError("the DPoP proof's jwk is not a point of P-256")
            }
            verifier = .es256(key)
            thumbprint.add("crv", "P-256")
            thumbprint.add("kty", "EC")
            thumbprint.add("x", Base64URL.encode(x))
            thumbprint.add("y", Base64URL.encode(y))
        case .edDSA:
            guard text("kty") == "OKP", text("crv") == "Ed25519" else {
                throw DPoPError("an EdDSA proof's jwk must be an OKP key on Ed25519")
            }
            let x = try bytes("x")
            guard x.count == 32, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: x) else {
                throw DPoPError("the DPoP proof's jwk is not an Ed25519 key")
            }
            verifier = .edDSA(key)
            thumbprint.add("crv", "Ed25519")
            thumbprint.add("kty", "OKP")
            thumbprint.add("x", Base64URL.encode(x))
        case .rs256:
            guard text("kty") == "RSA" else { throw DPoPError("an RS256 proof's jwk must be an RSA key") }
            let n = try bytes("n")
            let e = try bytes("e")
            // 2048 to 4096 bits: weaker is refused, and larger costs authd more than it is worth.
            guard (256...512).contains(n.count), n.first != 0, (1...8).contains(e.count), e.first != 0,
                let key = try? _RSA.Signing.PublicKey(n: n, e: e)
            else { throw DPoPError("the DPoP proof's jwk must be an RSA key of 2048 to 4096 bits") }
            verifier = .rs256(key)
            thumbprint.add("e", Base64URL.encode(e))
            thumbprint.add("kty", "RSA")
            thumbprint.add("n", Base64URL.encode(n))
        }
        return ProofKey(verifier: verifier, thumbprint: Base64URL.encode(Array(SHA256.hash(data: thumbprint.finish()))))
    }

    /// The URI as RFC 3986 §6.2.2 and §6.2.3 compare it: scheme and host lowercased, the scheme's
    /// default port dropped, an empty path as `/`; `nil` for anything but an absolute http(s) URI
    /// with no query, fragment or user information.
    static func normalized(_ uri: String) -> String? {
        guard !uri.contains("?"), !uri.contains("#"), let separator = uri.range(of: "://") else { return nil }
        let scheme = uri[..<separator.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        let rest = uri[separator.upperBound...]
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<slash].lowercased()
        let path = rest[slash...].isEmpty ? "/" : String(rest[slash...])
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        let defaultPort = scheme == "https" ? ":443" : ":80"
        if authority.hasSuffix(defaultPort) { authority.removeLast(defaultPort.count) }
        return scheme + "://" + authority + path
    }
}

/// Server-provided nonces (RFC 9449 §8 and §9), valid on every instance without any state: a nonce
/// is a time window's number and a MAC of it under a deployment secret, valid in its window and
/// the next (``window`` seconds each: a nonce lives one to two windows).
public struct DPoPNonces: Sendable {
    public static let window = 60
    private let mac: HMACSHA256

    public init(secret: String) {
        self.mac = HMACSHA256(key: Array(SHA256.hash(data: Array(("authd-dpop-nonce:" + secret).utf8))))
    }

    /// The nonce to hand out now (`DPoP-Nonce`).
    public func current(now: Int) -> String {
        self.nonce(window: now / Self.window)
    }

    /// Whether `nonce` is this deployment's, of this window or the last.
    public func isValid(_ nonce: String, now: Int) -> Bool {
        let window = now / Self.window
        let given = Array(nonce.utf8)
        return [window, window - 1].contains { ConstantTime.equal(given, Array(self.nonce(window: $0).utf8)) }
    }

    private func nonce(window: Int) -> String {
        let label = Array("dpop-nonce:\(window)".utf8)
        let code = label.withUnsafeBytes { self.mac.authenticationCode(for: $0) }
        return String(window) + "." + code.withUnsafeBytes { Base64URL.encode(Array($0.prefix(16))) }
    }
}
