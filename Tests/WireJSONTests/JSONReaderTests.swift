import ASCIIDigits
import Foundation
import Testing

@testable import WireJSON

@Suite("The one JSON reader and writer")
struct JSONReaderTests {
    @Test func readsStringsIntegersStringArraysAndObjectsAndKeepsOthersOpaque() throws {
        let json =
            #" { "a" : "x\"\\\/\u00e9\ud83d\ude00\n", "n": -42, "big": 99999999999999999999, "f": 1.5, "e": 1e3,"#
            + #" "l": ["p", "q"], "m": [1, "q"], "o": {"k": [true, false, null]}, "z": [] } "#
        let members = try #require(JSONReader.object(Array(json.utf8)))
        let values = Dictionary(uniqueKeysWithValues: members.map { ($0.name, $0.value) })
        #expect(values["a"] == .string("x\"\\/é😀\n"))
        #expect(values["n"] == .integer(-42))
        #expect(values["big"] == .other)
        #expect(values["f"] == .other)
        #expect(values["e"] == .other)
        #expect(values["l"] == .strings(["p", "q"]))
        #expect(values["m"] == .other)
        #expect(values["o"] == .object(.init([("k", .other)])))
        let nested = try #require(JSONReader.object(Array(#"{"cnf":{"jkt":"abc","x":{"y":1}}}"#.utf8)))
        guard case .object(let cnf) = nested.first?.value else { Issue.record("no object"); return }
        #expect(cnf["jkt"] == .string("abc"))
        #expect(cnf["x"] == .object(.init([("y", .integer(1))])))
        #expect(cnf["none"] == nil)
        // Duplicates are refused in nested objects too.
        #expect(JSONReader.object(Array(#"{"jwk":{"x":"a","x":"b"}}"#.utf8)) == nil)
        #expect(values["z"] == .strings([]))
        #expect(members.map(\.name) == ["a", "n", "big", "f", "e", "l", "m", "o", "z"])
        let literals = try #require(JSONReader.object(Array(#"{"t":true,"f":false,"n":null}"#.utf8)))
        #expect(literals.map(\.value) == [.bool(true), .bool(false), .null])
    }

    @Test(arguments: [
        "", "[]", "\"s\"", "{", "{\"a\":1,}", "{\"a\":1}x", "{\"a\":1}{}", "{\"a\" 1}", "{a:1}", "{\"a\":01}",
        "{\"a\":-}", "{\"a\":1.}", "{\"a\":1e}", "{\"a\":+1}", "{\"a\":tru}", "{\"a\":\"\u{1}\"}",
        "{\"a\":\"\\x\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\\u+041\"}", "{\"a\":\"open}",
        "{\"a\":1,\"a\":2}", "{\"a\":[1,]}",
        "{\"a\":" + String(repeating: "[", count: 9) + String(repeating: "]", count: 9) + "}",
    ])
    func refusesWhatIsNotOneObjectWithUniqueNames(_ text: String) {
        #expect(JSONReader.object(Array(text.utf8)) == nil)
    }

    @Test func refusesInvalidUTF8() {
        #expect(
            JSONReader.object([
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
        let members = try #require(JSONReader.object(bytes))
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
            #expect(JSONReader.mayNeedEscape(word) == expected, "\(bytes)")
        }
        // Every byte value at every position among plain letters.
        for byte in UInt8.min...UInt8.max {
            for position in 0..<8 {
                var bytes = [UInt8](repeating: 0x41, count: 8)
                bytes[position] = byte
                let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                #expect(JSONReader.mayNeedEscape(word) == (byte < 0x20 || byte == 0x22 || byte == 0x5C), "\(bytes)")
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
                #expect(JSONReader.object(bytes)?.first?.value == .string(text))
            }
        }
    }

    @Test(arguments: [
        ("{\"a\":1,\"a\":2}", JSONReader.Failure.duplicateName("a")),
        // The same name spelled twice in two ways is still the same name.
        ("{\"a\":1,\"\\u0061\":2}", .duplicateName("a")),
        ("{\"a\":{\"b\":{\"c\":1}}}", .tooDeep),
        ("[1]", .notAnObject),
        ("\"s\"", .notAnObject),
        ("[1", .invalidJSON),
        ("{\"a\":1} x", .invalidJSON),
        ("", .invalidJSON),
    ])
    func wordsWhyBytesAreRefused(_ text: String, _ failure: JSONReader.Failure) {
        #expect(throws: failure) { try JSONReader.members(Array(text.utf8), maximumDepth: 2) }
    }

    @Test func invalidUTF8IsNamedBeforeAnyOtherFault() {
        // Outside a string, and inside one.
        #expect(throws: JSONReader.Failure.invalidUTF8) { try JSONReader.members([0xFF], maximumDepth: 4) }
        let inString: [UInt8] = Array("{\"a\":\"".utf8) + [0xC3, 0x28] + Array("\"}".utf8)
        #expect(throws: JSONReader.Failure.invalidUTF8) { try JSONReader.members(inString, maximumDepth: 4) }
    }

    @Test func manyNamesAreCheckedForDuplicatesWithoutTheirSquare() throws {
        // Past 16 names the check moves to a set; a repeat is found on either side of the switch.
        let names = (0..<5000).map { "\"k\($0)\":1" }
        let unique = Array(("{" + names.joined(separator: ",") + "}").utf8)
        #expect(try JSONReader.members(unique, maximumDepth: 2).count == 5000)
        for repeated in ["k3", "k4999"] {
            let bytes = Array(("{" + names.joined(separator: ",") + ",\"\(repeated)\":2}").utf8)
            #expect(throws: JSONReader.Failure.duplicateName(repeated)) {
                try JSONReader.members(bytes, maximumDepth: 2)
            }
            #expect(JSONReader.object(bytes) == nil)
        }
    }

    @Test func numbersPrintAsDecimalAcrossTheRange() {
        for value in [0, 7, 10, -1, 1_700_000_000, Int.max, Int.min] {
            var bytes: [UInt8] = []
            ASCIIDecimal.append(value, to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == String(value))
        }
        #expect(Hex.encode([0x00, 0x0F, 0xA5, 0xFF]) == "000fa5ff")
        #expect(JSONString.quoted("a\"b\\c\nd\u{1}") == #""a\"b\\c\nd\u0001""#)
    }
}
