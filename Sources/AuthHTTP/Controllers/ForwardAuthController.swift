import AuthCore
import NIOHTTP1

/// `/forward-auth`: the question a gateway asks before each request it passes on (nginx
/// `auth_request`, Caddy `forward_auth`, Traefik `forwardAuth`, Envoy `ext_authz`), answered as
/// `GET /me` is, through the verify cache when it is on.
///
/// - 200 with the identity headers of oauth2-proxy (`X-Auth-Request-User` and the like, always all
///   of them, empty when there is nothing to say), for the gateway to copy to the app;
/// - 401 with the RFC 6750 challenge: no token, a bad, expired or revoked one;
/// - 403 with `insufficient_scope` when the location requires a role (`allowed_roles`, any of
///   them) the session does not hold now;
/// - 401 with RFC 9470's `insufficient_user_authentication` when the location requires a second
///   factor (`mfa=1`) or an authentication within so many seconds (`max_age=300`) and the token
///   shows neither: the app sends the user to step up (`POST /mfa/step-up`);
/// - 503 when Redis cannot be asked: closed, never open.
///
/// Every method is answered alike, and the body is ignored.
struct ForwardAuthController: Sendable {
    static let path = "/forward-auth"

    /// The identity headers, in the order they are written. Gateway configs copy these and strip a
    /// client's own copies of them (`deploy/gateways/`).
    enum Identity {
        static let user = "X-Auth-Request-User"
        static let preferredUsername = "X-Auth-Request-Preferred-Username"
        /// The session's roles, comma-separated, as oauth2-proxy's groups.
        static let groups = "X-Auth-Request-Groups"
        static let sessionID = "X-Auth-Request-Session-Id"
        /// When the access token expires, in seconds since 1970.
        static let expires = "X-Auth-Request-Expires"
    }

    let authenticator: BearerAuthenticator

    func register(in router: inout Router) {
        router.addForEveryMethod(at: Self.path) { try await self.check($0) }
    }

    func check(_ request: HTTPRequest) async throws -> HTTPResponse {
        let allowedRoles = try ForwardedRequest.allowedRoles(of: request, under: Self.path)
        let assurance = try ForwardedRequest.requiredAssurance(of: request, under: Self.path)
        let principal = try await self.authenticator.principal(
            of: request, target: ForwardedRequest.target(of: request, under: Self.path))
        try assurance.check(principal.assurance, now: self.authenticator.auth.now)
        if !allowedRoles.isEmpty, !principal.roles.contains(where: allowedRoles.contains) {
            if request.logger.logLevel <= .debug {
                let asked = ForwardedRequest.original(of: request, under: Self.path)
                request.logger.debug(
                    "forward auth: role missing",
                    metadata: ["method": "\(asked.method)", "path": "\(asked.path)", "user": "\(principal.username)"])
            }
            let description =
                allowedRoles.count == 1
                ? "the role \(allowedRoles[0]) is required"
                : "one of the roles \(allowedRoles.joined(separator: ", ")) is required"
            throw HTTPError.insufficientScope(description)
        }
        return HTTPResponse(
            status: .ok,
            headers: [
                Identity.user: principal.username,
                Identity.preferredUsername: principal.username,
                Identity.groups: principal.roles.joined(separator: ","),
                Identity.sessionID: principal.sessionID,
                Identity.expires: String(principal.expiresAt),
                // An answer for this request only: no cache may keep it past a revocation.
                "cache-control": "no-store",
            ])
    }
}

/// What a gateway asks about: the roles the location requires, and the client's original method
/// and URI.
///
/// - nginx (`auth_request`): `X-Original-Method` and `X-Original-URI`, as the shipped config sets
///   them; Caddy and Traefik: `X-Forwarded-Method` and `X-Forwarded-Uri`. The location's roles are
///   the auth URL's query, `?allowed_roles=admin,ops`.
/// - Envoy (`ext_authz`, HTTP service) keeps the method and appends the original path to its
///   `path_prefix`: `/forward-auth/app/page?x=1`. Its roles are a first segment of the prefix,
///   `/forward-auth/allowed_roles=admin,ops`, since the query there is the client's.
///
/// The method and path go to the debug log only (a query may carry secrets, so it never does), and
/// are read only for it: the allowed check reads nothing it does not need.
enum ForwardedRequest {
    private static let requirement = "/allowed_roles="

