import Crypto
import CryptoExtras

/// An Ed25519 key for access tokens (EdDSA), with its key id.
public struct SigningKey: Sendable {
    public enum Status: Sendable, Equatable {
        /// Signs new tokens. Exactly one key is current.
        case current
        /// Published and verifying, not signing yet: every instance learns it before a rotation
        /// makes it current.
        case next
        /// Stopped signing at this time (unix seconds). It verifies until the access tokens it
        /// signed have expired, then it is dropped.
        case retired(at: Int)
    }

    public let kid: String
    public let privateKey: Curve25519.Signing.PrivateKey
    public var status: Status

    public init(kid: String, privateKey: Curve25519.Signing.PrivateKey, status: Status) {
        self.kid = kid
        self.privateKey = privateKey
        self.status = status
    }

    /// A key from its PKCS #8 PEM form (RFC 8410), as `authd keys generate` writes it.
    public init(kid: String, pem: String, status: Status) throws {
        self.init(kid: kid, privateKey: try Curve25519.Signing.PrivateKey(pemRepresentation: pem), status: status)
    }

    /// The private key in PKCS #8 PEM form.
    public var pem: String {
        self.privateKey.pemRepresentation
    }

    /// A new key with a random id.
    public static func generate(status: Status) throws -> SigningKey {
        SigningKey(
            kid: "ed-" + RandomID.make().prefix(16), privateKey: Curve25519.Signing.PrivateKey(), status: status)
    }

    /// The public half as a JWK (RFC 8037), for `/.well-known/jwks.json`.
    public var jwk: PublicJWK {
        PublicJWK(kid: self.kid, x: Base64URL.encode(self.privateKey.publicKey.rawRepresentation))
    }
}

/// An Ed25519 public key in JWK form.
public struct PublicJWK: Sendable, Codable, Equatable {
    public var kty = "OKP"
    public var crv = "Ed25519"
    public var alg = "EdDSA"
    public var use = "sig"
    public var kid: String
    public var x: String
}
