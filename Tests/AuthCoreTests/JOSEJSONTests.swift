import Crypto
import Foundation
import Testing

@testable import AuthCore

@Suite("The JSON of JOSE headers and claims")
struct JOSEJSONTests {
    @Test func readsStringsIntegersAndStringArraysAndKeepsOthersOpaque() throws {
        let json =
            #" { "a" : "x\"\\\/\u00e9\ud83d\ude00\n", "n": -42, "big": 99999999999999999999, "f": 1.5, "e": 1e3,"#
            + #" "l": ["p", "q"], "m": [1, "q"], "o": {"k": [true, false, null]}, "z": [] } "#
        let members = try #require(JOSEJSON.object(Array(json.utf8)))
        let values = Dictionary(uniqueKeysWithValues: members.map { ($0.name, $0.value) })
        #expect(values["a"] == .string("x\"\\/é😀\n"))
        #expect(values["n"] == .integer(-42))
        #expect(values["big"] == .other)
        #expect(values["f"] == .other)
        #expect(values["e"] == .other)
        #expect(values["l"] == .strings(["p", "q"]))
        #expect(values["m"] == .other)
        #expect(values["o"] == .other)
        #expect(values["z"] == .strings([]))
        #expect(members.map(\.name) == ["a", "n", "big", "f", "e", "l", "m", "o", "z"])
    }

    @Test(arguments: [
        "", "[]", "\"s\"", "{", "{\"a\":1,}", "{\"a\":1}x", "{\"a\":1}{}", "{\"a\" 1}", "{a:1}", "{\"a\":01}",
        "{\"a\":-}", "{\"a\":1.}", "{\"a\":1e}", "{\"a\":+1}", "{\"a\":tru}", "{\"a\":\"\u{1}\"}",
        "{\"a\":\"\\x\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\\u+041\"}", "{\"a\":\"open}",
        "{\"a\":1,\"a\":2}", "{\"a\":[1,]}",
        "{\"a\":" + String(repeating: "[", count: 9) + String(repeating: "]", count: 9) + "}",
    ])
    func refusesWhatIsNotOneObjectWithUniqueNames(_ text: String) {
        #expect(JOSEJSON.object(Array(text.utf8)) == nil)
    }

    @Test func refusesInvalidUTF8() {
        #expect(
            JOSEJSON.object([
                UInt8(ascii: "{"), UInt8(ascii: "\""), 0xC3, 0x28, UInt8(ascii: "\""), UInt8(ascii: ":"),
                UInt8(ascii: "1"), UInt8(ascii: "}"),
            ]) == nil)
    }

    @Test func theWriterEscapesWhatJSONRequiresAndTheReaderReadsItBack() throws {
        let nasty = "quote\" back\\ nl\n tab\t nul\u{0} bell\u{7} é 😀"
        var writer = JSONObjectWriter()
        writer.add("s", nasty)
        writer.add("i", -7)
        let bytes = writer.finish()
        let foundation = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(foundation["s"] as? String == nasty)
        let members = try #require(JOSEJSON.object(bytes))
        #expect(members.map(\.value) == [.string(nasty), .integer(-7)])
    }

    @Test func theEightByteCheckFindsExactlyTheBytesThatNeedAnEscape() {
        let special: [UInt8] = [0x00, 0x01, 0x1F, 0x22, 0x5C]
        let plain: [UInt8] = [0x20, 0x21, 0x23, 0x41, 0x5B, 0x5D, 0x7F, 0x80, 0xA2, 0xDC, 0xFF]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            var bytes = (0..<8).map { _ in plain.randomElement(using: &generator)! }
            if Bool.random(using: &generator) {
                bytes[Int.random(in: 0..<8, using: &generator)] = special.randomElement(using: &generator)!
            }
            let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            let expected = bytes.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }
            #expect(JOSEJSON.mayNeedEscape(word) == expected, "\(bytes)")
        }
        // Every byte value at every position among plain letters.
        for byte in UInt8.min...UInt8.max {
            for position in 0..<8 {
                var bytes = [UInt8](repeating: 0x41, count: 8)
                bytes[position] = byte
                let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                #expect(JOSEJSON.mayNeedEscape(word) == (byte < 0x20 || byte == 0x22 || byte == 0x5C), "\(bytes)")
            }
        }
    }

    @Test func escapesAreFoundAtEveryOffsetOfLongStrings() throws {
        for special in ["\"", "\\", "\n", "\u{1}", "é"] {
            for offset in 0..<20 {
                let text = String(repeating: "a", count: offset) + special + String(repeating: "b", count: 19 - offset)
                var writer = JSONObjectWriter()
                writer.add("s", text)
                let bytes = writer.finish()
                let foundation = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
                #expect(foundation["s"] as? String == text)
                #expect(JOSEJSON.object(bytes)?.first?.value == .string(text))
            }
        }
    }

    @Test func claimsRoundTripAndAreReadLikeJSONDecoderReadsThem() throws {
        let claims = TokenClaims(
            iss: "authd", sub: "zoë \"quoted\"", aud: "api", clientID: "c\\1", iat: 1_700_000_000, exp: 1_700_000_900,
            jti: "j", sid: "s", tokenUse: .refresh)
        #expect(TokenClaims(json: claims.json) == claims)
        #expect(try JSONDecoder().decode(TokenClaims.self, from: Data(claims.json)) == claims)
        #expect(TokenClaims(json: Array(try JSONEncoder().encode(claims))) == claims)
    }

    @Test func claimsOfTheWrongTypeOrMissingAreRefusedAndUnknownOnesIgnored() throws {
        let base: [String: Any] = [
            "iss": "authd", "sub": "a", "aud": "authd", "client_id": "c", "iat": 1, "exp": 2, "jti": "j", "sid": "s",
            "token_use": "access",
        ]
        func read(_ object: [String: Any]) throws -> TokenClaims? {
            TokenClaims(json: Array(try JSONSerialization.data(withJSONObject: object)))
        }
        #expect(try read(base) != nil)
        #expect(try read(base.merging(["extra": ["nested": [1, 2]]]) { $1 }) != nil)
        for name in base.keys {
            #expect(try read(base.filter { $0.key != name }) == nil, "without \(name)")
        }
        #expect(try read(base.merging(["exp": "2"]) { $1 }) == nil)
        #expect(try read(base.merging(["exp": 2.5]) { $1 }) == nil)
        #expect(try read(base.merging(["aud": ["authd"]]) { $1 }) == nil)
        #expect(try read(base.merging(["token_use": "other"]) { $1 }) == nil)
    }
}
