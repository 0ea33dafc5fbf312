/// A public key in JWK form: `OKP` (Ed25519: `crv`, `x`), `EC` (P-256: `crv`, `x`, `y`) or `RSA`
/// (`n`, `e`), with `alg`, `use` and `kid`.
public struct PublicJWK: Sendable, Codable, Equatable {
    public var kty: String
    public var crv: String?
    public var alg: String
    public var use = "sig"
    public var kid: String
    public var x: String?
    public var y: String?
    public var n: String?
    public var e: String?

    public init(kty: String, alg: String, kid: String) {
        self.kty = kty
        self.alg = alg
        self.kid = kid
    }
}
