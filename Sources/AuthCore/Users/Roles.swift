/// Roles: names an operator grants to a user (`authd roles add`) and takes away (`authd roles
/// remove`). Every session of the user carries them, so verify knows them without another read, and
/// a role taken away is refused on the next request, on every instance, like a logout.
public enum Roles {
    /// The most roles a user may hold.
    public static let maxPerUser = 32
    public static let nameLength = 1...64

    /// Validates a role name and returns its canonical (lowercased) form: 1 to 64 characters of
    /// `a-z`, `0-9`, `.`, `_`, `-` and `:`, starting with a letter or digit. No commas or spaces, so
    /// a list of roles is one comma-separated header value.
    public static func canonical(_ raw: String) throws(AuthError) -> String {
        let role = raw.lowercased()
        let bytes = Array(role.utf8)
        guard Self.nameLength.contains(bytes.count), bytes.allSatisfy(Self.isRoleByte),
            Credentials.isAlphanumeric(bytes[0])
        else {
            throw .invalidRequest(
                "a role is 1 to 64 characters of a-z, 0-9, '.', '_', '-' and ':', starting with a letter or digit")
        }
        return role
    }

    /// The roles of a stored comma-separated list (as Redis keeps them), in its order.
    public static func parse(_ list: String?) -> [String] {
        guard let list, !list.isEmpty else { return [] }
        return list.split(separator: ",").map(String.init)
    }

    /// A user name's bytes, and `:`.
    private static func isRoleByte(_ byte: UInt8) -> Bool {
        Credentials.isNameByte(byte) || byte == UInt8(ascii: ":")
    }
}
