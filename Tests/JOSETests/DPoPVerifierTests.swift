import Crypto
import Foundation
import Testing
import WireJSON

@testable import JOSE

@Suite("DPoP proofs (RFC 9449 §4.3), thumbprints (RFC 7638) and nonces")
struct DPoPVerifierTests {
    static let now = 1_800_000_000
    static let uri = "https://authd.example/token"

    /// An ES256 proof as a client makes it, with swift-crypto.
    static func proof(
        _ key: P256.Signing.PrivateKey, method: String = "POST", htu: String = uri, iat: Int = now,
        jti: String = "j-1", extra: String = ""
    ) -> String {
        let point = Array(key.publicKey.rawRepresentation)
        let jwk =
            #"{"kty":"EC","crv":"P-256","x":"\#(Base64URL.encode(point[..<32]))","y":"\#(Base64URL.encode(point[32...]))"}"#
        let header = #"{"typ":"dpop+jwt","alg":"ES256","jwk":\#(jwk)}"#
        let claims = #"{"jti":"\#(jti)","htm":"\#(method)","htu":"\#(htu)","iat":\#(iat)\#(extra)}"#
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(claims.utf8))
        return input + "." + Base64URL.encode(Array(try! key.signature(for: Array(input.utf8)).rawRepresentation))
    }

    @Test func theThumbprintOfRFC7638sExample() throws {
        // RFC 7638 §3.1: the RSA key of RFC 7517 Appendix A.1, with members that do not count.
        let n =
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        let json = #"{"kty":"RSA","n":"\#(n)","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#
        let members = try #require(JSONReader.object(Array(json.utf8)))
        let key = try DPoPVerifier.publicKey(JSONReader.Members(members), algorithm: .rs256)
        #expect(key.thumbprint == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    }

    @Test func aGoodProofGivesItsKeysThumbprintEveryTime() throws {
        let key = P256.Signing.PrivateKey()
        let verifier = DPoPVerifier()
        let first = try verifier.verify(Self.proof(key), method: "POST", uri: Self.uri, accessToken: nil, now: Self.now)
        // The second proof's header is the first's: the parsed key comes from the cache.
        let second = try verifier.verify(
            Self.proof(key, jti: "j-2"), method: "POST", uri: Self.uri, accessToken: nil, now: Self.now)
        #expect(first.thumbprint == second.thumbprint)
        #expect(first.jti == "j-1" && second.jti == "j-2")
        let point = Array(key.publicKey.rawRepresentation)
        let canonical =
            #"{"crv":"P-256","kty":"EC","x":"\#(Base64URL.encode(point[..<32]))","y":"\#(Base64URL.encode(point[32...]))"}"#
        #expect(first.thumbprint == Base64URL.encode(Array(SHA256.hash(data: Array(canonical.utf8)))))
    }

    /// `iat` from `lifetime` before now to `leeway` after; arithmetic on the client's value never traps.
    @Test(arguments: [
        (-60, true), (-61, false), (30, true), (31, false), (Int.min / 2, false), (Int.max / 2, false),
    ])
    func iatWindow(offset: Int, accepted: Bool) {
        let key = P256.Signing.PrivateKey()
        let iat = offset > 1_000_000 || offset < -1_000_000 ? offset : Self.now + offset
        let result = Result { () throws(DPoPError) in
            try DPoPVerifier().verify(
                Self.proof(key, iat: iat), method: "POST", uri: Self.uri, accessToken: nil, now: Self.now)
        }
        #expect(((try? result.get()) != nil) == accepted)
    }

    @Test(arguments: [
        ("https://authd.example/token", true), ("HTTPS://AUTHD.EXAMPLE/token", true),
        ("https://authd.example:443/token", true), ("https://authd.example/Token", false),
        ("https://authd.example:8443/token", false), ("http://authd.example/token", false),
        ("https://authd.example/token?x=1", false), ("https://authd.example/token#f", false),
        ("https://user@authd.example/token", false), ("authd.example/token", false), ("", false),
    ])
    func htuIsComparedAsRFC3986Says(htu: String, accepted: Bool) {
        let key = P256.Signing.PrivateKey()
        let result = Result { () throws(DPoPError) in
            try DPoPVerifier().verify(
                Self.proof(key, htu: htu), method: "POST", uri: Self.uri, accessToken: nil, now: Self.now)
        }
        #expect(((try? result.get()) != nil) == accepted, "\(htu)")
    }

    @Test func athIsTheAccessTokensHash() throws {
        let key = P256.Signing.PrivateKey()
        let token = "header.payload.signature"
        let ath = DPoPVerifier.accessTokenHash(token)
        // RFC 9449 §4.2: base64url of SHA-256 over the ASCII, no padding.
        #expect(ath == Base64URL.encode(Array(SHA256.hash(data: Array(token.utf8)))) && ath.count == 43)
        let proof = Self.proof(key, method: "GET", extra: #","ath":"\#(ath)""#)
        #expect(throws: Never.self) {
            try DPoPVerifier().verify(proof, method: "GET", uri: Self.uri, accessToken: token, now: Self.now)
        }
        #expect(throws: DPoPError.self) {
            try DPoPVerifier().verify(proof, method: "GET", uri: Self.uri, accessToken: token + "x", now: Self.now)
        }
        #expect(throws: DPoPError.self) {
            try DPoPVerifier().verify(
                Self.proof(key, method: "GET"), method: "GET", uri: Self.uri, accessToken: token, now: Self.now)
        }
    }

    @Test func rsaKeysOutsideTwoToFourThousandBitsAreRefused() throws {
        for bits in [1024, 8192] {
            let n = Base64URL.encode([0xC1] + [UInt8](repeating: 0x5A, count: bits / 8 - 1))
            let members = try #require(JSONReader.object(Array(#"{"kty":"RSA","n":"\#(n)","e":"AQAB"}"#.utf8)))
            #expect(throws: DPoPError.self) {
                try DPoPVerifier.publicKey(JSONReader.Members(members), algorithm: .rs256)
            }
        }
    }

    @Test func noncesLiveOneToTwoWindowsAndOnlyForTheirSecret() {
        let nonces = DPoPNonces(secret: String(repeating: "s", count: 32))
        let nonce = nonces.current(now: Self.now)
        #expect(nonces.isValid(nonce, now: Self.now))
        #expect(nonces.isValid(nonce, now: Self.now + DPoPNonces.window))
        #expect(!nonces.isValid(nonce, now: Self.now + 2 * DPoPNonces.window))
        #expect(!DPoPNonces(secret: String(repeating: "t", count: 32)).isValid(nonce, now: Self.now))
        #expect(!nonces.isValid("", now: Self.now) && !nonces.isValid(nonce + "x", now: Self.now))
    }
}
