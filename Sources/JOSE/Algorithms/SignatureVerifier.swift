import Crypto
import CryptoExtras

/// The public half of a ``SigningKey``, which verifies.
enum SignatureVerifier: Sendable {
    case edDSA(Curve25519.Signing.PublicKey)
    case es256(P256.Signing.PublicKey)
    case rs256(_RSA.Signing.PublicKey)

    var algorithm: SigningAlgorithm {
        switch self {
        case .edDSA: .edDSA
        case .es256: .es256
        case .rs256: .rs256
        }
    }

    func isValid(_ signature: [UInt8], for input: ArraySlice<UInt8>) -> Bool {
        switch self {
        case .edDSA(let key):
            return key.isValidSignature(signature, for: input)
        case .es256(let key):
            // The JOSE form only: exactly 64 bytes, r ‖ s. A DER signature is refused.
            guard signature.count == 64, let parsed = try? P256.Signing.ECDSASignature(rawRepresentation: signature)
            else { return false }
            return key.isValidSignature(parsed, for: input)
        case .rs256(let key):
            return key.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature), for: input, padding: .insecurePKCS1v1_5)
        }
    }
}
