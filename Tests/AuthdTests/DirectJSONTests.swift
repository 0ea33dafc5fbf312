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
        let me = MeBody(username: text, sessionId: "s-\(text)", expiresAt: 1_700_000_000)
        #expect(me.json == (try self.encoderBytes(me)))
        #expect(TokenBody(pair).json == (try self.encoderBytes(TokenBody(pair))))
        #expect(OAuthTokenBody(pair).json == (try self.encoderBytes(OAuthTokenBody(pair))))
        // And the responses use them.
        #expect(self.body(of: .json(me)) == me.json)
        #expect(self.body(of: .tokens(TokenBody(pair))) == TokenBody(pair).json)
    }

    @Test func controlCharactersAreEscapedAndReadBack() throws {
        let name = "tab\t nl\n nul\u{0} del\u{7f}"
        let me = MeBody(username: name, sessionId: "s", expiresAt: -1)
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
        let direct = try? request.decodeJSON(RefreshBody.self)
        let general = try? JSONDecoder().decode(RefreshBody.self, from: Data(text.utf8))
        if text.contains(#""token":"x","token""#) {
            #expect(direct == nil, "duplicate names are refused")
        } else {
            #expect(direct?.token == general?.token)
        }
    }
}
