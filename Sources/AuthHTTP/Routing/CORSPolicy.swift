import NIOHTTP1

/// Cross-origin requests from browsers (the Fetch standard's CORS protocol), off unless origins are
/// configured (`AUTHD_CORS_ORIGINS`). Origins are matched exactly, never by wildcard.
///
/// - A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) from an allowed
///   origin, for a method the route has, gets 204 with the route's methods, the headers a client
///   needs, and a `Max-Age`; from any other origin, 403 with no CORS headers.
/// - A request from an allowed origin gets `Access-Control-Allow-Origin` (and `Vary: Origin`), and
///   may read the headers clients need (`WWW-Authenticate`, `Retry-After`, `X-Request-Id`).
/// - A request from another origin gets no CORS headers, so the browser hides the answer from the
///   page; a state-changing one (anything but GET and HEAD) is refused with 403 before it runs.
public struct CORSPolicy: Sendable {
    public let origins: Set<String>
    /// How long a browser may cache a preflight's answer, in seconds.
    public var maxAge = 600
    /// Send `Access-Control-Allow-Credentials: true`, so that pages may send the refresh cookie
    /// (``RefreshCookie``); never with a wildcard origin, which this policy has not.
    public var allowCredentials = false

    static let allowedHeaders = "authorization, content-type, dpop, x-request-id"
    static let exposedHeaders = "dpop-nonce, www-authenticate, retry-after, x-request-id"

    /// Parses `https://app.example.com,http://localhost:3000`: each an origin (scheme, host and
    /// optional port, nothing more); `*` and `null` are refused. `nil` when one is not an origin.
    public init?(list: String) {
        var origins: Set<String> = []
        for entry in list.split(separator: ",") {
            let origin = entry.trimmingCharacters(in: .whitespaces).lowercased()
            guard Self.isOrigin(origin) else { return nil }
            origins.insert(origin)
        }
        guard !origins.isEmpty else { return nil }
        self.origins = origins
    }

    /// `scheme://host[:port]` as a browser serializes it: `http` or `https`; a host of letters,
    /// digits, `-` and `.` (or an IPv6 literal in brackets, returned without them); a port from 1 to
    /// 65535 without leading zeros. No percent-escapes, path, credentials or wildcards. Nil when
    /// `origin` is not one.
    static func parse(_ origin: String) -> (scheme: Substring, host: Substring)? {
        guard let schemeEnd = origin.range(of: "://"), ["http", "https"].contains(origin[..<schemeEnd.lowerBound])
        else { return nil }
        var rest = origin[schemeEnd.upperBound...]
        let host: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
            rest = rest[rest.index(after: close)...]
        } else {
            let end = rest.firstIndex(of: ":") ?? rest.endIndex
            host = rest[..<end]
            guard !host.isEmpty, !host.hasPrefix("."), !host.hasSuffix("."), !host.contains(".."),
                host.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" || $0 == "." })
            else { return nil }
            rest = rest[end...]
        }
        let scheme = origin[..<schemeEnd.lowerBound]
        guard !rest.isEmpty else { return (scheme, host) }
        guard rest.first == ":" else { return nil }
        let port = rest.dropFirst()
        guard !port.isEmpty, port.count <= 5, port.allSatisfy(\.isASCII), port.allSatisfy(\.isNumber),
            port.first != "0", let number = Int(port), (1...65535).contains(number)
        else { return nil }
        return (scheme, host)
    }

    static func isOrigin(_ origin: String) -> Bool { Self.parse(origin) != nil }

    /// Whether every origin is HTTPS, or plain HTTP on a loopback host (development): `localhost`,
    /// `127.x.x.x` or `[::1]`, that host exactly (not `localhost.example.com`).
    public var onlySecureOrigins: Bool {
        self.origins.allSatisfy { origin in
            guard let (scheme, host) = Self.parse(origin) else { return false }
            if scheme == "https" || host == "localhost" || host == "::1" { return true }
            let octets = host.split(separator: ".", omittingEmptySubsequences: false)
            return octets.count == 4 && octets[0] == "127"
                && octets.allSatisfy { !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isNumber) }
        }
    }

    func allows(_ origin: String) -> Bool {
        self.origins.contains(origin.lowercased())
    }

    /// The answer to a preflight for a route whose methods are `methods`.
    func preflight(origin: String, requestedMethod: String, methods: [String]) -> HTTPResponse {
        guard self.allows(origin), methods.contains(requestedMethod.uppercased()) else {
            return Self.refusal
        }
        var response = HTTPResponse(
            status: .noContent,
            headers: [
                "access-control-allow-origin": origin, "access-control-allow-methods": methods.joined(separator: ", "),
                "access-control-allow-headers": Self.allowedHeaders, "access-control-max-age": String(self.maxAge),
                "vary": "origin, access-control-request-method, access-control-request-headers",
            ])
        if self.allowCredentials { response.headers.add(name: "access-control-allow-credentials", value: "true") }
        return response
    }

    /// Adds the headers of an allowed origin to a response.
    func decorate(_ response: inout HTTPResponse, origin: String) {
        response.headers.add(name: "access-control-allow-origin", value: origin)
        response.headers.add(name: "vary", value: "origin")
        response.headers.add(name: "access-control-expose-headers", value: Self.exposedHeaders)
        if self.allowCredentials { response.headers.add(name: "access-control-allow-credentials", value: "true") }
    }

    static let refusal = HTTPError(
        .forbidden, code: "invalid_request", description: "this origin may not call authd"
    ).response
}
