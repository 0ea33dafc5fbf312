import AuthCore
import Testing

@Suite("Signing and verifying tokens")
struct TokenCodecTests {
    let claims = TokenClaims(
        iss: "authd", sub: "alice", iat: 1_700_000_000, exp: 1_700_000_900, jti: RandomID.make(), sid: RandomID.make(),
        tokenUse: .access
    )

    private func codec() async throws -> TokenCodec {
        try await TokenCodec(accessSecret: RandomID.hexBytes(32), refreshSecret: RandomID.hexBytes(32))
    }

    @Test func aTokenRoundTripsWithWholeSecondTimes() async throws {
        let codec = try await self.codec()
        let token = try await codec.sign(self.claims)
        #expect(await codec.verify(token, as: .access) == self.claims)
    }

    @Test func kindsAreNeverInterchangeable() async throws {
        let codec = try await self.codec()
        var refresh = self.claims
        refresh.tokenUse = .refresh
        #expect(await codec.verify(try await codec.sign(self.claims), as: .refresh) == nil)
        #expect(await codec.verify(try await codec.sign(refresh), as: .access) == nil)
        #expect(await codec.verify(try await codec.sign(refresh), as: .refresh) == refresh)
    }

    @Test func anotherSecretsTokenIsRefused() async throws {
        let token = try await self.codec().sign(self.claims)
        #expect(await (try self.codec()).verify(token, as: .access) == nil)
    }

    @Test func shortOrEqualSecretsAreRefused() async {
        await #expect(throws: AuthConfigurationError.self) {
            _ = try await TokenCodec(accessSecret: "short", refreshSecret: RandomID.hexBytes(32))
        }
        let same = RandomID.hexBytes(32)
        await #expect(throws: AuthConfigurationError.self) {
            _ = try await TokenCodec(accessSecret: same, refreshSecret: same)
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
