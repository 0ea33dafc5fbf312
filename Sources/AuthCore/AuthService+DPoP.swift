import Crypto
import JOSE

extension AuthService {
    /// Spends a verified DPoP proof: the first use of its `jti` with its key, on any instance,
    /// passes; any other within `window` seconds (as long as the proof's `iat` is accepted) is
    /// refused. Redis unreachable: the store's error (503), never an unchecked proof.
    public func spendProof(_ proof: DPoPProof, window: Int) async throws {
        // A digest bounds the key's length whatever `jti` the client chose, and keeps one key's
        // `jti` from spending another key's.
        let digest = SHA256.hash(data: Array((proof.thumbprint + "." + proof.jti).utf8))
        guard try await self.store.spendProof(id: Base64URL.encode(Array(digest.prefix(18))), ttl: window) else {
            AuthMetrics.proofReplayed()
            throw AuthError.invalidDPoPProof("this DPoP proof was used before (jti)")
        }
    }
}
