import Crypto
import Foundation
import NIOConcurrencyHelpers
import WireJSON

/// Signs and verifies tokens (JWS compact serialization, RFC 7515), following RFC 8725 (JWT best
/// current practice).
///
/// - Refresh tokens: HS256 with the refresh secret; only authd ever verifies them.
/// - Access tokens: ES256, RS256 or EdDSA with a key id when signing keys are configured, so resource
///   servers verify them with the public keys from `/.well-known/jwks.json`; otherwise HS256 with
///   the access secret, as in the tutorial.
///
/// Before any signature check the header is held to an allow-list: exactly one algorithm per kind
/// (never `none`, never a switch between HMAC and public-key algorithms on the token's say-so), the
/// kind's `typ`, no `crit`, and a `kid` that names a loaded key. Then the claims are checked against
/// the injected clock with a leeway: `iss`, `aud` (access tokens), `exp`, `iat`, `token_use`.
///
/// The JWS work is done here, directly over swift-crypto's SHA-256, P-256, RSA and Ed25519, rather than through
/// jwt-kit: the codec's verify went from about 41 µs to about 11 µs per token
/// (`Benchmarks/micro.sh`, docs/PERFORMANCE.md). Signing and verifying are synchronous.
public final class TokenCodec: Sendable {
    /// HMAC keys shorter than this are refused: they are weak.
    public static let minimumSecretBytes = 32
    /// Longer strings are not tokens of ours; they are refused before any parsing.
    public static let maximumTokenBytes = 4096

    public struct Settings: Sendable {
        public var issuer = "authd"
        /// The `aud` of access tokens, which resource servers check.
        public var audience = "authd"
        /// Clock skew tolerated on `exp` and `iat`, in seconds.
        public var leeway = 30
        /// Access token lifetime: a retired signing key verifies this long (plus the leeway and the
        /// reload lag) after its retirement.
        public var accessTokenTTL = 900
        /// How long after a key's retirement on disk an instance may still sign with it: until its
        /// next reload of the key directory (every 30 s). A retired key verifies that much longer, so
        /// that the last tokens signed with it live out their time whatever the leeway.
        public static let keyReloadLag = 30

        public init() {}
    }

    private struct AccessKeys: Sendable {
        /// The key that signs access tokens, and its encoded header; `nil` with HS256.
        let signer: (key: SigningKey, header: String)?
        /// Every key that verifies, by key id; each verifies its own algorithm only.
        let verifiers: [String: SignatureVerifier]
        let jwks: [PublicJWK]
    }

    public let settings: Settings
    /// The HMAC secrets of refresh tokens, and of access tokens when they are HS256.
    private let refreshKeys: HMACKeyring
    private let hmacAccessKeys: HMACKeyring?
    private let accessKeys: NIOLockedValueBox<AccessKeys>

    /// - Parameters:
    ///   - accessSecret: required unless `signingKeys` are given.
    ///   - previousAccessSecret, previousRefreshSecret: secrets that no longer sign but still
    ///     verify, until the tokens they signed have expired (a rotation without logouts).
    ///   - signingKeys: ES256, RS256 or EdDSA keys; exactly one of them current.
    public init(
        accessSecret: String?,
        refreshSecret: String,
        previousAccessSecret: String? = nil,
        previousRefreshSecret: String? = nil,
        signingKeys: [SigningKey] = [],
        settings: Settings = Settings(),
        now: Int = Int(Date().timeIntervalSince1970)
    ) throws(JOSEError) {
        try Self.checkSecret("the refresh secret", refreshSecret)
        try Self.checkPrevious("refresh", previousRefreshSecret, current: refreshSecret)
        if signingKeys.isEmpty {
            guard let accessSecret else {
                throw JOSEError(.invalidKey, "access tokens need an HMAC secret or signing keys")
            }
            try Self.checkSecret("the access secret", accessSecret)
            guard accessSecret != refreshSecret else {
                throw JOSEError(.invalidKey, "the access and refresh secrets must differ")
            }
            try Self.checkPrevious("access", previousAccessSecret, current: accessSecret)
            self.hmacAccessKeys = HMACKeyring(secret: accessSecret, previous: previousAccessSecret, kind: .access)
        } else {
            self.hmacAccessKeys = nil
        }
        self.settings = settings
        self.refreshKeys = HMACKeyring(secret: refreshSecret, previous: previousRefreshSecret, kind: .refresh)
        self.accessKeys = NIOLockedValueBox(AccessKeys(signer: nil, verifiers: [:], jwks: []))
        if !signingKeys.isEmpty {
            try self.setSigningKeys(signingKeys, now: now)
        }
    }

