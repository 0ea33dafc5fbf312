import Foundation
import JOSE
import Testing

@Suite("Token claims as JSON")
struct TokenClaimsTests {
    @Test func claimsRoundTripAndAreReadLikeJSONDecoderReadsThem() throws {
        let claims = TokenClaims(
            iss: "authd", sub: "zoë \"quoted\"", aud: "api", clientID: "c\\1", iat: 1_700_000_000, exp: 1_700_000_900,
            jti: "j", sid: "s", tokenUse: .refresh)
        #expect(TokenClaims(json: claims.json) == claims)
        #expect(try JSONDecoder().decode(TokenClaims.self, from: Data(claims.json)) == claims)
        #expect(TokenClaims(json: Array(try JSONEncoder().encode(claims))) == claims)
        #expect(!String(decoding: claims.json, as: UTF8.self).contains("roles"), "no roles: no claim")

        var withRoles = claims
        withRoles.roles = ["admin", "ops:read"]
        #expect(TokenClaims(json: withRoles.json) == withRoles)
        #expect(try JSONDecoder().decode(TokenClaims.self, from: Data(withRoles.json)) == withRoles)
    }

    @Test func claimsOfTheWrongTypeOrMissingAreRefusedAndUnknownOnesIgnored() throws {
        let base: [String: Any] = [
            "iss": "authd", "sub": "a", "aud": "authd", "client_id": "c", "iat": 1, "exp": 2, "jti": "j", "sid": "s",
            "token_use": "access",
        ]
        func read(_ object: [String: Any]) throws -> TokenClaims? {
            TokenClaims(json: Array(try JSONSerialization.data(withJSONObject: object)))
        }
        #expect(try read(base) != nil)
        #expect(try read(base.merging(["extra": ["nested": [1, 2]]]) { $1 }) != nil)
        for name in base.keys {
            #expect(try read(base.filter { $0.key != name }) == nil, "without \(name)")
        }
        #expect(try read(base.merging(["exp": "2"]) { $1 }) == nil)
        #expect(try read(base.merging(["exp": 2.5]) { $1 }) == nil)
        #expect(try read(base.merging(["aud": ["authd"]]) { $1 }) == nil)
        #expect(try read(base.merging(["token_use": "other"]) { $1 }) == nil)
        #expect(try read(base.merging(["roles": ["a", "b"]]) { $1 })?.roles == ["a", "b"])
        #expect(try read(base.merging(["roles": "a"]) { $1 }) == nil)
        #expect(try read(base.merging(["roles": [1]]) { $1 }) == nil)
        // `gty`: a client's own token, only with authd's one value; absent, a user's.
        #expect(try read(base)?.grantedToClient == false)
        #expect(try read(base.merging(["gty": "client_credentials"]) { $1 })?.grantedToClient == true)
        #expect(try read(base.merging(["gty": "password"]) { $1 }) == nil)
        #expect(try read(base.merging(["gty": true]) { $1 }) == nil)
    }

    @Test func aClientsOwnTokenRoundTripsWithItsGrantType() throws {
        var claims = TokenClaims(
            iss: "authd", sub: "svc", aud: "https://api.example/", clientID: "svc", iat: 1_700_000_000,
            exp: 1_700_000_300, jti: "j", sid: "s", tokenUse: .access, roles: ["svc"])
        claims.grantedToClient = true
        #expect(String(decoding: claims.json, as: UTF8.self).contains(#""gty":"client_credentials""#))
        #expect(TokenClaims(json: claims.json) == claims)
        #expect(try JSONDecoder().decode(TokenClaims.self, from: Data(claims.json)) == claims)
        #expect(TokenClaims(json: Array(try JSONEncoder().encode(claims))) == claims)
    }
}
