import AuthCore
import WireJSON

/// The probes load balancers and orchestrators call: `GET /healthz` (the process answers) and
/// `GET /readyz` (Redis answers and has every script loaded; 503 otherwise).
struct ProbeController: Sendable {
    let auth: AuthService

    func register(in router: inout Router) {
        router.add(.GET, "/healthz") { _ in Self.healthyResponse }
        router.add(.GET, "/readyz") { _ in
            try await self.auth.checkReadiness()
            return Self.readyResponse
        }
    }

    /// The constant answers, encoded once: load balancers call them often.
    private static let healthyResponse = HTTPResponse.json(Self.status("ok"))
    private static let readyResponse = HTTPResponse.json(Self.status("ready"))

    private static func status(_ status: String) -> PrewrittenJSON {
        var writer = JSONObjectWriter()
        writer.add("status", status)
        return PrewrittenJSON(json: writer.finish())
    }
}