    /// Any one of these is enough; none: any live session is.
    static func allowedRoles(of request: HTTPRequest, under base: String) throws(HTTPError) -> [String] {
        let listed: Substring?
        if request.path == base {
            listed = try Self.queryValue("allowed_roles", in: request.query)
        } else {
            let rest = request.path.dropFirst(base.count)
            listed =
                rest.hasPrefix(Self.requirement)
                ? rest.dropFirst(Self.requirement.count).prefix(while: { $0 != "/" }) : nil
        }
        guard let listed else { return [] }
        var roles: [String] = []
        for role in listed.split(separator: ",") {
            do {
                roles.append(try Roles.canonical(String(role)))
            } catch {
                throw .badRequest("allowed_roles: '\(role.prefix(64))' is no role name")
            }
        }
        return roles
    }

    /// What the location asks of the user's authentication: `mfa=1`, `max_age=SECONDS`, in the
    /// auth URL's query.
    static func requiredAssurance(of request: HTTPRequest, under base: String) throws(HTTPError)
        -> AssuranceRequirement
    {
        guard request.path == base else { return AssuranceRequirement() }
        var requirement = AssuranceRequirement()
        switch try Self.queryValue("mfa", in: request.query) {
        case nil, "0", "false": break
        case "1", "true": requirement.secondFactor = true
        case let other?: throw .badRequest("mfa: '\(other.prefix(16))' is neither 1 nor 0")
        }
        if let raw = try Self.queryValue("max_age", in: request.query) {
            guard raw.utf8.count <= 9, let seconds = Int(raw), seconds >= 0 else {
                throw .badRequest("max_age: seconds, 0 to 999999999")
            }
            requirement.maxAge = seconds
        }
        return requirement
    }

    /// The original method and the original URI's path.
    static func original(of request: HTTPRequest, under base: String) -> (method: String, path: String) {
        var uri: Substring
        if request.path == base {
            uri = Substring(
                request.headers.first(name: "x-forwarded-uri") ?? request.headers.first(name: "x-original-uri") ?? "/")
        } else {
            uri = request.path.dropFirst(base.count)
            if uri.hasPrefix(Self.requirement) {
                uri = uri.dropFirst(Self.requirement.count).drop(while: { $0 != "/" })
            }
            if uri.isEmpty { uri = "/" }
        }
        let method =
            request.headers.first(name: "x-forwarded-method") ?? request.headers.first(name: "x-original-method")
            ?? request.method.rawValue
        return (method, String(uri.prefix(while: { $0 != "?" })))
    }

    /// The request a DPoP proof sent through the gateway is for: the original method, and the
    /// original URI as the client addressed it, from `X-Forwarded-Proto` and `X-Forwarded-Host`
    /// (the gateway's, or else `https` and this request's `Host`) and the original path.
    static func target(of request: HTTPRequest, under base: String) -> DPoPTarget {
        let (method, path) = Self.original(of: request, under: base)
        let scheme = request.headers.first(name: "x-forwarded-proto") ?? "https"
        let host = request.headers.first(name: "x-forwarded-host") ?? request.headers.first(name: "host") ?? ""
        return DPoPTarget(method: method, uri: scheme + "://" + host + path)
    }

    /// The first value of `name` in a query string, percent-decoded; `nil` when absent.
    private static func queryValue(_ name: String, in query: String?) throws(HTTPError) -> Substring? {
        guard let query else { return nil }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts[0] == name else { continue }
            guard let value = FormBody.percentDecode(parts.count == 2 ? String(parts[1]) : "") else {
                throw .badRequest("\(name) is not validly percent-encoded")
            }
            return Substring(value)
        }
        return nil
    }
}

/// What a gateway location asks of how the user authenticated.
struct AssuranceRequirement: Sendable {
    var secondFactor = false
    var maxAge: Int?

    /// Throws RFC 9470's challenge (401 `insufficient_user_authentication`, with `max_age` when one
    /// was asked) unless `assurance` meets this.
    func check(_ assurance: Assurance, now: Int) throws(HTTPError) {
        var missing: String?
        if self.secondFactor, !assurance.hasSecondFactor {
            missing = "a second factor is required"
        } else if let maxAge = self.maxAge, assurance.authTime == 0 || now - assurance.authTime > maxAge {
            missing = "an authentication within \(maxAge) s is required"
        }
        guard let missing else { return }
        throw HTTPError.insufficientUserAuthentication(missing, maxAge: self.maxAge)
    }
}
