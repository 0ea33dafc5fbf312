import Foundation
import JWTKit
import NIOConcurrencyHelpers

/// Signs and verifies tokens, following RFC 8725 (JWT best current practice).
///
/// - Refresh tokens: HS256 with `REFRESH_TOKEN_SECRET`; only authd ever verifies them.
/// - Access tokens: EdDSA (Ed25519) with a key id when signing keys are configured, so resource
///   servers verify them with the public keys from `/.well-known/jwks.json`; otherwise HS256 with
///   `ACCESS_TOKEN_SECRET`, as in the tutorial.
///
/// Before any signature check the header is held to an allow-list: exactly one algorithm per kind
/// (never `none`, never a switch between HMAC and public-key algorithms on the token's say-so), the
/// kind's `typ`, no `crit`, and a `kid` that names a loaded key. Then the claims are checked against
/// the injected clock with a leeway: `iss`, `aud` (access tokens), `exp`, `iat`, `token_use`.
public final class TokenCodec: Sendable {
    /// HMAC keys shorter than this are refused (jwt-kit asserts on them, and they are weak).
    public static let minimumSecretBytes = 32
    /// Longer strings are not tokens of ours; they are refused before any parsing.
    public static let maximumTokenBytes = 4096

    public struct Settings: Sendable {
        public var issuer = "authd"
        /// The `aud` of access tokens, which resource servers check.
        public var audience = "authd"
        /// Clock skew tolerated on `exp` and `iat`, in seconds.
        public var leeway = 30
        /// Access token lifetime: a retired signing key verifies this long (plus the leeway) after
        /// its retirement.
        public var accessTokenTTL = 900

        public init() {}
    }

    private struct AccessKeys: Sendable {
        let collection: JWTKeyCollection
        /// `nil`: HS256 with the access secret.
        let currentKid: String?
        let kids: Set<String>
        let jwks: [PublicJWK]
    }

    public let settings: Settings
    private let refreshKeys: JWTKeyCollection
    private let hmacAccessKeys: JWTKeyCollection?
    private let accessKeys: NIOLockedValueBox<AccessKeys>

    /// - Parameters:
    ///   - accessSecret: required unless `signingKeys` are given.
    ///   - signingKeys: Ed25519 keys; exactly one of them current.
    public init(
        accessSecret: String?,
        refreshSecret: String,
        signingKeys: [SigningKey] = [],
        settings: Settings = Settings(),
        now: Int = Int(Date().timeIntervalSince1970)
    ) async throws(AuthConfigurationError) {
        try Self.checkSecret("REFRESH_TOKEN_SECRET", refreshSecret)
        if signingKeys.isEmpty {
            guard let accessSecret else {
                throw AuthConfigurationError(
                    "ACCESS_TOKEN_SECRET is not set (nor signing keys); generate one with `authd gen-secret`"
                )
            }
            try Self.checkSecret("ACCESS_TOKEN_SECRET", accessSecret)
            guard accessSecret != refreshSecret else {
                throw AuthConfigurationError("ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET must differ")
            }
            self.hmacAccessKeys = await JWTKeyCollection().add(
                hmac: HMACKey(from: accessSecret), digestAlgorithm: .sha256)
        } else {
            self.hmacAccessKeys = nil
        }
        self.settings = settings
        self.refreshKeys = await JWTKeyCollection().add(hmac: HMACKey(from: refreshSecret), digestAlgorithm: .sha256)
        self.accessKeys = NIOLockedValueBox(
            AccessKeys(collection: JWTKeyCollection(), currentKid: nil, kids: [], jwks: [])
        )
        if !signingKeys.isEmpty {
            try await self.setSigningKeys(signingKeys, now: now)
        }
    }

    /// Replaces the signing keys (after a rotation on disk). Keys retired longer ago than an access
    /// token lives are dropped: their tokens have all expired.
    public func setSigningKeys(_ keys: [SigningKey], now: Int) async throws(AuthConfigurationError) {
        let current = keys.filter { $0.status == .current }
        guard current.count == 1, let signer = current.first else {
            throw AuthConfigurationError("exactly one signing key must be current, found \(current.count)")
        }
        let live = keys.filter { key in
            guard case .retired(let retired) = key.status else { return true }
            return retired + self.settings.accessTokenTTL + self.settings.leeway > now
        }
        let collection = JWTKeyCollection()
        for key in live {
            await collection.add(eddsa: key.privateKey, kid: JWKIdentifier(string: key.kid))
        }
        let state = AccessKeys(
            collection: collection, currentKid: signer.kid, kids: Set(live.map(\.kid)), jwks: live.map(\.jwk)
        )
        self.accessKeys.withLockedValue { $0 = state }
    }

