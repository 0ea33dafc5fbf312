import ASCIIDigits
import Crypto

/// The keyed parts of second factors, under one key (`AUTHD_FACTOR_KEY`, or one derived from the
/// refresh token secret):
///
/// - TOTP secrets are sealed at rest with AES-256-GCM, the user's name as associated data, so
///   that Redis alone (a dump, a replica, `redis-cli`) never holds one in the clear, and a sealed
///   secret moved to another user does not open;
/// - recovery codes are kept as HMAC-SHA256 digests, so that a copy of Redis cannot be searched
///   for them offline (50 bits each: a plain hash would be);
/// - the challenge of a login waiting for its second factor is a random id and the user's name.
public struct FactorVault: Sendable {
    /// Recovery codes handed out at enrolment.
    public static let recoveryCodeCount = 10
    private let sealing: SymmetricKey
    private let digesting: HMACSHA256

    public init(key: String) {
        let root = HMACSHA256(key: Array(key.utf8))
        func derive(_ label: String) -> [UInt8] {
            Array(Array(label.utf8).withUnsafeBytes { root.authenticationCode(for: $0) })
        }
        self.sealing = SymmetricKey(data: derive("authd factor sealing v1"))
        self.digesting = HMACSHA256(key: derive("authd recovery codes v1"))
    }

    /// `secret` sealed for `username`: `v1.` and base64url of nonce, ciphertext and tag.
    public func seal(_ secret: [UInt8], for username: String) throws -> String {
        let box = try AES.GCM.seal(secret, using: self.sealing, authenticating: Array(username.utf8))
        guard let combined = box.combined else { throw JOSEError(.invalidKey, "AES-GCM gave no combined form") }
        return "v1." + Base64URL.encode(Array(combined))
    }

    /// The secret sealed by ``seal(_:for:)`` for `username`, or nil when it does not open (another
    /// key, another user, altered).
    public func open(_ sealed: String, for username: String) -> [UInt8]? {
        guard sealed.hasPrefix("v1."), let combined = Base64URL.decode(sealed.utf8.dropFirst(3)),
            let box = try? AES.GCM.SealedBox(combined: combined),
            let secret = try? AES.GCM.open(box, using: self.sealing, authenticating: Array(username.utf8))
        else { return nil }
        return Array(secret)
    }

    /// A new TOTP secret.
    public static func newSecret() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<TOTP.secretBytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// New recovery codes: each 10 characters of Crockford-like base32 (no 0/O, 1/I/L confusion,
    /// 50 bits), written `xxxxx-xxxxx`.
    public static func newRecoveryCodes() -> [String] {
        let alphabet = Array("abcdefghjkmnpqrstuvwxyz23456789".utf8)
        var generator = SystemRandomNumberGenerator()
        return (0..<Self.recoveryCodeCount).map { _ in
            let characters = (0..<10).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }
            return String(decoding: characters.prefix(5) + [UInt8(ascii: "-")] + characters.suffix(5), as: UTF8.self)
        }
    }

    /// The digest a recovery code is kept as (32 hex digits), of its normal form: lowercase, no
    /// spaces or dashes, so that `ABCDE FGHIJ` and `abcde-fghij` are one code. Nil for text that
    /// cannot be a code (so that nothing unbounded is hashed).
    public func recoveryDigest(of code: String) -> String? {
        let normal = code.lowercased().utf8.filter { $0 != UInt8(ascii: "-") && $0 != UInt8(ascii: " ") }
        guard normal.count == 10, normal.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) }) else {
            return nil
        }
        let mac = normal.withUnsafeBytes { self.digesting.authenticationCode(for: $0) }
        return Hex.encode(Array(mac.prefix(16)))
    }
}
