import AuthCore
import Crypto
import Foundation
import Testing

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

    private func hmacCodec() async throws -> TokenCodec {
        try await TokenCodec(accessSecret: self.access, refreshSecret: self.refresh, now: self.now)
    }

    private func rejects(_ codec: TokenCodec, _ token: String, as kind: TokenKind = .access, at time: Int? = nil) async
        -> Bool
    {
        (try? await codec.verify(token, as: kind, now: time ?? self.now)) == nil
    }

    @Test func aTokenRoundTripsWithWholeSecondTimesAndTheKindsTyp() async throws {
        let codec = try await self.hmacCodec()
        let claims = self.claims()
        let token = try await codec.sign(claims)
        #expect(try await codec.verify(token, as: .access, now: self.now) == claims)
        let header = String(
            decoding: Data(base64Encoded: String(token.split(separator: ".")[0]) + "==")!, as: UTF8.self)
        #expect(header.contains(#""typ":"at+jwt""#))
    }

    @Test func kindsAreNeverInterchangeable() async throws {
        let codec = try await self.hmacCodec()
        #expect(await self.rejects(codec, try await codec.sign(self.claims(.access)), as: .refresh))
        #expect(await self.rejects(codec, try await codec.sign(self.claims(.refresh)), as: .access))
        // Even with the right key, a refresh token's claims under an access typ are refused.
        let swapped = try Forge.token(
            header: #"{"alg":"HS256","typ":"at+jwt"}"#, claims: self.claims(.refresh), hmacKey: Array(self.access.utf8)
        )
        #expect(await self.rejects(codec, swapped))
    }

    @Test func algNoneAndOtherAlgorithmsAreRefused() async throws {
        let codec = try await self.hmacCodec()
        for header in [
            #"{"alg":"none","typ":"at+jwt"}"#, #"{"alg":"None","typ":"at+jwt"}"#, #"{"alg":"HS512","typ":"at+jwt"}"#,
        ] {
            #expect(await self.rejects(codec, try Forge.token(header: header, claims: self.claims(), hmacKey: nil)))
            #expect(
                await self.rejects(
                    codec, try Forge.token(header: header, claims: self.claims(), hmacKey: Array(self.access.utf8))
                )
            )
        }
        let critical = try Forge.token(
            header: #"{"alg":"HS256","typ":"at+jwt","crit":["exp"]}"#, claims: self.claims(),
            hmacKey: Array(self.access.utf8)
        )
        #expect(await self.rejects(codec, critical))
    }

    @Test func hs256SignedWithThePublicKeyIsRefused() async throws {
        let key = try SigningKey.generate(status: .current)
        let codec = try await TokenCodec(
            accessSecret: nil, refreshSecret: self.refresh, signingKeys: [key], now: self.now)
        let genuine = try await codec.sign(self.claims())
        #expect(try await codec.verify(genuine, as: .access, now: self.now).sub == "alice")
        // The classic confusion: HMAC keyed with the public key, in every form it is published in.
        for publicForm in [
            Array(key.privateKey.publicKey.rawRepresentation), Array(key.jwk.x.utf8),
            Array(key.privateKey.publicKey.pemRepresentation.utf8),
        ] {
            for header in [#"{"alg":"HS256","typ":"at+jwt"}"#, #"{"alg":"HS256","typ":"at+jwt","kid":"\#(key.kid)"}"#] {
                #expect(
                    await self.rejects(
                        codec, try Forge.token(header: header, claims: self.claims(), hmacKey: publicForm)))
            }
        }
    }

    @Test(arguments: ["../../etc/passwd", "https://evil.example/jwks.json", "ed-unknown", "", "' OR 1=1 --"])
    func aForgedKidIsRefused(kid: String) async throws {
        let key = try SigningKey.generate(status: .current)
        let codec = try await TokenCodec(
            accessSecret: nil, refreshSecret: self.refresh, signingKeys: [key], now: self.now)
        let genuine = try await codec.sign(self.claims())
        let parts = genuine.split(separator: ".")
        let header = Forge.base64URL(Data(#"{"alg":"EdDSA","typ":"at+jwt","kid":"\#(kid)"}"#.utf8))
        #expect(await self.rejects(codec, "\(header).\(parts[1]).\(parts[2])"))
    }

    @Test func expiryAndNotYetValidHonourTheLeeway() async throws {
        let codec = try await self.hmacCodec()  // leeway 30 s
        let token = try await codec.sign(self.claims())
        #expect(await !self.rejects(codec, token, at: self.now + 900 + 29))
        #expect(await self.rejects(codec, token, at: self.now + 900 + 30))
        #expect(await !self.rejects(codec, token, at: self.now - 30))
        #expect(await self.rejects(codec, token, at: self.now - 31), "issued in the future: not yet valid")
    }

    @Test func wrongIssuerOrAudienceIsRefused() async throws {
        let codec = try await self.hmacCodec()
        var wrongIssuer = self.claims()
        wrongIssuer.iss = "someone-else"
        #expect(await self.rejects(codec, try await codec.sign(wrongIssuer)))
        var wrongAudience = self.claims()
        wrongAudience.aud = "another-api"
        #expect(await self.rejects(codec, try await codec.sign(wrongAudience)))
    }

    @Test func aRotatedOutKeyVerifiesOnlyUntilItsTokensHaveExpired() async throws {
        let old = try SigningKey.generate(status: .current)
        let codec = try await TokenCodec(
            accessSecret: nil, refreshSecret: self.refresh, signingKeys: [old], now: self.now)
        let signedByOld = try await codec.sign(self.claims())
        var retired = old
        retired.status = .retired(at: self.now)
        let new = try SigningKey.generate(status: .current)
        // Within the grace period (access TTL 900 s + leeway 30 s) the old key still verifies.
        try await codec.setSigningKeys([retired, new], now: self.now + 100)
        #expect(await !self.rejects(codec, signedByOld, at: self.now + 100))
        #expect(codec.jwks.map(\.kid).sorted() == [new.kid, old.kid].sorted())
        // After it, the old key is gone, and so is anything it signed, whatever its exp says.
        var longLived = self.claims()
        longLived.exp = self.now + 100_000
        let forgedWithOldKey = try await codec.sign(longLived)  // signed by the new key: fine
        #expect(await !self.rejects(codec, forgedWithOldKey, at: self.now + 931))
        try await codec.setSigningKeys([retired, new], now: self.now + 931)
        #expect(codec.jwks.map(\.kid) == [new.kid])
        let oldOnly = try await TokenCodec(
            accessSecret: nil, refreshSecret: self.refresh, signingKeys: [old], now: self.now)
        let stolenKeyToken = try await oldOnly.sign(longLived)
        #expect(await self.rejects(codec, stolenKeyToken, at: self.now + 931))
    }

    @Test func shortOrEqualSecretsAreRefused() async {
        await #expect(throws: AuthConfigurationError.self) {
            _ = try await TokenCodec(accessSecret: "short", refreshSecret: RandomID.hexBytes(32))
        }
        let same = RandomID.hexBytes(32)
        await #expect(throws: AuthConfigurationError.self) {
            _ = try await TokenCodec(accessSecret: same, refreshSecret: same)
        }
        await #expect(throws: AuthConfigurationError.self) {
            _ = try await TokenCodec(accessSecret: nil, refreshSecret: RandomID.hexBytes(32))
        }
    }

    @Test func identifiersAre128BitHex() {
        let id = RandomID.make()
        #expect(id.count == 32)
        #expect(id.allSatisfy { $0.isHexDigit })
        #expect(RandomID.make() != id)
        #expect(RandomID.hexBytes(64).count == 128)
    }
}
