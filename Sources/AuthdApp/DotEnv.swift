import Foundation

/// Reads a `.env` file: `KEY=value` lines, `#` comments, an optional `export `, and values in
/// single quotes (taken as is) or double quotes (with `\n`, `\"` and `\\` escapes).
public enum DotEnv {
    public static func parse(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, !key.contains(" ") else { continue }
            values[key] = Self.value(line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces))
        }
        return values
    }

    /// The lines that are neither `KEY=value`, a comment nor blank, by number: they are ignored,
    /// and start-up says so.
    public static func problems(_ text: String) -> [String] {
        var problems: [String] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let equals = line.firstIndex(of: "=") else {
                problems.append("line \(index + 1) has no '=' (KEY=value), and is ignored")
                continue
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            let valid =
                key.first.map { $0.isLetter || $0 == "_" } == true
                && key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            if !valid { problems.append("line \(index + 1): '\(key)' is no variable name, and the line is ignored") }
        }
        return problems
    }

    /// The file's text, or nil when it does not exist.
    public static func text(path: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let file = FileHandle(forReadingAtPath: path) else {
            throw CocoaError(.fileReadNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        defer { try? file.close() }
        let data = try file.readToEnd() ?? Data()
        guard let text = String(data: data, encoding: .utf8) else {
            throw CocoaError(.fileReadInapplicableStringEncoding, userInfo: [NSFilePathErrorKey: path])
        }
        return text
    }

    /// The file's values, or none when it does not exist. Read as a stream, so that a device or a
    /// pipe works too (`--env-file /dev/null`, `--env-file <(...)`).
    public static func load(path: String) throws -> [String: String] {
        try self.text(path: path).map(self.parse) ?? [:]
    }

    private static func value(_ raw: String) -> String {
        if raw.count >= 2, raw.hasPrefix("'"), let end = raw.dropFirst().firstIndex(of: "'") {
            return String(raw[raw.index(after: raw.startIndex)..<end])
        }
        if raw.hasPrefix("\"") {
            var result = ""
            var escaped = false
            for character in raw.dropFirst() {
                if escaped {
                    result.append(character == "n" ? "\n" : character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    return result
                } else {
                    result.append(character)
                }
            }
            return result
        }
        // Unquoted: a ` #` starts a comment.
        if let comment = raw.range(of: " #") { return raw[..<comment.lowerBound].trimmingCharacters(in: .whitespaces) }
        return raw
    }
}
