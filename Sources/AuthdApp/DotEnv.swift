import Foundation

/// Reads a `.env` file: `KEY=value` lines, `#` comments, an optional `export `, and values in
/// single quotes (taken as is) or double quotes (with `\n`, `\"` and `\\` escapes).
public enum DotEnv {
    /// A file's values, and the lines it ignores (neither `KEY=value`, a comment nor blank), by
    /// number, for start-up to warn of.
    public struct File: Sendable {
        public var values: [String: String] = [:]
        public var problems: [String] = []

        public init() {}
    }

    public static func read(_ text: String) -> File {
        var file = File()
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let equals = line.firstIndex(of: "=") else {
                file.problems.append("line \(index + 1) has no '=' (KEY=value), and is ignored")
                continue
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, !key.contains(" ") else {
                file.problems.append("line \(index + 1): '\(key)' is no variable name, and the line is ignored")
                continue
            }
            file.values[key] = Self.value(line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces))
        }
        return file
    }

    public static func parse(_ text: String) -> [String: String] {
        self.read(text).values
    }

    /// The file, or nil when it does not exist. Read as a stream, so that a device or a pipe works
    /// too (`--env-file /dev/null`, `--env-file <(...)`).
    public static func load(path: String) throws -> File? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CocoaError(.fileReadNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        defer { try? handle.close() }
        let data = try handle.readToEnd() ?? Data()
        guard let text = String(data: data, encoding: .utf8) else {
            throw CocoaError(.fileReadInapplicableStringEncoding, userInfo: [NSFilePathErrorKey: path])
        }
        return self.read(text)
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
