import Crypto
import Foundation
import JOSE
import Testing

/// ES256, RS256 and EdDSA access tokens (issue 15): each signs and verifies, publishes its JWK in
/// its own key type, and verifies only under its own algorithm.
@Suite("Signing algorithms")
struct SigningAlgorithmTests {
    let now = 1_700_000_000
    let refresh = RandomID.hexBytes(32)

    func claims() -> TokenClaims {
        TokenClaims(
            iss: "authd", sub: "alice", aud: "authd", clientID: "authd-public", iat: self.now, exp: self.now + 900,
            jti: RandomID.make(), sid: RandomID.make(), tokenUse: .access)
    }

    func codec(_ keys: [SigningKey]) throws -> TokenCodec {
        try TokenCodec(accessSecret: nil, refreshSecret: self.refresh, signingKeys: keys, now: self.now)
    }

    static func segments(_ token: String) -> [String] { token.split(separator: ".").map(String.init) }

    static func decode(_ segment: String) -> [UInt8] {
        var text = segment.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        text += String(repeating: "=", count: (4 - text.count % 4) % 4)
        return Array(Data(base64Encoded: text) ?? Data())
    }

    @Test(arguments: SigningAlgorithm.allCases)
    func signsAndVerifiesWithItsOwnKeyType(_ algorithm: SigningAlgorithm) throws {
        let key = try SigningKey.generate(algorithm, status: .current)
        let codec = try self.codec([key])
        let token = try codec.sign(self.claims())
        #expect(try codec.verify(token, as: .access, now: self.now).sub == "alice")
        let header = String(decoding: Self.decode(Self.segments(token)[0]), as: UTF8.self)
        #expect(header.contains(#""alg":"\#(algorithm.rawValue)""#) && header.contains(key.kid))
        let signature = Self.decode(Self.segments(token)[2])
        let jwk = key.jwk
        #expect(jwk.alg == algorithm.rawValue && jwk.use == "sig" && jwk.kid == key.kid)
        switch algorithm {
        case .es256:
            #expect(signature.count == 64, "the JOSE form r ‖ s, not DER")
            #expect(jwk.kty == "EC" && jwk.crv == "P-256" && Self.decode(jwk.x!).count == 32)
            #expect(Self.decode(jwk.y!).count == 32)
        case .rs256:
            #expect(signature.count == 256)
            #expect(jwk.kty == "RSA" && Self.decode(jwk.n!).count == 256 && jwk.e == "AQAB")
        case .edDSA:
            #expect(signature.count == 64)
            #expect(jwk.kty == "OKP" && jwk.crv == "Ed25519" && Self.decode(jwk.x!).count == 32)
        }
        // Through PEM and back, as the key directory stores it.
        let reloaded = try SigningKey(kid: key.kid, pem: key.pem, status: .current)
        #expect(reloaded.algorithm == algorithm)
        #expect(try self.codec([reloaded]).verify(token, as: .access, now: self.now).sub == "alice")
    }

    /// The key named by `kid` decides the algorithm: a header naming another is refused, even
    /// with a signature that would be valid under the other.
    @Test(arguments: SigningAlgorithm.allCases)
    func aHeaderNamingAnotherAlgorithmIsRefused(_ algorithm: SigningAlgorithm) throws {
        let key = try SigningKey.generate(algorithm, status: .current)
        let codec = try self.codec([key])
        let parts = Self.segments(try codec.sign(self.claims()))
        for other in SigningAlgorithm.allCases.map(\.rawValue) + ["HS256", "none", "ES384", "PS256"]
        where other != algorithm.rawValue {
            let header = #"{"alg":"\#(other)","typ":"at+jwt","kid":"\#(key.kid)"}"#
            let forged = Forge.base64URL(Data(header.utf8)) + "." + parts[1] + "." + parts[2]
            #expect(throws: JOSEError.self, "\(other)") { try codec.verify(forged, as: .access, now: self.now) }
        }
    }

    /// An ES256 signature in DER form (what a generic ECDSA library may produce) is not JOSE.
    @Test func aDEREncodedES256SignatureIsRefused() throws {
        let key = try SigningKey.generate(.es256, status: .current)
        let codec = try self.codec([key])
        let parts = Self.segments(try codec.sign(self.claims()))
        let raw = Self.decode(parts[2])
        let der = try P256.Signing.ECDSASignature(rawRepresentation: raw).derRepresentation
        let forged = parts[0] + "." + parts[1] + "." + Forge.base64URL(der)
        #expect(throws: JOSEError.self) { try codec.verify(forged, as: .access, now: self.now) }
    }

