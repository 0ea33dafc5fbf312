import Foundation
import JWTKit

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
    public let privateKey: EdDSA.PrivateKey
    public var status: Status

    public init(kid: String, privateKey: EdDSA.PrivateKey, status: Status) {
        self.kid = kid
        self.privateKey = privateKey
        self.status = status
    }

    /// A new key with a random id.
    public static func generate(status: Status) throws -> SigningKey {
        SigningKey(
            kid: "ed-" + RandomID.make().prefix(16), privateKey: try EdDSA.PrivateKey(curve: .ed25519), status: status)
    }

    /// The public half as a JWK (RFC 8037), for `/.well-known/jwks.json`.
    public var jwk: PublicJWK {
        PublicJWK(kid: self.kid, x: Self.base64URL(self.privateKey.publicKey.rawRepresentation))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
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
