import Crypto
import CryptoExtras
import Foundation

/// The public-key algorithms access tokens can be signed with (RFC 7518 §3, RFC 8037).
public enum SigningAlgorithm: String, Sendable, CaseIterable {
    /// ECDSA over P-256 with SHA-256; the signature is the 64-byte JOSE form (r ‖ s), not DER.
    case es256 = "ES256"
    /// RSASSA-PKCS1-v1_5 with SHA-256, over a key of 2048 bits or more.
    case rs256 = "RS256"
    /// Ed25519.
    case edDSA = "EdDSA"

    /// The prefix of the key ids `authd keys generate` makes.
    var kidPrefix: String {
        switch self {
        case .es256: "es-"
        case .rs256: "rs-"
        case .edDSA: "ed-"
        }
    }
}

/// A key that signs access tokens, with its key id; see ``SigningAlgorithm``.
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

    enum Material: Sendable {
        case edDSA(Curve25519.Signing.PrivateKey)
        case es256(P256.Signing.PrivateKey)
        case rs256(_RSA.Signing.PrivateKey)
    }

    public let kid: String
    let material: Material
    public var status: Status

    init(kid: String, material: Material, status: Status) {
        self.kid = kid
        self.material = material
        self.status = status
    }

    public init(kid: String, privateKey: Curve25519.Signing.PrivateKey, status: Status) {
        self.init(kid: kid, material: .edDSA(privateKey), status: status)
    }

    /// A key from its PKCS #8 PEM form, as `authd keys generate` writes it; the algorithm is the
    /// key's own (Ed25519, P-256 or RSA of at least 2048 bits).
    public init(kid: String, pem: String, status: Status) throws(JOSEError) {
        if let key = try? Curve25519.Signing.PrivateKey(pemRepresentation: pem) {
            self.init(kid: kid, material: .edDSA(key), status: status)
        } else if let key = try? P256.Signing.PrivateKey(pemRepresentation: pem) {
            self.init(kid: kid, material: .es256(key), status: status)
        } else if let key = try? _RSA.Signing.PrivateKey(pemRepresentation: pem), key.keySizeInBits >= 2048 {
            self.init(kid: kid, material: .rs256(key), status: status)
        } else {
            throw JOSEError(
                .invalidKey, "key \(kid) is not an Ed25519, P-256 or RSA (2048 bits or more) private key in PEM form")
        }
    }

    public var algorithm: SigningAlgorithm {
        switch self.material {
        case .edDSA: .edDSA
        case .es256: .es256
        case .rs256: .rs256
        }
    }

    /// The private key in PKCS #8 PEM form.
    public var pem: String {
        switch self.material {
        case .edDSA(let key): key.pemRepresentation
        case .es256(let key): key.pemRepresentation
        case .rs256(let key): key.pemRepresentation
        }
    }

    /// The public key's raw bytes (Ed25519, P-256 `x ‖ y`, or the RSA modulus) and its PEM form:
    /// what an attacker might try as an HMAC secret (tests of algorithm confusion use them).
    public var publicKeyForms: (raw: [UInt8], pem: String) {
        switch self.material {
        case .edDSA(let key): (Array(key.publicKey.rawRepresentation), key.publicKey.pemRepresentation)
        case .es256(let key): (Array(key.publicKey.rawRepresentation), key.publicKey.pemRepresentation)
        case .rs256(let key):
            (Array((try? key.publicKey.getKeyPrimitives().modulus) ?? Data()), key.publicKey.pemRepresentation)
        }
    }

    /// A new key with a random id. RSA keys are 2048 bits.
    public static func generate(_ algorithm: SigningAlgorithm = .edDSA, status: Status) throws -> SigningKey {
        let kid = algorithm.kidPrefix + RandomID.make().prefix(16)
        switch algorithm {
        case .edDSA: return SigningKey(kid: kid, material: .edDSA(Curve25519.Signing.PrivateKey()), status: status)
        case .es256: return SigningKey(kid: kid, material: .es256(P256.Signing.PrivateKey()), status: status)
        case .rs256:
            return SigningKey(
                kid: kid, material: .rs256(try _RSA.Signing.PrivateKey(keySize: .bits2048)), status: status)
        }
    }

    /// The JWS signature of `input` (RFC 7515 §5.1), in the JOSE form of its algorithm.
    func signature(for input: [UInt8]) throws -> [UInt8] {
        switch self.material {
        case .edDSA(let key): Array(try key.signature(for: input))
        case .es256(let key): Array(try key.signature(for: input).rawRepresentation)
        case .rs256(let key): Array(try key.signature(for: input, padding: .insecurePKCS1v1_5).rawRepresentation)
        }
    }

    var verifier: SignatureVerifier {
        switch self.material {
        case .edDSA(let key): .edDSA(key.publicKey)
        case .es256(let key): .es256(key.publicKey)
        case .rs256(let key): .rs256(key.publicKey)
        }
    }

    /// The public half as a JWK (RFC 7517, 7518 §6, 8037), for `/.well-known/jwks.json`.
    public var jwk: PublicJWK {
        var jwk = PublicJWK(kty: "OKP", alg: self.algorithm.rawValue, kid: self.kid)
        switch self.material {
        case .edDSA(let key):
            jwk.crv = "Ed25519"
            jwk.x = Base64URL.encode(key.publicKey.rawRepresentation)
        case .es256(let key):
            let point = Array(key.publicKey.rawRepresentation)
            jwk.kty = "EC"
            jwk.crv = "P-256"
            jwk.x = Base64URL.encode(point[..<32])
            jwk.y = Base64URL.encode(point[32...])
        case .rs256(let key):
            jwk.kty = "RSA"
            if let primitives = try? key.publicKey.getKeyPrimitives() {
                jwk.n = Base64URL.encode(Array(primitives.modulus.drop(while: { $0 == 0 })))
                jwk.e = Base64URL.encode(Array(primitives.publicExponent.drop(while: { $0 == 0 })))
            }
        }
        return jwk
    }
}
