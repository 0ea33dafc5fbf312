import Foundation

/// Secrets that must never start a service: the placeholders of `.env.example` and the like, and
/// strings with too little entropy to resist a guess (a repeated or patterned string).
enum SecretStrength {
    static let placeholders = [
        "replace", "change-me", "changeme", "change_me", "placeholder", "example", "your-secret", "your_secret",
        "secret-here", "insert", "todo", "xxxxxxxx",
    ]

    /// Why `secret` must not be used, or `nil` when it may.
    static func problem(with secret: String, minimumBits: Double = 128) -> String? {
        let lowered = secret.lowercased()
        if let word = self.placeholders.first(where: { lowered.contains($0) }) {
            return "looks like a placeholder (it contains '\(word)'): anyone could guess it"
        }
        // Shannon entropy of the bytes as they occur, times the length: a rough upper bound on
        // the bits an attacker must guess. Random hex of 32 bytes has about 250, a passphrase of
        // six random words about 77 by this count; `aaaa…` and `abcabc…` have almost none.
        var counts: [UInt8: Int] = [:]
        for byte in secret.utf8 { counts[byte, default: 0] += 1 }
        let length = Double(secret.utf8.count)
        let perByte = counts.values.reduce(0.0) { sum, count in
            let p = Double(count) / length
            return sum - p * log2(p)
        }
        if perByte * length < minimumBits || counts.count < 10 {
            return "is too weak (too few distinct characters for a key)"
        }
        return nil
    }
}
