import Foundation
import Logging
import NIOCore
import Testing

@testable import AuthCore
@testable import AuthHTTP

/// The hot responses write their own JSON; it must be what `JSONEncoder` would have written.
@Suite("Response bodies that write their own JSON")
struct DirectJSONTests {
    private func encoderBytes(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return Array(try encoder.encode(value))
    }

    private func body(of response: HTTPResponse) -> [UInt8] {
        response.body.map { Array($0.readableBytesView) } ?? []
    }

    @Test(arguments: ["alice", "zoë/\"quoted\"\\back", "日本語 😀", ""])
    func theyAreByteForByteWhatJSONEncoderWrites(_ text: String) throws {
        let pair = TokenPair(accessToken: "a.b.c-\(text)", refreshToken: "r/\(text)", expiresIn: 900)
        let me = SessionController.MeBody(username: text, sessionId: "s-\(text)", expiresAt: 1_700_000_000)
        #expect(me.json == (try self.encoderBytes(me)))
        for body in [
            TokenController.TokenBody(pair), TokenController.TokenBody(pair, style: .oauth),
            TokenController.TokenBody(pair, includingRefreshToken: false),
        ] {
            #expect(body.json == (try self.encoderBytes(body)))
        }
        #expect(
            String(decoding: TokenController.TokenBody(pair, style: .oauth).json, as: UTF8.self).hasPrefix(
                #"{"access_token":"#))
        // And the responses use them.
        #expect(self.body(of: .json(me)) == me.json)
        #expect(self.body(of: .tokens(TokenController.TokenBody(pair))) == TokenController.TokenBody(pair).json)
    }

    @Test func controlCharactersAreEscapedAndReadBack() throws {
        let name = "tab\t nl\n nul\u{0} del\u{7f}"
        let me = SessionController.MeBody(username: name, sessionId: "s", expiresAt: -1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(me.json)) as? [String: Any])
        #expect(object["username"] as? String == name)
        #expect(object["expiresAt"] as? Int == -1)
    }

    @Test(arguments: [
        #"{"token":"abc"}"#, #" { "token" : "a\u00e9\n\"" } "#, #"{"token":"x","extra":[1,{"a":null}]}"#,
        #"{"token":1}"#, #"{"token":null}"#, "{}", #"{"token":"x","token":"y"}"#, "[]", #"{"token":"x"} x"#,
        #"{"token":"x","deep":[[[[[[[[[[1]]]]]]]]]]}"#,
    ])
    func theRefreshBodyReadsWhatJSONDecoderReadsAndNothingElse(_ text: String) {
        let request = HTTPRequest(
            method: .POST, uri: "/token", headers: [:], body: ByteBuffer(string: text), logger: Logger(label: "test"))
        let direct = try? request.decodeJSON(TokenController.RefreshBody.self)
        let general = try? JSONDecoder().decode(TokenController.RefreshBody.self, from: Data(text.utf8))
        if text.contains(#""token":"x","token""#) {
            #expect(direct == nil, "duplicate names are refused")
        } else {
            #expect(direct?.token == general?.token)
        }
    }
}
