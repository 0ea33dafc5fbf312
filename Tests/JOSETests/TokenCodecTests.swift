import Crypto
import Foundation
import Testing

@testable import JOSE

/// Hand-made JWTs, for tokens no honest codec would sign.
enum Forge {
    static func base64URL(_ data: some DataProtocol) -> String {
        Data(data).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(
            of: "/", with: "_"
        )
        .replacingOccurrences(of: "=", with: "")
    }

    static func token(header: String, claims: TokenClaims, hmacKey: [UInt8]?) throws -> String {
        let signingInput = self.base64URL(Data(header.utf8)) + "." + self.base64URL(try JSONEncoder().encode(claims))
        guard let hmacKey else { return signingInput + "." }
        let mac = HMAC<SHA256>.authenticationCode(for: Array(signingInput.utf8), using: SymmetricKey(data: hmacKey))
        return signingInput + "." + self.base64URL(Array(mac))
    }
}

@Suite("Signing and verifying tokens (RFC 8725, RFC 9068)")
struct TokenCodecTests {
    let now = 1_700_000_000
    let access = RandomID.hexBytes(32)
    let refresh = RandomID.hexBytes(32)

    func claims(_ kind: TokenKind = .access) -> TokenClaims {
        TokenClaims(
            iss: "authd", sub: "alice", aud: kind == .access ? "authd" : "authd", clientID: "c", iat: self.now,
            exp: self.now + 900, jti: RandomID.make(), sid: RandomID.make(), tokenUse: kind
        )
    }

    private func hmacCodec() throws -> TokenCodec {
        try TokenCodec(accessSecret: self.access, refreshSecret: self.refresh, now: self.now)
    }

    private func rejects(_ codec: TokenCodec, _ token: String, as kind: TokenKind = .access, at time: Int? = nil)
        -> Bool
    {
        (try? codec.verify(token, as: kind, now: time ?? self.now)) == nil
    }

    @Test func aTokenRoundTripsWithWholeSecondTimesAndTheKindsTyp() async throws {
        let codec = try self.hmacCodec()
        let claims = self.claims()
        let token = try codec.sign(claims)
        #expect(try codec.verify(token, as: .access, now: self.now) == claims)
        let header = String(
            decoding: try #require(Base64URL.decode(token.split(separator: ".")[0].utf8)), as: UTF8.self)
        #expect(header.contains(#""typ":"at+jwt""#))
    }

    @Test func kindsAreNeverInterchangeable() async throws {
        let codec = try self.hmacCodec()
        #expect(self.rejects(codec, try codec.sign(self.claims(.access)), as: .refresh))
        #expect(self.rejects(codec, try codec.sign(self.claims(.refresh)), as: .access))
        // Even with the right key, a refresh token's claims under an access typ are refused.
        let swapped = try Forge.token(
            header: #"{"alg":"HS256","typ":"at+jwt"}"#, claims: self.claims(.refresh), hmacKey: Array(self.access.utf8)
        )
        #expect(self.rejects(codec, swapped))
    }

    @Test func algNoneAndOtherAlgorithmsAreRefused() async throws {
        let codec = try self.hmacCodec()
        for header in [
            #"{"alg":"none","typ":"at+jwt"}"#, #"{"alg":"None","typ":"at+jwt"}"#, #"{"alg":"HS512","typ":"at+jwt"}"#,
        ] {
            #expect(self.rejects(codec, try Forge.token(header: header, claims: self.claims(), hmacKey: nil)))
            #expect(
                self.rejects(
                    codec, try Forge.token(header: header, claims: self.claims(), hmacKey: Array(self.access.utf8))
                )
            )
        }
        let critical = try Forge.token(
            header: #"{"alg":"HS256","typ":"at+jwt","crit":["exp"]}"#, claims: self.claims(),
            hmacKey: Array(self.access.utf8)
        )
        #expect(self.rejects(codec, critical))
    }