    /// Keys of different algorithms live side by side during a change of algorithm.
    @Test func aRotationCanChangeTheAlgorithm() throws {
        var old = try SigningKey.generate(.edDSA, status: .current)
        let new = try SigningKey.generate(.es256, status: .next)
        let before = try self.codec([old, new]).sign(self.claims())
        old.status = .retired(at: self.now)
        var promoted = new
        promoted.status = .current
        let codec = try self.codec([old, promoted])
        let after = try codec.sign(self.claims())
        #expect(try codec.verify(before, as: .access, now: self.now).sub == "alice")
        #expect(try codec.verify(after, as: .access, now: self.now).sub == "alice")
        #expect(codec.jwks.map(\.kty).sorted() == ["EC", "OKP"])
    }
}

/// HS256 key ids and previous secrets (issue 15): a secret rotates without logging anyone out.
@Suite("HS256 rotation")
struct HMACRotationTests {
    let now = 1_700_000_000
    let old = (access: RandomID.hexBytes(32), refresh: RandomID.hexBytes(32))
    let new = (access: RandomID.hexBytes(32), refresh: RandomID.hexBytes(32))

    func claims(_ kind: TokenKind) -> TokenClaims {
        TokenClaims(
            iss: "authd", sub: "alice", aud: "authd", clientID: "c", iat: self.now, exp: self.now + 900,
            jti: RandomID.make(), sid: RandomID.make(), tokenUse: kind)
    }

    func header(_ token: String) -> String {
        String(decoding: SigningAlgorithmTests.decode(SigningAlgorithmTests.segments(token)[0]), as: UTF8.self)
    }

    @Test(arguments: [TokenKind.access, .refresh])
    func tokensOfThePreviousSecretVerifyUntilItIsDropped(_ kind: TokenKind) throws {
        let before = try TokenCodec(accessSecret: self.old.access, refreshSecret: self.old.refresh, now: self.now)
        let during = try TokenCodec(
            accessSecret: self.new.access, refreshSecret: self.new.refresh, previousAccessSecret: self.old.access,
            previousRefreshSecret: self.old.refresh, now: self.now)
        let after = try TokenCodec(accessSecret: self.new.access, refreshSecret: self.new.refresh, now: self.now)
        let oldToken = try before.sign(self.claims(kind))
        let newToken = try during.sign(self.claims(kind))
        #expect(self.header(oldToken).contains(#""kid":"hs-"#), "every HS256 token names its secret")
        #expect(self.header(oldToken) != self.header(newToken), "the new secret signs, under another kid")
        #expect(try during.verify(oldToken, as: kind, now: self.now).sub == "alice")
        #expect(try during.verify(newToken, as: kind, now: self.now).sub == "alice")
        #expect(try after.verify(newToken, as: kind, now: self.now).sub == "alice")
        #expect(throws: JOSEError.self) { try after.verify(oldToken, as: kind, now: self.now) }
    }

    /// A kid decides the secret: a token signed with one secret under the other's kid, or under a
    /// kid nobody knows, is refused.
    @Test func theKidNamesTheOneSecretThatMayVerify() throws {
        let during = try TokenCodec(
            accessSecret: self.new.access, refreshSecret: self.new.refresh, previousAccessSecret: self.old.access,
            now: self.now)
        let newToken = try during.sign(self.claims(.access))
        let parts = SigningAlgorithmTests.segments(newToken)
        let oldKid = try TokenCodec(accessSecret: self.old.access, refreshSecret: self.old.refresh, now: self.now)
            .sign(self.claims(.access))
        for kidHeader in [self.header(oldKid), #"{"alg":"HS256","typ":"at+jwt","kid":"hs-unknown"}"#] {
            let input = Forge.base64URL(Data(kidHeader.utf8)) + "." + parts[1]
            let mac = HMAC<SHA256>.authenticationCode(
                for: Data(input.utf8), using: SymmetricKey(data: Data(self.new.access.utf8)))
            let forged = input + "." + Forge.base64URL(Data(mac))
            #expect(throws: JOSEError.self) { try during.verify(forged, as: .access, now: self.now) }
        }
    }

    @Test func aPreviousSecretEqualToTheCurrentIsRefused() {
        #expect(throws: JOSEError.self) {
            try TokenCodec(
                accessSecret: self.new.access, refreshSecret: self.new.refresh, previousAccessSecret: self.new.access)
        }
    }
}

extension SigningAlgorithm: CustomTestStringConvertible {
    public var testDescription: String { self.rawValue }
}
