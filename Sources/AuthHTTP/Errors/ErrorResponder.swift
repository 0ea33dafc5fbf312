import AuthCore
import Logging
import NIOHTTP1
import WireJSON

/// The one place where errors become responses. Anything unknown is a 500 whose body says nothing
/// of the cause; the cause goes to the log.
public enum ErrorResponder {
    /// How a route words the domain's errors. A route says which when it is added to the router.
    public enum Dialect: Sendable {
        case standard
        /// RFC 6749 §5.2, for the token endpoint: a wrong resource owner password is
        /// `invalid_grant` with 400, not 401, and `unauthorized_client` is 400 too (403 elsewhere).
        case oauth
    }

    static func response(for error: any Error, dialect: Dialect = .standard, logger: Logger) -> HTTPResponse {
        switch error {
        case let error as HTTPError:
            return error.response
        case AuthError.invalidCredentials where dialect == .oauth:
            return HTTPError(.badRequest, code: "invalid_grant", description: "invalid username or password").response
        case AuthError.unauthorizedClient(let description) where dialect == .oauth:
            return HTTPError(.badRequest, code: "unauthorized_client", description: description).response
        case let error as AuthError:
            return self.httpError(for: error).response
        case let refusal as HTTPConnectionStateMachine.Refusal:
            return self.httpError(for: refusal).response
        case let error as StoreUnavailableError:
            logger.warning("answering 503: store unavailable", metadata: ["reason": "\(error.reason)"])
            return HTTPError(
                .serviceUnavailable, code: "temporarily_unavailable",
                description:
                    "the token store did not answer, or did not confirm, in time; the same request may be retried",
                headers: ["retry-after": "1"]
            ).response
        case is CancellationError:
            // The client hung up, or the server is shutting down; nobody reads this answer.
            logger.debug("request cancelled")
            return HTTPError(
                .serviceUnavailable, code: "temporarily_unavailable", description: "the request was cancelled",
                headers: ["retry-after": "1"]
            ).response
        default:
            logger.error("answering 500: unexpected error", metadata: ["error": "\(String(reflecting: error))"])
            return HTTPError(.internalServerError, code: "server_error", description: "internal error").response
        }
    }

    /// A request the connection refused before any route saw it.
    private static func httpError(for refusal: HTTPConnectionStateMachine.Refusal) -> HTTPError {
        switch refusal {
        case .bodyTooLarge(let limit):
            HTTPError(.payloadTooLarge, code: "invalid_request", description: "the body is larger than \(limit) bytes")
        case .readTimeout:
            HTTPError(.requestTimeout, code: "invalid_request", description: "the request did not arrive in time")
        case .headersTooLarge:
            HTTPError(
                .init(statusCode: 431, reasonPhrase: "Request Header Fields Too Large"),
                code: "invalid_request", description: "request headers are too large")
        case .malformed:
            .badRequest("malformed HTTP request")
        case .connect:
            HTTPError(.notImplemented, code: "invalid_request", description: "CONNECT is not supported")
        case .host:
            .badRequest("an HTTP/1.1 request needs exactly one Host header")
        case .transferCoding:
            HTTPError(
                .notImplemented, code: "invalid_request", description: "only the chunked transfer coding is supported")
        case .expectation:
            HTTPError(
                .expectationFailed, code: "invalid_request", description: "only Expect: 100-continue is supported")
        }
    }

    private static func httpError(for error: AuthError) -> HTTPError {
        switch error {
        case .invalidRequest(let description):
            .badRequest(description)
        case .usernameTaken:
            HTTPError(.conflict, code: "username_taken", description: "that username is taken")
        case .signupDisabled:
            HTTPError(.forbidden, code: "signup_disabled", description: "sign-up is disabled on this server")
        case .invalidCredentials:
            HTTPError(.unauthorized, code: "invalid_grant", description: "invalid username or password")
        case .invalidGrant(let description):
            HTTPError(.badRequest, code: "invalid_grant", description: description)
        case .invalidToken(let description):
            .unauthorized("invalid_token", description)
        case .sessionNotFound:
            HTTPError(.notFound, code: "not_found", description: "no such session")
        case .throttled(let retryAfter, let attempts):
            HTTPError(
                .tooManyRequests, code: "too_many_requests",
                description: "too many \(attempts); try again in \(retryAfter) s",
                headers: ["retry-after": String(retryAfter)]
            )
        case .invalidClient:
            HTTPError(
                .unauthorized, code: "invalid_client", description: "client authentication failed",
                headers: ["www-authenticate": "Basic realm=\"authd\""])
        case .unauthorizedClient(let description):
            HTTPError(.forbidden, code: "unauthorized_client", description: description)
        case .invalidTarget(let description):
            HTTPError(.badRequest, code: "invalid_target", description: description)
        case .featureOff(let description):
            HTTPError(.notFound, code: "not_found", description: description)
        case .secondFactorRequired(let challenge, let expiresIn):
            // Auth0's answer to a password grant of a user with a factor: 403 `mfa_required` and a
            // token to complete it with (at `POST /login/mfa`). Never cached: it is half a login.
            HTTPError(
                .forbidden, code: "mfa_required",
                description: "a second factor is required: send mfa_token with a code to POST /login/mfa",
                headers: ["cache-control": "no-store"],
                members: [
                    ("expires_in", Array(String(expiresIn).utf8)),
                    ("mfa_token", Array(JSONString.quoted(challenge).utf8)),
                ])
        case .invalidCode:
            HTTPError(
                .badRequest, code: "invalid_grant", description: "the code is wrong, out of date or already used")
        case .factorState(let description):
            HTTPError(.conflict, code: "factor_state", description: description)
        case .invalidDPoPProof(let description):
            // RFC 9449 §5: a token request's proof fault. A protected route's is a 401 with the
            // DPoP challenge, which ``DPoPGuard`` answers itself.
            HTTPError(.badRequest, code: "invalid_dpop_proof", description: description)
        }
    }
}
