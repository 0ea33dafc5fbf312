import JOSE
import Testing

@Suite("TOTP (RFC 6238), base32, and the factor vault")
struct TOTPTests {
    /// RFC 6238 Appendix B, SHA-1: the seed is the ASCII of "12345678901234567890", 8 digits.
    @Test(arguments: [
        (59, "94287082"), (1_111_111_109, "07081804"), (1_111_111_111, "14050471"), (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"), (20_000_000_000, "65353130"),
    ])
    func rfc6238TestVectors(time: Int, expected: String) {
        let seed = Array("12345678901234567890".utf8)
        #expect(TOTP.code(secret: seed, step: TOTP.step(at: time), digits: 8) == expected)
    }

    /// RFC 4226 Appendix D: HOTP of the same seed at counters 0 to 9, 6 digits.
    @Test func rfc4226TestVectors() {
        let seed = Array("12345678901234567890".utf8)
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489",
        ]
        #expect((0..<10).map { TOTP.code(secret: seed, step: $0) } == expected)
    }

    @Test func aCodeMatchesItsStepWithinTheDriftOnly() {
        let secret = FactorVault.newSecret()
        let step = 55_000_000
        let code = TOTP.code(secret: secret, step: step)
        #expect(TOTP.matchingStep(of: code, secret: secret, around: step, drift: 1) == step)
        #expect(TOTP.matchingStep(of: code, secret: secret, around: step + 1, drift: 1) == step)
        #expect(TOTP.matchingStep(of: code, secret: secret, around: step - 1, drift: 1) == step)
        #expect(TOTP.matchingStep(of: code, secret: secret, around: step + 2, drift: 1) == nil)
        for bad in ["", "12345", "1234567", "12345a", "١٢٣٤٥٦", " 12345", String(repeating: "9", count: 10_000)] {
            #expect(TOTP.matchingStep(of: bad, secret: secret, around: step, drift: 1) == nil)
        }
        // Times and steps at the ends of the range do not trap.
        #expect(TOTP.step(at: Int.min) == 0)
        #expect(TOTP.code(secret: secret, step: Int.max).count == 6)
        _ = TOTP.matchingStep(of: "000000", secret: secret, around: 0, drift: 1)
    }

    @Test func base32RoundTripsAndRefusesOtherCharacters() {
        #expect(Base32.encode(Array("foobar".utf8)) == "MZXW6YTBOI")
        #expect(Base32.decode("MZXW6YTBOI======") == Array("foobar".utf8))
        #expect(Base32.decode("mzxw 6ytb oi") == Array("foobar".utf8))
        #expect(Base32.decode("MZXW1") == nil)
        let secret = FactorVault.newSecret()
        #expect(Base32.decode(Base32.encode(secret)) == secret)
        #expect(Base32.encode(secret).count == 32)
    }

    @Test func theProvisioningURIIsWhatAuthenticatorsRead() {
        let uri = TOTP.provisioningURI(secret: Array("foobar".utf8), issuer: "Example Inc", account: "ann.b")
        #expect(
            uri
                == "otpauth://totp/Example%20Inc:ann.b?secret=MZXW6YTBOI&issuer=Example%20Inc&algorithm=SHA1&digits=6&period=30"
        )
    }

    @Test func aSealedSecretOpensForItsUserAndKeyOnly() throws {
        let vault = FactorVault(key: "one key of at least thirty-two bytes")
        let secret = FactorVault.newSecret()
        let sealed = try vault.seal(secret, for: "ann")
        #expect(!sealed.contains(Base32.encode(secret)))
        #expect(vault.open(sealed, for: "ann") == secret)
        #expect(vault.open(sealed, for: "bob") == nil)
        #expect(FactorVault(key: "another key of at least thirty-two").open(sealed, for: "ann") == nil)
        #expect(vault.open(String(sealed.dropLast(2)) + "AA", for: "ann") == nil)
        #expect(vault.open("v2." + sealed.dropFirst(3), for: "ann") == nil)
        #expect(try vault.seal(secret, for: "ann") != sealed)
    }

    @Test func recoveryCodesAreOneCodeInAnySpellingAndDigestsAreKeyed() {
        let codes = FactorVault.newRecoveryCodes()
        #expect(codes.count == 10 && Set(codes).count == 10)
        #expect(codes.allSatisfy { $0.count == 11 && $0.dropFirst(5).first == "-" })
        let vault = FactorVault(key: "one key of at least thirty-two bytes")
        let code = codes[0]
        let digest = vault.recoveryDigest(of: code)
        #expect(digest?.count == 32)
        #expect(vault.recoveryDigest(of: code.uppercased()) == digest)
        #expect(vault.recoveryDigest(of: code.replacingOccurrences(of: "-", with: " ")) == digest)
        #expect(FactorVault(key: "another key of at least thirty-two").recoveryDigest(of: code) != digest)
        #expect(vault.recoveryDigest(of: "short") == nil)
        #expect(vault.recoveryDigest(of: "abcde-fghi!") == nil)
        #expect(vault.recoveryDigest(of: String(repeating: "a", count: 100_000)) == nil)
    }
}
