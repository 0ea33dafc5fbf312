import AuthCore
import Testing

@Suite("User name and password rules")
struct CredentialsTests {
    @Test(arguments: ["alice", "Bob.Smith", "x_1-2", "007", String(repeating: "a", count: 64)])
    func validNamesAreLowercased(name: String) throws {
        #expect(try Credentials.canonicalUsername(name) == name.lowercased())
    }

    @Test(arguments: [
        "ab", "", String(repeating: "a", count: 65), "has space", "{tag}", "a:b", "-dash", "ünï", "a\r\nb",
    ])
    func invalidNames(name: String) {
        #expect(throws: AuthError.self) { try Credentials.canonicalUsername(name) }
    }

    @Test func passwordsNeedEightCharactersAndAtMost1024Bytes() throws {
        try Credentials.validateNewPassword("12345678")
        try Credentials.validateNewPassword("éééééééé")
        try Credentials.validateNewPassword(String(repeating: "p", count: 1024))
        #expect(throws: AuthError.self) { try Credentials.validateNewPassword("1234567") }
        #expect(throws: AuthError.self) { try Credentials.validateNewPassword(String(repeating: "é", count: 513)) }
    }
}
