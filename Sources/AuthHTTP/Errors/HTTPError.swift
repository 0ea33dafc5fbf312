import NIOHTTP1
import WireJSON

/// An error that already knows its response: status, standard error code and description, and
/// any headers it needs. Bodies follow RFC 6749 §5.2: `{"error", "error_description"}`.
public struct HTTPError: Error, Sendable {
    public var status: HTTPResponseStatus
    public var code: String
    public var description: String
    public var headers: HTTPHeaders
    /// Members of the body after `error` and `error_description`, by name, as JSON values, in the
    /// order written (the names' sorted order).
    public var members: [(name: String, json: [UInt8])]

    public init(
        _ status: HTTPResponseStatus, code: String, description: String, headers: HTTPHeaders = [:],
        members: [(name: String, json: [UInt8])] = []
    ) {
        self.status = status
        self.code = code
        self.description = description
        self.headers = headers
        self.members = members
    }

    public static func badRequest(_ description: String) -> HTTPError {
        HTTPError(.badRequest, code: "invalid_request", description: description)
    }

    /// 401 for a bearer-protected route, with the RFC 6750 `WWW-Authenticate` challenge.
    /// With no token at all, the challenge carries no error code (RFC 6750 §3.1).
    public static func unauthorized(_ code: String?, _ description: String) -> HTTPError {
        HTTPError(
            .unauthorized, code: code ?? "invalid_request", description: description,
            headers: ["www-authenticate": Self.bearerChallenge(code, description)]
        )
    }

    /// 403 `insufficient_scope` with its RFC 6750 §3.1 challenge: the token is good, but not for this.
    public static func insufficientScope(_ description: String) -> HTTPError {
        HTTPError(
            .forbidden, code: "insufficient_scope", description: description,
            headers: ["www-authenticate": Self.bearerChallenge("insufficient_scope", description)]
        )
    }

    /// 401 `insufficient_user_authentication` with its RFC 9470 §3 challenge: the token is good,
    /// but its user authenticated too weakly, or too long ago (`maxAge`, when one was asked).
    public static func insufficientUserAuthentication(_ description: String, maxAge: Int?) -> HTTPError {
        var challenge = Self.bearerChallenge("insufficient_user_authentication", description)
        if let maxAge { challenge += ", max_age=\(maxAge)" }
        return HTTPError(
            .unauthorized, code: "insufficient_user_authentication", description: description,
            headers: ["www-authenticate": challenge])
    }

    /// 401 for a route that takes DPoP-bound tokens (RFC 9449 §7.1): the `DPoP` challenge with the
    /// proof algorithms, and the error when there is one.
    public static func dpopUnauthorized(_ code: String?, _ description: String, algorithms: [String]) -> HTTPError {
        let challenge = Self.challenge("DPoP algs=\"\(algorithms.joined(separator: " "))\"", code, description)
        return HTTPError(
            .unauthorized, code: code ?? "invalid_request", description: description,
            headers: ["www-authenticate": challenge])
    }

    private static func bearerChallenge(_ code: String?, _ description: String) -> String {
        Self.challenge("Bearer realm=\"authd\"", code, description)
    }

    /// A `WWW-Authenticate` challenge: the scheme and its parameters, then the error, if any.
    private static func challenge(_ scheme: String, _ code: String?, _ description: String) -> String {
        guard let code else { return scheme }
        return scheme + ", error=\"\(code)\", error_description=\"\(description)\""
    }

    var response: HTTPResponse {
        var response = HTTPResponse.json(
            ErrorBody(error: self.code, errorDescription: self.description, members: self.members), status: self.status)
        response.headers.add(contentsOf: self.headers)
        return response
    }
}

struct ErrorBody: JSONResponseBody {
    var error: String
    var errorDescription: String
    var members: [(name: String, json: [UInt8])] = []

    var json: [UInt8] {
        var writer = JSONObjectWriter(capacity: 48 + self.error.utf8.count + self.errorDescription.utf8.count)
        writer.add("error", self.error)
        writer.add("error_description", self.errorDescription)
        for member in self.members { writer.add(member: member.name, json: member.json) }
        return writer.finish()
    }
}
