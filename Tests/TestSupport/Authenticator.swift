import Foundation

/// An authenticator app nobody here wrote: Debian's `oathtool` (OATH Toolkit), which
/// `scripts/test` installs. The tests take their TOTP codes from it, never from authd's code.
public struct Authenticator: Sendable {
    /// The base32 secret, as the enrolment answer gives it.
    public let secret: String

    public init(secret: String) {
        self.secret = secret
    }

    /// The 6-digit code at `time` (unix seconds).
    public func code(at time: Int) async throws -> String {
        let (status, output) = try await runTool(
            ["oathtool", "--totp", "--base32", "--digits=6", "--now=@\(time)", self.secret], errors: true,
            within: .seconds(30))
        let code = output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard status == 0, code.count == 6, code.allSatisfy(\.isNumber) else {
            throw TestFailure("oathtool failed (\(status)): \(output)")
        }
        return code
    }
}