    @Test func hs256SignedWithThePublicKeyIsRefused() async throws {
        let key = try SigningKey.generate(status: .current)
        let codec = try TokenCodec(
            accessSecret: nil, refreshSecret: self.refresh, signingKeys: [key], now: self.now)
        let genuine = try codec.sign(self.claims())
        #expect(try codec.verify(genuine, as: .access, now: self.now).sub == "alice")
        // The classic confusion: HMAC keyed with the public key, in every form it is published in.
        for publicForm in [
            key.publicKeyForms.raw, Array((key.jwk.x ?? "").utf8), Array(key.publicKeyForms.pem.utf8),
        ] {
            for header in [#"{"alg":"HS256","typ":"at+jwt"}"#, #"{"alg":"HS256","typ":"at+jwt","kid":"\#(key.kid)"}"#] {
                #expect(
                    self.rejects(
                        codec, try Forge.token(header: header, claims: self.claims(), hmacKey: publicForm)))
            }
        }
    }

    @Test(arguments: ["../../etc/passwd", "https://evil.example/jwks.json", "ed-unknown", "", "' OR 1=1 --"])
    func aForgedKidIsRefused(kid: String) async throws {
        let key = try SigningKey.generate(status: .current)
        let codec = try TokenCodec(
            accessSecret: nil, refreshSecret: self.refresh, signingKeys: [key], now: self.now)
        let genuine = try codec.sign(self.claims())
        let parts = genuine.split(separator: ".")
        let header = Forge.base64URL(Data(#"{"alg":"EdDSA","typ":"at+jwt","kid":"\#(kid)"}"#.utf8))
        #expect(self.rejects(codec, "\(header).\(parts[1]).\(parts[2])"))
    }

    @Test func expiryAndNotYetValidHonourTheLeeway() async throws {
        let codec = try self.hmacCodec()  // leeway 30 s
        let token = try codec.sign(self.claims())
        #expect(!self.rejects(codec, token, at: self.now + 900 + 29))
        #expect(self.rejects(codec, token, at: self.now + 900 + 30))
        #expect(!self.rejects(codec, token, at: self.now - 30))
        #expect(self.rejects(codec, token, at: self.now - 31), "issued in the future: not yet valid")
    }

    @Test func wrongIssuerOrAudienceIsRefused() async throws {
        let codec = try self.hmacCodec()
        var wrongIssuer = self.claims()
        wrongIssuer.iss = "someone-else"
        #expect(self.rejects(codec, try codec.sign(wrongIssuer)))
        var wrongAudience = self.claims()
        wrongAudience.aud = "another-api"
        #expect(self.rejects(codec, try codec.sign(wrongAudience)))
    }

    @Test func aRotatedOutKeyVerifiesOnlyUntilItsTokensHaveExpired() async throws {
        let old = try SigningKey.generate(status: .current)
        let codec = try TokenCodec(
            accessSecret: nil, refreshSecret: self.refresh, signingKeys: [old], now: self.now)
        let signedByOld = try codec.sign(self.claims())
        var retired = old
        retired.status = .retired(at: self.now)
        let new = try SigningKey.generate(status: .current)
        // Within the grace period (the reload lag 30 s + access TTL 900 s + leeway 30 s) the old key
        // still verifies.
        try codec.setSigningKeys([retired, new], now: self.now + 100)
        #expect(!self.rejects(codec, signedByOld, at: self.now + 100))
        #expect(codec.jwks.map(\.kid).sorted() == [new.kid, old.kid].sorted())
        // After it, the old key is gone, and so is anything it signed, whatever its exp says.
        // (Issued later, with the lifetime authd issues: a longer one is refused on its own.)
        var longLived = self.claims()
        longLived.iat = self.now + 500
        longLived.exp = self.now + 1_400
        let forgedWithOldKey = try codec.sign(longLived)  // signed by the new key: fine
        #expect(!self.rejects(codec, forgedWithOldKey, at: self.now + 931))
        try codec.setSigningKeys([retired, new], now: self.now + 959)
        #expect(codec.jwks.map(\.kid).sorted() == [new.kid, old.kid].sorted(), "kept for the reload lag too")
        try codec.setSigningKeys([retired, new], now: self.now + 961)
        #expect(codec.jwks.map(\.kid) == [new.kid])
        let oldOnly = try TokenCodec(
            accessSecret: nil, refreshSecret: self.refresh, signingKeys: [old], now: self.now)
        let stolenKeyToken = try oldOnly.sign(longLived)
        #expect(self.rejects(codec, stolenKeyToken, at: self.now + 961))
    }

    @Test func shortOrEqualSecretsAreRefused() {
        #expect(throws: JOSEError.self) {
            _ = try TokenCodec(accessSecret: "short", refreshSecret: RandomID.hexBytes(32))
        }
        let same = RandomID.hexBytes(32)
        #expect(throws: JOSEError.self) {
            _ = try TokenCodec(accessSecret: same, refreshSecret: same)
        }
        #expect(throws: JOSEError.self) {
            _ = try TokenCodec(accessSecret: nil, refreshSecret: RandomID.hexBytes(32))
        }
    }

    @Test func identifiersAre128BitHex() {
        let id = RandomID.make()
        #expect(id.count == 32)
        #expect(id.allSatisfy { $0.isHexDigit })
        #expect(RandomID.make() != id)
        #expect(RandomID.hexBytes(64).count == 128)
    }

    @Test func identifiersStayUniqueAcrossPoolRefills() {
        // The pool holds 256 ids' worth of bytes; 1,000 ids cross several refills.
        let ids = (0..<1000).map { _ in RandomID.make() }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.count == 32 && $0.allSatisfy(\.isHexDigit) })
        // No stretch of zeros (bytes handed out are zeroed in the pool; they must not come back).
        #expect(!ids.contains { $0.contains("00000000") })
        // Every hex digit turns up in every position's column.
        for position in [0, 15, 31] {
            let column = Set(ids.map { Array($0)[position] })
            #expect(column.count == 16)
        }
    }
}

