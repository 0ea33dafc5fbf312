import CoreMetrics
import Logging
import MetricHandles
import NIOCore
import NIOHTTP1

/// Maps a method and a path to an async handler. A path's last segment may be a parameter
/// (`/sessions/:id`). Unknown paths get 404, known paths with another method 405 with `Allow`;
/// a handler's error goes through ``ErrorResponder``.
public struct Router: Sendable {
    public typealias Handler = @Sendable (HTTPRequest) async throws -> HTTPResponse

    /// A route's handler, and how its errors are worded.
    struct Route: Sendable {
        let handler: Handler
        let errors: ErrorResponder.Dialect
    }

    /// Exact paths, then method name.
    private var routes: [String: [String: Route]] = [:]
    /// Paths ending in a parameter: the prefix before it (`/sessions/`), the parameter's name,
    /// then method name.
    private var parameterized: [String: (name: String, handlers: [String: Route])] = [:]
    /// The pattern of each parameterized route, for metric labels.
    private var routeLabels: [String: String] = [:]
    /// Routes for gateways (``addForEveryMethod(at:_:)``): a path, answered for every method, there
    /// and below it.
    private var everyMethod: [(path: String, below: String, route: Route)] = []
    /// Cross-origin requests from browsers; `nil`: off, and `OPTIONS` gets 405 like any method
    /// a route lacks.
    public var cors: CORSPolicy?

    public init() {}

    /// Adds a route. A `GET` route answers `HEAD` too (RFC 9110 §9.3.2), with the same status and
    /// headers and no body (the response encoder drops it). Its errors go through
    /// ``ErrorResponder`` in the `errors` dialect.
    public mutating func add(
        _ method: HTTPMethod, _ path: String, errors: ErrorResponder.Dialect = .standard,
        _ handler: @escaping Handler
    ) {
        let route = Route(handler: handler, errors: errors)
        self.add(method.rawValue, path, route)
        if method == .GET { self.add("HEAD", path, route) }
    }

    /// Adds a route for gateways that ask on a client's behalf: it answers every method, at `path`
    /// and at every path below it (`path/...`, where a gateway such as Envoy appends the original
    /// path). CORS does not apply: the gateway's caller is the browser, not this route's.
    public mutating func addForEveryMethod(at path: String, _ handler: @escaping Handler) {
        self.everyMethod.append((path, path + "/", Route(handler: handler, errors: .standard)))
    }

    private mutating func add(_ method: String, _ path: String, _ route: Route) {
        if let colon = path.range(of: "/:") {
            let prefix = String(path[..<colon.lowerBound]) + "/"
            let name = String(path[colon.upperBound...])
            self.parameterized[prefix, default: (name, [:])].handlers[method] = route
            self.routeLabels[prefix] = path
        } else {
            self.routes[path, default: [:]][method] = route
        }
    }

    /// Every route as `METHOD /path` (parameters as `{name}`, as OpenAPI writes them), sorted;
    /// without the `HEAD` that every `GET` implies.
    public var routeList: [String] {
        var list: [String] = []
        for (path, byMethod) in self.routes {
            list += byMethod.keys.filter { $0 != "HEAD" }.map { "\($0) \(path)" }
        }
        for (prefix, route) in self.parameterized {
            list += route.handlers.keys.filter { $0 != "HEAD" }.map { "\($0) \(prefix){\(route.name)}" }
        }
        // Every method, listed (and documented) as GET, the method gateways send most.
        for (path, _, _) in self.everyMethod { list += ["GET \(path)", "GET \(path)/{path}"] }
        return list.sorted()
    }

