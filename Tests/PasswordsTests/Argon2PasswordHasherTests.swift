import Passwords
import Testing

@Suite("Argon2id password hashing")
struct Argon2PasswordHasherTests {
    @Test func hashesAreSaltedPHCStringsThatVerify() async throws {
        let hasher = try Argon2PasswordHasher(concurrency: 2)
        let first = try await hasher.hash("correct horse")
        let second = try await hasher.hash("correct horse")
        #expect(first.hasPrefix("$argon2id$v=19$m=19456,t=2,p=1$"))
        #expect(first != second, "salted")
        #expect(try await hasher.verify("correct horse", against: first))
        #expect(try await !hasher.verify("correct horsE", against: first))
        #expect(try await !hasher.verify("correct horse", against: nil), "an unknown user never matches")
        #expect(try await !hasher.verify("x", against: "not a phc string"))
        try await hasher.shutdown()
    }

    @Test func sixtyFourConcurrentHashesAllFinish() async throws {
        var parameters = Argon2Parameters()
        parameters.memoryKiB = 1024
        parameters.iterations = 1
        let hasher = try Argon2PasswordHasher(parameters: parameters, concurrency: 2)
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<64 {
                group.addTask {
                    let hash = try await hasher.hash("password-\(index)")
                    return try await hasher.verify("password-\(index)", against: hash)
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.count == 64 && results.allSatisfy { $0 })
        try await hasher.shutdown()
    }
}
