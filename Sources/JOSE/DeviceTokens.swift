import Crypto

/// Device tokens (OWASP's "device cookie"): a proof, given at a successful login, that this client
/// has logged in as this user before. A login that presents one is counted against that device's
/// own limit, not against the user's limit over all addresses, so an attacker who spreads guesses
/// over many addresses (an IPv6 /64 holds any number) locks out only clients that never logged in.
///
/// `d1.DEVICE.ISSUED.MAC`: a random 16-byte device id (hex), the issue time (unix seconds), and an
/// HMAC-SHA256 over the version, the user name, the id and the time, under a key derived from the
/// refresh token secret. It grants nothing else: it is no credential, and a stolen one only moves
/// the thief's guesses to the device's counter, which has the tight per-address limit.
public struct DeviceTokens: Sendable {
    /// How long a device token is honoured after its issue (each login renews it).
    public static let lifetime = 180 * 86_400
    private static let maximumBytes = 160
    private let mac: HMACSHA256

    public init(refreshSecret: String) {
        let derivation = HMACSHA256(key: Array(refreshSecret.utf8))
        let key = Array("authd device tokens v1".utf8).withUnsafeBytes { derivation.authenticationCode(for: $0) }
        self.mac = HMACSHA256(key: Array(key))
    }

    /// A token for `username`'s device `device` (a new id when nil), issued at `now`.
    public func issue(username: String, device: String? = nil, now: Int) -> String {
        let id = device ?? RandomID.hexBytes(16)
        let body = "d1.\(id).\(now)"
        let code = Array(
            self.message(body, username: username).withUnsafeBytes { self.mac.authenticationCode(for: $0) })
        return body + "." + Base64URL.encode(code)
    }

    /// The device id of `token` when it is a device token of `username`'s, issued by this
    /// deployment no more than ``lifetime`` ago (and not in the future beyond a minute); else nil.
    public func device(of token: String, username: String, now: Int) -> String? {
        guard token.utf8.count <= Self.maximumBytes else { return nil }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "d1", parts[1].utf8.count == 32,
            parts[1].utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }),
            (1...12).contains(parts[2].utf8.count), parts[2].utf8.allSatisfy({ (48...57).contains($0) }),
            let issued = Int(parts[2]), let code = Base64URL.decode(parts[3].utf8)
        else { return nil }
        // Both at most 12 digits: the arithmetic cannot overflow.
        guard issued <= now + 60, now - issued <= Self.lifetime else { return nil }
        let body = "d1.\(parts[1]).\(parts[2])"
        guard self.message(body, username: username).withUnsafeBytes({ self.mac.isValid(code, for: $0) }) else {
            return nil
        }
        return String(parts[1])
    }

    private func message(_ body: String, username: String) -> [UInt8] {
        Array((body + "|" + username).utf8)
    }
}