    /// Answers a request and records `authd_http_requests_total` and
    /// `authd_http_request_duration_seconds`, labelled by route pattern (never the raw path, whose
    /// values are unbounded), method and status.
    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        let started = NIODeadline.now()
        var request = request
        let (route, response) = await self.dispatch(&request)
        RouteMetrics.record(
            route: route, method: request.method.rawValue, status: response.status.code,
            nanoseconds: (NIODeadline.now() - started).nanoseconds)
        return response
    }

    private func dispatch(_ request: inout HTTPRequest) async -> (route: String, HTTPResponse) {
        let path = request.path
        if let (label, _, route) = self.everyMethod.first(where: { path == $0.path || path.hasPrefix($0.below) }) {
            return (label, await Self.run(route, request))
        }
        guard let cors = self.cors else { return await self.route(&request) }
        guard let origin = request.headers.first(name: "origin") else {
            // The answer differs with the origin: a shared cache must not hand this copy, without
            // CORS headers, to a browser page (or the other way round).
            var (route, response) = await self.route(&request)
            response.headers.add(name: "vary", value: "origin")
            return (route, response)
        }
        if request.method == .OPTIONS, let wanted = request.headers.first(name: "access-control-request-method") {
            guard let (route, byMethod) = self.handlers(for: &request) else {
                return ("unmatched", CORSPolicy.refusal)
            }
            return (route, cors.preflight(origin: origin, requestedMethod: wanted, methods: byMethod.keys.sorted()))
        }
        guard cors.allows(origin) else {
            // The browser hides the answer from the page; a request that changes state must not
            // even run (a form or fetch from another origin can still send it).
            if request.method == .GET || request.method == .HEAD {
                var (route, response) = await self.route(&request)
                response.headers.add(name: "vary", value: "origin")
                return (route, response)
            }
            return ("forbidden_origin", CORSPolicy.refusal)
        }
        var (route, response) = await self.route(&request)
        cors.decorate(&response, origin: origin)
        return (route, response)
    }

    private func route(_ request: inout HTTPRequest) async -> (route: String, HTTPResponse) {
        guard let (route, byMethod) = self.handlers(for: &request) else {
            return ("unmatched", HTTPError(.notFound, code: "not_found", description: "no such endpoint").response)
        }
        guard let found = byMethod[request.method.rawValue] else {
            return (
                route,
                HTTPError(
                    .methodNotAllowed, code: "method_not_allowed",
                    description: "\(request.method.rawValue) is not allowed here",
                    headers: ["allow": byMethod.keys.sorted().joined(separator: ", ")]
                ).response
            )
        }
        return (route, await Self.run(found, request))
    }

    private static func run(_ route: Route, _ request: HTTPRequest) async -> HTTPResponse {
        do {
            return try await route.handler(request)
        } catch {
            return ErrorResponder.response(for: error, dialect: route.errors, logger: request.logger)
        }
    }

    private func handlers(for request: inout HTTPRequest) -> (route: String, handlers: [String: Route])? {
        if let exact = self.routes[request.path] { return (request.path, exact) }
        guard let slash = request.path.lastIndex(of: "/") else { return nil }
        let prefix = String(request.path[...slash])
        let value = request.path[request.path.index(after: slash)...]
        guard !value.isEmpty, let route = self.parameterized[prefix] else { return nil }
        request.parameters[route.name] = String(value)
        return (self.routeLabels[prefix] ?? prefix, route.handlers)
    }
}

/// The router's metric handles, made once per label set.
private enum RouteMetrics {
    private struct Key: Hashable {
        var route: String
        var method: String
        var status: UInt
    }

    private static let counters = MetricHandles<Key, Counter>()
    private static let timers = MetricHandles<String, Timer>()

    static func record(route: String, method: String, status: UInt, nanoseconds: Int64) {
        Self.counters(Key(route: route, method: method, status: status)) {
            Counter(
                label: "authd_http_requests_total",
                dimensions: [("route", route), ("method", method), ("status", String(status))]
            )
        }.increment()
        Self.timers(route) {
            Timer(label: "authd_http_request_duration_seconds", dimensions: [("route", route)])
        }.recordNanoseconds(nanoseconds)
    }
}
