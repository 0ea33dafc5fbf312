import Foundation
import TestSupport
import Testing

@Suite("docs/openapi.yaml")
struct OpenAPITests {
    @Test func describesExactlyTheRoutesTheServerAnswers() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            let text = try String(
                contentsOf: repositoryRoot.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8
            )
            // Paths are the two-space-indented keys under `paths:`, methods the four-space ones.
            var documented: [String] = []
            var path: String?
            var inPaths = false
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                if line == "paths:" {
                    inPaths = true
                } else if inPaths, line.hasPrefix("  /"), line.hasSuffix(":") {
                    path = String(line.dropFirst(2).dropLast())
                } else if inPaths, let current = path, line.hasPrefix("    "), !line.hasPrefix("     "),
                    let method = ["get", "post", "put", "delete", "patch"].first(where: { line == "    \($0):" })
                {
                    documented.append("\(method.uppercased()) \(current)")
                }
            }
            #expect(documented.sorted() == app.application.routes)
        }
    }
}
