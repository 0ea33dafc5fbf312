import Crypto
import Foundation
import JOSE

/// A client's DPoP key (RFC 9449), making proofs as §4.2 shows them: the tests' own builder, so
/// that they can also make every wrong proof. The interop suite makes proofs with joserfc instead.
public struct ProofKey: Sendable {
    public enum Kind: Sendable {
        case es256
        case edDSA
    }

    private enum Material: Sendable {
        case es256(P256.Signing.PrivateKey)
        case edDSA(Curve25519.Signing.PrivateKey)
    }

    private let material: Material

    public init(_ kind: Kind = .es256) {
        switch kind {
        case .es256: self.material = .es256(P256.Signing.PrivateKey())
        case .edDSA: self.material = .edDSA(Curve25519.Signing.PrivateKey())
        }
    }

    public var alg: String {
        switch self.material {
        case .es256: "ES256"
        case .edDSA: "EdDSA"
        }
    }

    /// The public key as a JWK, members in RFC 7638's order.
    public var jwk: [(String, String)] {
        switch self.material {
        case .es256(let key):
            let point = Array(key.publicKey.rawRepresentation)
            return [
                ("crv", "P-256"), ("kty", "EC"), ("x", Base64URL.encode(point[..<32])),
                ("y", Base64URL.encode(point[32...])),
            ]
        case .edDSA(let key):
            return [("crv", "Ed25519"), ("kty", "OKP"), ("x", Base64URL.encode(key.publicKey.rawRepresentation))]
        }
    }

    /// `{"crv":...}` with no white space: the JWK as JSON text.
    public var jwkJSON: String {
        "{" + self.jwk.map { "\"\($0.0)\":\"\($0.1)\"" }.joined(separator: ",") + "}"
    }

    /// RFC 7638: the base64url SHA-256 of the required members, sorted, with no white space.
    public var thumbprint: String {
        Base64URL.encode(Array(SHA256.hash(data: Array(self.jwkJSON.utf8))))
    }

    /// A proof for `method` and `uri`; with `accessToken`, its `ath`.
    public func proof(
        _ method: String, _ uri: String, accessToken: String? = nil, iat: Int = Int(Date().timeIntervalSince1970),
        jti: String = RandomID.make(), nonce: String? = nil
    ) -> String {
        var claims = #"{"jti":"\#(jti)","htm":"\#(method)","htu":"\#(uri)","iat":\#(iat)"#
        if let accessToken { claims += #","ath":"\#(DPoPVerifier.accessTokenHash(accessToken))""# }
        if let nonce { claims += #","nonce":"\#(nonce)""# }
        return self.signed(header: self.header(), claims: claims + "}")
    }

    /// The header of a good proof: `typ`, `alg` and the public `jwk`.
    public func header(typ: String = "dpop+jwt", alg: String? = nil, jwk: String? = nil) -> String {
        #"{"typ":"\#(typ)","alg":"\#(alg ?? self.alg)","jwk":\#(jwk ?? self.jwkJSON)}"#
    }

    /// Any header and claims, as JSON text, signed with this key.
    public func signed(header: String, claims: String) -> String {
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(claims.utf8))
        let signature: [UInt8]
        switch self.material {
        case .es256(let key): signature = Array(try! key.signature(for: Array(input.utf8)).rawRepresentation)
        case .edDSA(let key): signature = Array(try! key.signature(for: Array(input.utf8)))
        }
        return input + "." + Base64URL.encode(signature)
    }

    /// The private scalar, for a hostile proof whose `jwk` holds it.
    public var privateMember: String {
        switch self.material {
        case .es256(let key): Base64URL.encode(key.rawRepresentation)
        case .edDSA(let key): Base64URL.encode(key.rawRepresentation)
        }
    }
}
