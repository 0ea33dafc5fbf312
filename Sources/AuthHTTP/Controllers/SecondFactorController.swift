import AuthCore
import WireJSON

/// Second factors (docs/SECOND-FACTOR.md): the login's second step, and the caller's own factor:
/// its state, enrolment and confirmation, step-up and removal.
struct SecondFactorController: Sendable {
    let auth: AuthService
    let authenticator: BearerAuthenticator
    /// For the token response of a completed login (the refresh cookie of browsers).
    let tokens: TokenController

    func register(in router: inout Router) {
        let authenticated = self.authenticator
        router.add(.POST, "/login/mfa") { try await self.completeLogin($0) }
        router.add(.GET, "/mfa", authenticated { try await self.status($0, $1) })
        router.add(.DELETE, "/mfa", authenticated { try await self.remove($0, $1) })
        router.add(.POST, "/mfa/totp", authenticated { try await self.enrol($0, $1) })
        router.add(.POST, "/mfa/totp/confirm", authenticated { try await self.confirm($0, $1) })
        router.add(.POST, "/mfa/step-up", authenticated { try await self.stepUp($0, $1) })
    }

    /// `POST /login/mfa {"mfa_token", "code" | "recovery_code"}`: the pair, as `POST /login` gives it.
    func completeLogin(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try request.decodeJSON(ChallengeBody.self)
        let key = try await self.tokens.dpop.tokenRequestKey(request)
        let pair = try await self.auth.completeLogin(challenge: body.token, with: body.answer.answer, boundKey: key)
        return self.tokens.tokenResponse(pair, to: request)
    }

    /// `GET /mfa`: whether the caller has a factor, and how many recovery codes are left.
    func status(_ request: HTTPRequest, _ principal: Principal) async throws -> HTTPResponse {
        let status = try await self.auth.factorStatus(of: principal)
        var writer = JSONObjectWriter()
        writer.add("recovery_codes_left", status.recoveryCodesLeft)
        writer.add("totp", status.state.rawValue)
        return .json(PrewrittenJSON(json: writer.finish()))
    }

    /// `POST /mfa/totp {"password"}`: a new secret, to confirm with its first code.
    func enrol(_ request: HTTPRequest, _ principal: Principal) async throws -> HTTPResponse {
        let body = try request.decodeJSON(PasswordBody.self)
        let enrolment = try await self.auth.beginEnrolment(
            of: principal, password: body.password, client: .init(request))
        var writer = JSONObjectWriter()
        writer.add("expires_in", enrolment.expiresIn)
        writer.add("otpauth_uri", enrolment.uri)
        writer.add("secret", enrolment.secret)
        return .tokens(PrewrittenJSON(json: writer.finish()))
    }

    /// `POST /mfa/totp/confirm {"code"}`: the factor is active; the recovery codes, shown once.
    func confirm(_ request: HTTPRequest, _ principal: Principal) async throws -> HTTPResponse {
        let body = try request.decodeJSON(CodeBody.self)
        let codes = try await self.auth.confirmEnrolment(of: principal, code: body.code)
        var writer = JSONObjectWriter()
        writer.add("recovery_codes", codes)
        return .tokens(PrewrittenJSON(json: writer.finish()))
    }

    /// `POST /mfa/step-up {"code" | "recovery_code"}`: a new access token whose `amr` says `otp`.
    func stepUp(_ request: HTTPRequest, _ principal: Principal) async throws -> HTTPResponse {
        let body = try request.decodeJSON(AnswerBody.self)
        let (token, expiresIn) = try await self.auth.stepUp(principal, with: body.answer)
        var writer = JSONObjectWriter(capacity: 96 + token.utf8.count)
        writer.add("accessToken", token)
        writer.add("expiresIn", expiresIn)
        writer.add("tokenType", TokenPair.tokenType(boundKey: principal.boundKey))
        return .tokens(PrewrittenJSON(json: writer.finish()))
    }

    /// `DELETE /mfa {"code" | "recovery_code"}`: the factor is gone, and the user's other sessions.
    func remove(_ request: HTTPRequest, _ principal: Principal) async throws -> HTTPResponse {
        let body = try request.decodeJSON(AnswerBody.self)
        try await self.auth.removeFactor(of: principal, with: body.answer)
        return .noContent
    }
}

extension SecondFactorController {
    /// `{"code"}` or `{"recovery_code"}`: exactly one, each of a bounded length.
    struct AnswerBody: JSONRequestBody {
        var answer: FactorAnswer

        init(fields: JSONFields) throws(HTTPError) {
            switch (try fields.string("code"), try fields.string("recovery_code")) {
            case (let code?, nil):
                guard code.utf8.count <= 16 else { throw .badRequest("code: at most 16 characters") }
                self.answer = .code(code)
            case (nil, let code?):
                guard code.utf8.count <= 32 else { throw .badRequest("recovery_code: at most 32 characters") }
                self.answer = .recoveryCode(code)
            case (nil, nil): throw .badRequest("give 'code' (from the authenticator) or 'recovery_code'")
            case (_?, _?): throw .badRequest("give one of 'code' and 'recovery_code', not both")
            }
        }
    }

    struct ChallengeBody: JSONRequestBody {
        var token: String
        var answer: AnswerBody

        init(fields: JSONFields) throws(HTTPError) {
            self.token = try fields.requiredString("mfa_token")
            self.answer = try AnswerBody(fields: fields)
        }
    }

    struct CodeBody: JSONRequestBody {
        var code: String

        init(fields: JSONFields) throws(HTTPError) {
            self.code = try fields.requiredString("code")
            guard self.code.utf8.count <= 16 else { throw .badRequest("code: at most 16 characters") }
        }
    }

    struct PasswordBody: JSONRequestBody {
        var password: String

        init(fields: JSONFields) throws(HTTPError) {
            self.password = try fields.requiredString("password")
        }
    }
}