    /// Replaces the signing keys (after a rotation on disk). Keys retired longer ago than an access
    /// token lives are dropped: their tokens have all expired.
    public func setSigningKeys(_ keys: [SigningKey], now: Int) throws(JOSEError) {
        let current = keys.filter { $0.status == .current }
        guard current.count == 1, let signer = current.first else {
            throw JOSEError(.invalidKey, "exactly one signing key must be current, found \(current.count)")
        }
        let live = keys.filter { key in
            guard case .retired(let retired) = key.status else { return true }
            return retired + Settings.keyReloadLag + self.settings.accessTokenTTL + self.settings.leeway > now
        }
        let header = Self.encodedHeader(alg: signer.algorithm.rawValue, typ: TokenKind.access.typ, kid: signer.kid)
        let state = AccessKeys(
            signer: (signer, header),
            verifiers: Dictionary(live.map { ($0.kid, $0.verifier) }, uniquingKeysWith: { first, _ in first }),
            jwks: live.map(\.jwk)
        )
        self.accessKeys.withLockedValue { $0 = state }
    }

    /// The algorithm access tokens are signed with now: HS256, or the current key's.
    public var accessAlgorithm: String {
        self.accessKeys.withLockedValue { $0.signer?.key.algorithm.rawValue } ?? "HS256"
    }

    /// The public keys resource servers verify access tokens with (empty with HS256).
    public var jwks: [PublicJWK] {
        self.accessKeys.withLockedValue { $0.jwks }
    }

    public func sign(_ claims: TokenClaims) throws -> String {
        switch claims.tokenUse {
        case .refresh:
            return Self.signHS256(
                header: self.refreshKeys.current.header, claims: claims, with: self.refreshKeys.current.mac)
        case .access:
            if let keys = self.hmacAccessKeys {
                return Self.signHS256(header: keys.current.header, claims: claims, with: keys.current.mac)
            }
            guard let signer = self.accessKeys.withLockedValue({ $0.signer }) else {
                throw JOSEError(.invalidKey, "no signing key")
            }
            return try Self.signJWS(header: signer.header, payload: claims.json, with: signer.key)
        }
    }

    /// A Security Event Token (RFC 8417): `payload` signed with the current signing key, `typ`
    /// `secevent+jwt` (RFC 8417 §2.3), so that it can never pass for an access token. Only with
    /// signing keys: with HS256 a resource server could not verify it.
    public func signSecurityEvent(_ payload: [UInt8]) throws -> String {
        guard let signer = self.accessKeys.withLockedValue({ $0.signer }) else {
            throw JOSEError(.invalidKey, "security event tokens need signing keys (AUTHD_KEYS_DIR)")
        }
        let header = Self.encodedHeader(alg: signer.key.algorithm.rawValue, typ: "secevent+jwt", kid: signer.key.kid)
        return try Self.signJWS(header: header, payload: payload, with: signer.key)
    }

    /// A compact JWS: the encoded header, the payload encoded, and the key's signature of the two.
    private static func signJWS(header: String, payload: [UInt8], with key: SigningKey) throws -> String {
        let input = header + "." + Base64URL.encode(payload)
        return input + "." + Base64URL.encode(try key.signature(for: Array(input.utf8)))
    }

    /// Whether security event tokens can be signed: there are signing keys.
    public var signsSecurityEvents: Bool {
        self.accessKeys.withLockedValue { $0.signer != nil }
    }

    /// A tag that binds `text` to this deployment (an HMAC with the refresh secret, apart from any
    /// token's by its `tag:` prefix): 16 bytes, base64url.
    public func tag(_ text: String) -> String {
        Self.tag(text, with: self.refreshKeys.current.mac)
    }

    /// Whether `tag` is ``tag(_:)`` of `text`, with the current refresh secret or the previous one.
    public func tagMatches(_ text: String, _ tag: String) -> Bool {
        self.refreshKeys.candidates(kid: nil).contains { key in
            ConstantTime.equal(Array(Self.tag(text, with: key.mac).utf8), Array(tag.utf8))
        }
    }

    private static func tag(_ text: String, with prepared: HMACSHA256) -> String {
        let input = Array(("tag:" + text).utf8)
        let mac = input.withUnsafeBytes { prepared.authenticationCode(for: $0) }
        return mac.withUnsafeBytes { Base64URL.encode(Array($0.prefix(16))) }
    }

