import JWTKit

/// Signs and verifies tokens: HS256, with one secret per kind of token.
public struct TokenCodec: Sendable {
    /// HMAC keys shorter than this are refused (jwt-kit asserts on them, and they are weak).
    public static let minimumSecretBytes = 32
    /// Longer strings are not tokens of ours; they are refused before any parsing.
    public static let maximumTokenBytes = 4096

    private let access: JWTKeyCollection
    private let refresh: JWTKeyCollection

    public init(accessSecret: String, refreshSecret: String) async throws(AuthConfigurationError) {
        for (name, secret) in [("ACCESS_TOKEN_SECRET", accessSecret), ("REFRESH_TOKEN_SECRET", refreshSecret)]
        where secret.utf8.count < Self.minimumSecretBytes {
            throw AuthConfigurationError(
                "\(name) must be at least \(Self.minimumSecretBytes) bytes; generate one with `authd gen-secret`"
            )
        }
        guard accessSecret != refreshSecret else {
            throw AuthConfigurationError("ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET must differ")
        }
        self.access = await JWTKeyCollection().add(hmac: HMACKey(from: accessSecret), digestAlgorithm: .sha256)
        self.refresh = await JWTKeyCollection().add(hmac: HMACKey(from: refreshSecret), digestAlgorithm: .sha256)
    }

    public func sign(_ claims: TokenClaims) async throws -> String {
        var header = JWTHeader()
        header.typ = claims.tokenUse == .access ? "at+jwt" : "JWT"
        return try await self.keys(for: claims.tokenUse).sign(claims, header: header)
    }

    /// Checks the signature and the kind; not the expiry (see ``TokenClaims/verify(using:)``).
    /// - Returns: `nil` for anything that is not a valid token of this kind.
    public func verify(_ token: String, as kind: TokenKind) async -> TokenClaims? {
        guard token.utf8.count <= Self.maximumTokenBytes else { return nil }
        guard let claims = try? await self.keys(for: kind).verify(token, as: TokenClaims.self),
            claims.tokenUse == kind
        else { return nil }
        return claims
    }

    private func keys(for kind: TokenKind) -> JWTKeyCollection {
        kind == .access ? self.access : self.refresh
    }
}

/// A setting that stops start-up, with a message that says how to fix it.
public struct AuthConfigurationError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