@Suite("Base64url (RFC 4648 §5)")
struct Base64URLTests {
    @Test func roundTripsAndMatchesFoundationsAlphabetWithoutPadding() throws {
        for count in 0...40 {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) }
            let encoded = Base64URL.encode(bytes)
            #expect(encoded == Forge.base64URL(bytes))
            #expect(Base64URL.decode(encoded) == bytes)
        }
    }

    @Test(arguments: [
        "QQ==", "QUJD=", "Q+E", "Q/E", "QU JD", "Q", "QUJDR", "QR", "QUS", "é", "!QUJ", "QUJDQUJ*", "QUJDQU=",
        "QUJD\u{0}UJD",
    ])
    func refusesPaddingForeignCharactersImpossibleLengthsAndStrayBits(_ text: String) {
        #expect(Base64URL.decode(text) == nil)
    }
}

@Suite("HMAC-SHA256 over SHA256 (RFC 2104)")
struct HMACSHA256Tests {
    @Test(arguments: [1, 32, 63, 64, 65, 100, 200])
    func itMatchesSwiftCryptosHMAC(keyLength: Int) {
        let key = (0..<keyLength).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        let mac = HMACSHA256(key: key)
        for length in [0, 1, 55, 56, 63, 64, 65, 119, 120, 300, 1000] {
            let message: [UInt8] = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 17 &+ keyLength) }
            let expected = Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
            let code = message.withUnsafeBytes { Array(mac.authenticationCode(for: $0)) }
            #expect(code == expected, "key \(keyLength) bytes, message \(length) bytes")
            #expect(message.withUnsafeBytes { mac.isValid(expected, for: $0) })
            var flipped = expected
            flipped[length % 32] ^= 0x01
            #expect(!message.withUnsafeBytes { mac.isValid(flipped, for: $0) })
            #expect(!message.withUnsafeBytes { mac.isValid(Array(expected.dropLast()), for: $0) })
        }
    }

    @Test func theRFC4231TestCase2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
        let mac = HMACSHA256(key: Array("Jefe".utf8))
        let code = Array("what do ya want for nothing?".utf8).withUnsafeBytes { mac.authenticationCode(for: $0) }
        let hex = code.map { String(format: "%02x", $0) }.joined()
        #expect(hex == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }
}