    /// The public keys resource servers verify access tokens with (empty with HS256).
    public var jwks: [PublicJWK] {
        self.accessKeys.withLockedValue { $0.jwks }
    }

    public func sign(_ claims: TokenClaims) async throws -> String {
        var header = JWTHeader()
        header.typ = claims.tokenUse.typ
        switch claims.tokenUse {
        case .refresh:
            return try await self.refreshKeys.sign(claims, header: header)
        case .access:
            if let hmac = self.hmacAccessKeys { return try await hmac.sign(claims, header: header) }
            let keys = self.accessKeys.withLockedValue { $0 }
            guard let kid = keys.currentKid else { throw TokenRejection("no signing key") }
            return try await keys.collection.sign(claims, kid: JWKIdentifier(string: kid), header: header)
        }
    }

    /// Verifies a token of the given kind.
    /// - Parameter checkTimes: `false` accepts expired tokens (to log out of an expired session).
    public func verify(_ token: String, as kind: TokenKind, now: Int, checkTimes: Bool = true)
        async throws(TokenRejection)
        -> TokenClaims
    {
        guard token.utf8.count <= Self.maximumTokenBytes else { throw TokenRejection("token too long") }
        let header = try Self.header(of: token)
        guard header.crit == nil else { throw TokenRejection("unsupported critical header") }
        guard header.typ == kind.typ else { throw TokenRejection("wrong token type") }
        let collection: JWTKeyCollection
        switch kind {
        case .refresh:
            guard header.alg == "HS256", header.kid == nil else { throw TokenRejection("unexpected algorithm or key") }
            collection = self.refreshKeys
        case .access:
            if let hmac = self.hmacAccessKeys {
                guard header.alg == "HS256", header.kid == nil else {
                    throw TokenRejection("unexpected algorithm or key")
                }
                collection = hmac
            } else {
                let keys = self.accessKeys.withLockedValue { $0 }
                guard header.alg == "EdDSA", let kid = header.kid, keys.kids.contains(kid) else {
                    throw TokenRejection("unexpected algorithm or unknown key")
                }
                collection = keys.collection
            }
        }
        let claims: TokenClaims
        do {
            claims = try await collection.verify(token, as: TokenClaims.self)
        } catch {
            throw TokenRejection("invalid signature or claims")
        }
        guard claims.tokenUse == kind else { throw TokenRejection("wrong token type") }
        guard claims.iss == self.settings.issuer else { throw TokenRejection("wrong issuer") }
        guard claims.aud == (kind == .access ? self.settings.audience : self.settings.issuer) else {
            throw TokenRejection("wrong audience")
        }
        if checkTimes {
            guard claims.exp + self.settings.leeway > now else { throw TokenRejection("expired", expired: true) }
            guard claims.iat - self.settings.leeway <= now else { throw TokenRejection("not yet valid") }
        }
        return claims
    }

    private struct Header: Decodable {
        var alg: String?
        var typ: String?
        var kid: String?
        var crit: [String]?
    }

    private static func header(of token: String) throws(TokenRejection) -> Header {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = Self.base64URLDecode(parts[0]),
            let header = try? JSONDecoder().decode(Header.self, from: data)
        else { throw TokenRejection("malformed token") }
        return header
    }

    private static func base64URLDecode(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }

    private static func checkSecret(_ name: String, _ secret: String) throws(AuthConfigurationError) {
        guard secret.utf8.count >= Self.minimumSecretBytes else {
            throw AuthConfigurationError(
                "\(name) must be at least \(Self.minimumSecretBytes) bytes; generate one with `authd gen-secret`"
            )
        }
    }
}

/// Why a token was refused. The text is safe to show to the client.
public struct TokenRejection: Error, Sendable, CustomStringConvertible {
    public let description: String
    public let expired: Bool

    public init(_ description: String, expired: Bool = false) {
        self.description = description
        self.expired = expired
    }
}

/// A setting that stops start-up, with a message that says how to fix it.
public struct AuthConfigurationError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
