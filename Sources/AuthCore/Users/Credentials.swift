/// The rules for user names and passwords, checked before anything touches the store.
public enum Credentials {
    public static let usernameLength = 3...64
    public static let passwordMinCharacters = 8
    public static let passwordMaxBytes = 1024

    /// Validates a user name and returns its canonical form.
    ///
    /// Names are case-insensitive: they are stored lowercased. 3 to 64 characters of `a-z`, `0-9`,
    /// `.`, `_` and `-`, starting with a letter or digit. That keeps them safe inside Redis key
    /// names and hash tags, and free of look-alike Unicode.
    public static func canonicalUsername(_ raw: String) throws(AuthError) -> String {
        let name = raw.lowercased()
        guard self.usernameLength.contains(name.utf8.count) else {
            throw .invalidRequest("username must be 3 to 64 characters")
        }
        let bytes = Array(name.utf8)
        guard bytes.allSatisfy(Self.isNameByte), Self.isAlphanumeric(bytes[0]) else {
            throw .invalidRequest(
                "username may contain only a-z, 0-9, '.', '_' and '-', and must start with a letter or digit")
        }
        return name
    }

    /// Checks a new password: at least 8 characters, at most 1024 bytes of UTF-8.
    public static func validateNewPassword(_ password: String) throws(AuthError) {
        guard password.count >= self.passwordMinCharacters else {
            throw .invalidRequest("password must be at least \(self.passwordMinCharacters) characters")
        }
        guard password.utf8.count <= self.passwordMaxBytes else {
            throw .invalidRequest("password must be at most \(self.passwordMaxBytes) bytes")
        }
    }

    /// `a-z` and `0-9`: what names and roles start with.
    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// `a-z`, `0-9`, `.`, `_` and `-`: what names are made of (roles may add `:`).
    static func isNameByte(_ byte: UInt8) -> Bool {
        self.isAlphanumeric(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }
}
