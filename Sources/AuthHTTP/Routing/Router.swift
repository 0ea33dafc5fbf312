import Logging
import NIOHTTP1

/// Maps a method and a path to an async handler. A path's last segment may be a parameter
/// (`/sessions/:id`). Unknown paths get 404, known paths with another method 405 with `Allow`;
/// a handler's error goes through ``ErrorResponder``.
public struct Router: Sendable {
    public typealias Handler = @Sendable (HTTPRequest) async throws -> HTTPResponse

    /// Exact paths, then method name.
    private var routes: [String: [String: Handler]] = [:]
    /// Paths ending in a parameter: the prefix before it (`/sessions/`), the parameter's name,
    /// then method name.
    private var parameterized: [String: (name: String, handlers: [String: Handler])] = [:]

    public init() {}

    public mutating func add(_ method: HTTPMethod, _ path: String, _ handler: @escaping Handler) {
        if let colon = path.range(of: "/:") {
            let prefix = String(path[..<colon.lowerBound]) + "/"
            let name = String(path[colon.upperBound...])
            self.parameterized[prefix, default: (name, [:])].handlers[method.rawValue] = handler
        } else {
            self.routes[path, default: [:]][method.rawValue] = handler
        }
    }

    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        var request = request
        guard let byMethod = self.handlers(for: &request) else {
            return HTTPError(.notFound, code: "not_found", description: "no such endpoint").response
        }
        guard let handler = byMethod[request.method.rawValue] else {
            return HTTPError(
                .methodNotAllowed, code: "method_not_allowed",
                description: "\(request.method.rawValue) is not allowed here",
                headers: ["allow": byMethod.keys.sorted().joined(separator: ", ")]
            ).response
        }
        do {
            return try await handler(request)
        } catch {
            return ErrorResponder.response(for: error, logger: request.logger)
        }
    }

    private func handlers(for request: inout HTTPRequest) -> [String: Handler]? {
        if let exact = self.routes[request.path] { return exact }
        guard let slash = request.path.lastIndex(of: "/") else { return nil }
        let prefix = String(request.path[...slash])
        let value = request.path[request.path.index(after: slash)...]
        guard !value.isEmpty, let route = self.parameterized[prefix] else { return nil }
        request.parameters[route.name] = String(value)
        return route.handlers
    }
}
