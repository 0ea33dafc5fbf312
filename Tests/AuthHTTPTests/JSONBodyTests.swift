import Foundation
import JOSE
import Logging
import NIOCore
import Testing
import WireJSON

@testable import AuthCore
@testable import AuthHTTP

/// Every body is read by the one reader and written by the one writer; Foundation's parser is the
/// oracle for what the writer writes.
@Suite("Request and response bodies")
struct JSONBodyTests {
    /// The body's members as Foundation reads them, and their names in the order written.
    private func object(_ bytes: [UInt8]) throws -> (members: [String: Any], order: [String]) {
        let members = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        let names = try #require(JSONReader.object(bytes, maximumDepth: 4)).map(\.name)
        return (members, names)
    }

    @Test(arguments: ["alice", "zoë/\"quoted\"\\back", "日本語 😀", "", "tab\t nl\n nul\u{0} del\u{7f}"])
    func responsesAreValidJSONWithSortedMembers(_ text: String) throws {
        let pair = TokenPair(accessToken: "a.b.c-\(text)", refreshToken: "r/\(text)", expiresIn: 900)
        let me = try self.object(
            SessionController.MeBody(username: text, sessionId: "s-\(text)", expiresAt: -1, roles: [text, "b"]).json)
        #expect(me.members["roles"] as? [String] == [text, "b"])
        #expect(me.members["username"] as? String == text)
        #expect(me.members["expiresAt"] as? Int == -1)
        #expect(me.order == me.order.sorted())

        let tutorial = try self.object(TokenController.TokenBody(pair).json)
        #expect(tutorial.order == ["accessToken", "expiresIn", "refreshToken", "tokenType"])
        #expect(tutorial.members["refreshToken"] as? String == "r/\(text)")
        let oauth = try self.object(TokenController.TokenBody(pair, style: .oauth).json)
        #expect(oauth.order == ["access_token", "expires_in", "refresh_token", "token_type"])
        #expect(oauth.members["access_token"] as? String == "a.b.c-\(text)")
        let cookie = try self.object(TokenController.TokenBody(pair, includingRefreshToken: false).json)
        #expect(cookie.members["refreshToken"] == nil)

        let error = try self.object(ErrorBody(error: "invalid_request", errorDescription: text).json)
        #expect(error.order == ["error", "error_description"])
        #expect(error.members["error_description"] as? String == text)
    }

    @Test func nestedBodiesAreValidJSON() throws {
        let session = SessionController.SessionBody(
            SessionInfo(
                id: "s1", createdAt: 1, lastUsedAt: 2, expiresAt: 3, absoluteExpiresAt: 4,
                client: ClientInfo(userAgent: "agent \"x\"", ip: "::1")),
            current: true)
        let body = try self.object(session.json)
        #expect(body.order == body.order.sorted())
        #expect(body.members["current"] as? Bool == true)
        #expect(body.members["userAgent"] as? String == "agent \"x\"")

        var jwk = PublicJWK(kty: "EC", alg: "ES256", kid: "k1")
        jwk.crv = "P-256"
        jwk.x = "xx"
        jwk.y = "yy"
        let key = try self.object(jwk.json)
        #expect(key.order == ["alg", "crv", "kid", "kty", "use", "x", "y"])

        let inactive = try self.object(OAuthController.IntrospectionBody.inactive.json)
        #expect(inactive.order == ["active"])
        #expect(inactive.members["active"] as? Bool == false)

        let metadata = OAuthController.AuthorizationServerMetadata(
            issuer: "https://a", tokenEndpoint: "https://a/token", jwksURI: "https://a/jwks",
            revocationEndpoint: "https://a/revoke", introspectionEndpoint: "https://a/introspect",
            accessTokenAlgorithms: ["ES256", "HS256"])
        let read = try self.object(metadata.json)
        #expect(read.order == read.order.sorted())
        #expect(
            read.members["grant_types_supported"] as? [String] == ["client_credentials", "password", "refresh_token"])
        #expect(read.members["access_token_signing_alg_values_supported"] as? [String] == ["ES256", "HS256"])
    }

    private func read<T: JSONRequestBody>(_ text: String, as type: T.Type) -> Result<T, HTTPError> {
        let request = HTTPRequest(
            method: .POST, uri: "/", headers: [:], body: ByteBuffer(string: text), logger: Logger(label: "test"))
        return Result { () throws(HTTPError) in try request.decodeJSON(T.self) }
    }

    private func refusal<T: JSONRequestBody>(_ text: String, as type: T.Type) -> String? {
        guard case .failure(let error) = self.read(text, as: type) else { return nil }
        #expect(error.status == .badRequest)
        return error.description
    }

    @Test func requestBodiesAreReadOnceAndTheirFaultsNamed() throws {
        typealias Refresh = TokenController.RefreshBody
        typealias Credentials = TokenController.CredentialsBody
        #expect(try self.read(#" { "token" : "a\u00e9\n\"" } "#, as: Refresh.self).get().token == "aé\n\"")
        #expect(try self.read(#"{"token":"x","extra":[1,{"a":null}]}"#, as: Refresh.self).get().token == "x")
        #expect(self.refusal(#"{"token":1}"#, as: Refresh.self) == "field 'token' must be of type string")
        #expect(self.refusal(#"{"token":null}"#, as: Refresh.self) == "field 'token' must not be null")
        #expect(self.refusal("{}", as: Refresh.self) == "missing field 'token'")
        #expect(
            self.refusal(#"{"token":"x","token":"y"}"#, as: Refresh.self) == "field 'token' is given more than once")
        #expect(self.refusal("[]", as: Refresh.self) == "the body must be a JSON object")
        #expect(self.refusal(#"{"token":"x"} x"#, as: Refresh.self) == "the body is not valid JSON")
        #expect(self.refusal("", as: Refresh.self) == "the request needs a JSON body")
        let deep = #"{"token":"x","d":"# + String(repeating: "[", count: 17) + String(repeating: "]", count: 17) + "}"
        #expect(self.refusal(deep, as: Refresh.self) == "the body is nested deeper than 16 levels")

        let login = try self.read(#"{"name":"kyle","password":"pw","deviceToken":null}"#, as: Credentials.self).get()
        #expect(try login.requiredUsername() == "kyle")
        #expect(login.deviceToken == nil)
        #expect(self.refusal(#"{"username":"a"}"#, as: Credentials.self) == "missing field 'password'")
        #expect(
            self.refusal(#"{"username":true,"password":"p"}"#, as: Credentials.self)
                == "field 'username' must be of type string")
        #expect(
            self.refusal(#"{"username":"a","password":["p"]}"#, as: Credentials.self)
                == "field 'password' must be of type string")
        #expect(
            try self.read(#"{"token_type_hint":"access_token","token":"t"}"#, as: OAuthController.RevokeBody.self).get()
                .tokenTypeHint == "access_token")
    }
}