    /// Verifies a token of the given kind.
    /// - Parameters:
    ///   - checkTimes: `false` accepts expired tokens (to log out of an expired session).
    ///   - anyAudience: accepts an access token for any audience, not only the configured one (for
    ///     introspection, whose caller checks `aud` itself: a client's own token may be for another).
    public func verify(
        _ token: String, as kind: TokenKind, now: Int, checkTimes: Bool = true, anyAudience: Bool = false
    ) throws(JOSEError) -> TokenClaims {
        let bytes = Array(token.utf8)
        guard bytes.count <= Self.maximumTokenBytes else { throw JOSEError(.malformedToken, "token too long") }
        // Exactly three segments: header, payload, signature.
        let dot = UInt8(ascii: ".")
        guard let first = bytes.firstIndex(of: dot), let second = bytes[(first + 1)...].firstIndex(of: dot),
            !bytes[(second + 1)...].contains(dot),
            let header = self.header(of: bytes[..<first], kind: kind),
            let signature = Base64URL.decode(bytes[(second + 1)...])
        else { throw JOSEError(.malformedToken, "malformed token") }
        guard !header.hasCrit else { throw JOSEError(.unacceptableHeader, "unsupported critical header") }
        guard header.typ == kind.typ else { throw JOSEError(.invalidClaims, "wrong token type") }

        let input = bytes[..<second]
        let valid: Bool
        switch kind {
        case .refresh:
            valid = try Self.isValidHS256(signature, for: input, header: header, keys: self.refreshKeys)
        case .access:
            if let keys = self.hmacAccessKeys {
                valid = try Self.isValidHS256(signature, for: input, header: header, keys: keys)
            } else {
                // The key named by `kid` decides the algorithm; the header must agree with it, so a
                // token can never choose how it is checked (RFC 8725 §2.1).
                guard let kid = header.kid, let key = self.accessKeys.withLockedValue({ $0.verifiers[kid] }),
                    header.alg == key.algorithm.rawValue
                else { throw JOSEError(.unacceptableHeader, "unexpected algorithm or unknown key") }
                valid = key.isValid(signature, for: input)
            }
        }
        guard valid, let payload = Base64URL.decode(bytes[(first + 1)..<second]),
            let claims = TokenClaims(json: payload)
        else { throw JOSEError(.invalidSignature, "invalid signature or claims") }

        guard claims.tokenUse == kind else { throw JOSEError(.invalidClaims, "wrong token type") }
        guard claims.iss == self.settings.issuer else { throw JOSEError(.invalidClaims, "wrong issuer") }
        guard
            (anyAudience && kind == .access)
                || claims.aud == (kind == .access ? self.settings.audience : self.settings.issuer)
        else {
            throw JOSEError(.invalidClaims, "wrong audience")
        }
        if checkTimes {
            // The claims are the token's, so the arithmetic is on `now` and the leeway only, which
            // cannot overflow: a claim of Int.max or Int.min is compared, never added to.
            let leeway = self.settings.leeway
            guard claims.exp > now - leeway else { throw JOSEError(.expired, "expired") }
            guard claims.iat <= now + leeway else { throw JOSEError(.invalidClaims, "issued in the future") }
            // RFC 7519 §4.1.5: not before `nbf`.
            if let nbf = claims.nbf, nbf > now + leeway { throw JOSEError(.invalidClaims, "not yet valid") }
            // A lifetime authd never issues (`exp` = 2^63−1, `iat` = −2^63): the key signed it, but
            // not as authd signs. Together with `exp` above, this also puts `iat` no earlier than
            // the lifetime and twice the leeway before now.
            if kind == .access {
                let (lifetime, overflow) = claims.exp.subtractingReportingOverflow(claims.iat)
                let longest = claims.grantedToClient ? TokenClaims.maxClientTokenLifetime : self.settings.accessTokenTTL
                guard !overflow, lifetime >= 0, lifetime <= longest + leeway else {
                    throw JOSEError(.invalidClaims, "a lifetime authd does not issue")
                }
            }
        }
        return claims
    }

    /// The header of a token's first segment. The HS256 header authd itself writes for `kind`
    /// with its current secret is known byte for byte, and is taken as it is; any other is decoded
    /// and read.
    private func header(of segment: ArraySlice<UInt8>, kind: TokenKind) -> JWSHeader? {
        let current = kind == .refresh ? self.refreshKeys.current : self.hmacAccessKeys?.current
        if let current, Self.equal(segment, current.header) { return current.headerValue }
        return Base64URL.decode(segment).flatMap(JWSHeader.init(json:))
    }

