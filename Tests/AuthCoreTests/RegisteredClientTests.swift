import AuthCore
import JOSE
import Testing

@Suite("Registered clients: secrets, ids and audiences")
struct RegisteredClientTests {
    @Test func aSecretMatchesItsOwnDigestAndNothingElse() {
        let (first, stored) = RegisteredClient.makeSecret(now: 100)
        let (second, other) = RegisteredClient.makeSecret(now: 200)
        #expect(first.utf8.count == 43, "256 bits as base64url")
        #expect(first != second && stored.id != other.id)
        #expect(RandomID.isValid(stored.id))
        #expect(stored.digest.count == 32)
        let client = RegisteredClient(id: "svc", createdAt: 100, permissions: [.token], secrets: [stored, other])
        #expect(client.secret(matching: first) == stored)
        #expect(client.secret(matching: second) == other)
        for wrong in [
            "", String(first.dropLast()), first + "x", first.uppercased(), String(repeating: "\0", count: 43),
        ] {
            #expect(client.secret(matching: wrong) == nil, "\(wrong)")
        }
    }

    @Test(arguments: ["svc", "Billing.EU", "a-b_c", String(repeating: "c", count: 64)])
    func clientIDsFollowTheUserNameRules(id: String) throws {
        #expect(try ClientRules.canonicalID(id) == id.lowercased())
    }

    @Test(arguments: ["ab", "{x}", "a:b", "a b", "-svc", "ünï", String(repeating: "c", count: 65)])
    func invalidClientIDs(id: String) {
        #expect(throws: AuthError.self) { try ClientRules.canonicalID(id) }
    }

    @Test func audiencesArePrintableASCIIWithoutSpacesOrCommas() throws {
        for valid in ["authd", "https://api.example/v1?x=1", String(repeating: "a", count: 256)] {
            #expect(try ClientRules.audience(valid) == valid)
        }
        for invalid in ["", "a b", "a,b", "tab\there", "ü", String(repeating: "a", count: 257), "a\r\n"] {
            #expect(throws: AuthError.self) { try ClientRules.audience(invalid) }
        }
    }
}
