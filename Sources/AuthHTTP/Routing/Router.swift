import Logging
import NIOHTTP1

/// Maps a method and an exact path to an async handler. Unknown paths get 404, known paths with
/// another method 405 with `Allow`; a handler's error goes through ``ErrorResponder``.
public struct Router: Sendable {
    public typealias Handler = @Sendable (HTTPRequest) async throws -> HTTPResponse

    /// Path, then method name.
    private var routes: [String: [String: Handler]] = [:]

    public init() {}

    public mutating func add(_ method: HTTPMethod, _ path: String, _ handler: @escaping Handler) {
        self.routes[path, default: [:]][method.rawValue] = handler
    }

    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        guard let byMethod = self.routes[request.path] else {
            return HTTPError(.notFound, code: "not_found", description: "no such endpoint").response
        }
        guard let handler = byMethod[request.method.rawValue] else {
            let allowed = byMethod.keys.sorted().joined(separator: ", ")
            return HTTPError(
                .methodNotAllowed, code: "method_not_allowed",
                description: "\(request.method.rawValue) is not allowed here",
                headers: ["allow": allowed]
            ).response
        }
        do {
            return try await handler(request)
        } catch {
            return ErrorResponder.response(for: error, logger: request.logger)
        }
    }
}