    /// An HS256 signature, checked with the secret the header's `kid` names. A token without a
    /// `kid` (made before key ids existed) is tried with the current secret, then the previous.
    private static func isValidHS256(
        _ signature: [UInt8], for input: ArraySlice<UInt8>, header: JWSHeader, keys: HMACKeyring
    ) throws(JOSEError) -> Bool {
        guard header.alg == "HS256" else { throw JOSEError(.unacceptableHeader, "unexpected algorithm or key") }
        let candidates = keys.candidates(kid: header.kid)
        guard !candidates.isEmpty else { throw JOSEError(.unacceptableHeader, "unknown key") }
        return candidates.contains { key in input.withUnsafeBytes { key.mac.isValid(signature, for: $0) } }
    }

    /// The HMAC secrets of one kind of token: the current one signs, with its key id; a previous
    /// one still verifies, so that a secret can be rotated without logging anyone out.
    struct HMACKeyring: Sendable {
        struct Key: Sendable {
            let kid: String
            /// HMAC-SHA256 with the key already absorbed; each token works on a copy.
            let mac: HMACSHA256
            /// The encoded header that this key's tokens carry.
            let header: [UInt8]
            let headerValue: JWSHeader
        }

        let current: Key
        let previous: Key?

        init(secret: String, previous: String?, kind: TokenKind) {
            self.current = Self.key(secret, kind: kind)
            self.previous = previous.map { Self.key($0, kind: kind) }
        }

        func candidates(kid: String?) -> [Key] {
            let keys = [self.current] + (self.previous.map { [$0] } ?? [])
            guard let kid else { return keys }
            return keys.filter { $0.kid == kid }
        }

        /// The key id of a secret: `hs-` and 72 bits of its SHA-256, which tells secrets apart and
        /// gives nothing away of a 256-bit random one.
        private static func key(_ secret: String, kind: TokenKind) -> Key {
            let kid = "hs-" + Base64URL.encode(Array(SHA256.hash(data: Array(("authd-kid:" + secret).utf8)).prefix(9)))
            var header = JWSHeader(alg: "HS256", typ: kind.typ)
            header.kid = kid
            return Key(
                kid: kid, mac: HMACSHA256(key: Array(secret.utf8)),
                header: Array(TokenCodec.encodedHeader(alg: "HS256", typ: kind.typ, kid: kid).utf8), headerValue: header
            )
        }
    }

    private static func equal(_ segment: ArraySlice<UInt8>, _ known: [UInt8]) -> Bool {
        guard segment.count == known.count else { return false }
        return segment.withUnsafeBufferPointer { segment in
            known.withUnsafeBufferPointer { known in
                for index in 0..<known.count where segment[index] != known[index] { return false }
                return true
            }
        }
    }

    static func encodedHeader(alg: String, typ: String, kid: String? = nil) -> String {
        var writer = JSONObjectWriter()
        writer.add("alg", alg)
        writer.add("typ", typ)
        if let kid { writer.add("kid", kid) }
        return Base64URL.encode(writer.finish())
    }

    /// The token built in one buffer: header, payload, then the MAC of the two.
    private static func signHS256(header: [UInt8], claims: TokenClaims, with prepared: HMACSHA256) -> String {
        var token = header
        token.reserveCapacity(512)
        token.append(UInt8(ascii: "."))
        Base64URL.encode(claims.json, appendingTo: &token)
        let mac = token.withUnsafeBytes { prepared.authenticationCode(for: $0) }
        token.append(UInt8(ascii: "."))
        mac.withUnsafeBytes { Base64URL.encode($0, appendingTo: &token) }
        return String(decoding: token, as: UTF8.self)
    }

    /// A previous secret, when there is one: as strong as any, and another one.
    private static func checkPrevious(_ kind: String, _ previous: String?, current: String) throws(JOSEError) {
        guard let previous else { return }
        try Self.checkSecret("the previous \(kind) secret", previous)
        guard previous != current else {
            throw JOSEError(.invalidKey, "the previous \(kind) secret must differ from the current one")
        }
    }

    private static func checkSecret(_ name: String, _ secret: String) throws(JOSEError) {
        guard secret.utf8.count >= Self.minimumSecretBytes else {
            throw JOSEError(.invalidKey, "\(name) must be at least \(Self.minimumSecretBytes) bytes")
        }
    }
}
