import AuthCore
import Foundation
import JOSE

#if canImport(Glibc)
    import Glibc
#endif

/// Access-token signing keys on disk, one directory shared by (or copied to) every instance:
/// - `KID.pem`: a P-256, RSA or Ed25519 private key (PKCS #8 PEM), readable by authd only (0600);
/// - `KID.retired`: when that key stopped signing (unix seconds);
/// - `current`: the id of the key that signs.
/// Any other key is "next": published and verifying, but not signing yet.
public struct KeyDirectory: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public func load() throws -> [SigningKey] {
        let files = try FileManager.default.contentsOfDirectory(atPath: self.path)
        let current = try? String(contentsOfFile: self.file("current"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return try files.filter { $0.hasSuffix(".pem") }.sorted().map { name in
            let kid = String(name.dropLast(4))
            let pem = try String(contentsOfFile: self.file(name), encoding: .utf8)
            let status: SigningKey.Status
            if let retired = try? String(contentsOfFile: self.file(kid + ".retired"), encoding: .utf8),
                let at = Int(retired.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                status = .retired(at: at)
            } else {
                status = kid == current ? .current : .next
            }
            return try SigningKey(kid: kid, pem: pem, status: status)
        }
    }

    /// The algorithm of new key directories: ES256. Every common JOSE library and API gateway
    /// verifies it with its defaults (joserfc and authlib allow HS256, RS256 and ES256 only; many
    /// gateways RS256 and ES256), and its keys and signatures are small and fast to make, where
    /// RS256 tokens carry 256-byte signatures and cost far more to sign.
    public static let defaultAlgorithm = SigningAlgorithm.es256

    /// Adds a new key. It becomes current only when there is none yet; otherwise it is "next".
    @discardableResult
    public func generate(_ algorithm: SigningAlgorithm = Self.defaultAlgorithm) throws -> SigningKey {
        try FileManager.default.createDirectory(atPath: self.path, withIntermediateDirectories: true)
        let hasCurrent = try self.load().contains { $0.status == .current }
        let key = try SigningKey.generate(algorithm, status: hasCurrent ? .next : .current)
        try self.write(key.pem, to: key.kid + ".pem", mode: 0o600)
        if !hasCurrent { try self.write(key.kid + "\n", to: "current", mode: 0o644) }
        return key
    }

    /// How long a "next" key must have been published before it may sign: resource servers cache
    /// the JWKS for 5 minutes (`Cache-Control` of `/.well-known/jwks.json`), and must know a key
    /// before they see tokens signed with it.
    public static let publicationDelay = 300

    /// A key with when it was made: its `.pem`'s modification time (the file is written once, and
    /// never rewritten).
    public struct Entry: Sendable {
        public var key: SigningKey
        public var createdAt: Int
    }

    /// The keys, oldest first.
    public func entries() throws -> [Entry] {
        try self.load().map { key in
            let attributes = try FileManager.default.attributesOfItem(atPath: self.file(key.kid + ".pem"))
            let created = (attributes[.modificationDate] as? Date).map { Int($0.timeIntervalSince1970) } ?? 0
            return Entry(key: key, createdAt: created)
        }.sorted { ($0.createdAt, $0.key.kid) < ($1.createdAt, $1.key.kid) }
    }

    /// Makes the oldest "next" key current and retires the current key as of `now`. Refused while
    /// that key is younger than ``publicationDelay`` (and when there is none), unless `force`:
    /// tokens it signed would fail at resource servers that have not fetched it yet. With `force`
    /// and no next key, one is made (of the current key's algorithm) and signs at once.
    @discardableResult
    public func rotate(now: Int, force: Bool = false) throws -> SigningKey {
        let entries = try self.entries()
        var next = entries.first(where: { $0.key.status == .next })
        if let candidate = next, !force, now - candidate.createdAt < Self.publicationDelay {
            let wait = Self.publicationDelay - (now - candidate.createdAt)
            throw KeyDirectoryError(
                "\(candidate.key.kid) was made \(now - candidate.createdAt) s ago, and resource servers cache the "
                    + "JWKS for \(Self.publicationDelay / 60) minutes: rotate in \(wait) s (or --force)")
        }
        if next == nil {
            guard force else {
                throw KeyDirectoryError(
                    "no next key: `authd keys generate` one, wait \(Self.publicationDelay / 60) minutes for resource "
                        + "servers to fetch it, then rotate (or --force, to make one that signs at once)")
            }
            // The algorithm stays what it was; a change of algorithm is a `generate --alg` first.
            let algorithm = entries.first(where: { $0.key.status == .current })?.key.algorithm ?? Self.defaultAlgorithm
            next = Entry(key: try self.generate(algorithm), createdAt: now)
        }
        guard var promoted = next?.key else { throw KeyDirectoryError("no key to rotate to") }
        for entry in entries where entry.key.status == .current {
            try self.write("\(now)\n", to: entry.key.kid + ".retired", mode: 0o644)
        }
        try self.write(promoted.kid + "\n", to: "current", mode: 0o644)
        promoted.status = .current
        return promoted
    }

    private func file(_ name: String) -> String {
        (self.path as NSString).appendingPathComponent(name)
    }

    private func write(_ text: String, to name: String, mode: Int) throws {
        try Self.writeFile(Array(text.utf8), to: self.file(name), mode: mode_t(mode))
    }

    /// Writes `bytes` to `path` atomically: a temporary file beside it, created with `mode` from
    /// its first instant (`O_CREAT | O_EXCL`, so a private key is never readable by others, not
    /// even briefly), synced, then renamed over `path`. `beforeRename` sees the temporary path.
    static func writeFile(
        _ bytes: [UInt8], to path: String, mode: mode_t, beforeRename: (String) throws -> Void = { _ in }
    ) throws {
        let temporary = path + ".tmp-" + RandomID.make().prefix(8)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw KeyDirectoryError("cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        // The umask may have taken bits away from `mode`; it never adds any.
        fchmod(fd, mode)
        let file = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
        do {
            try file.write(contentsOf: bytes)
            try file.synchronize()
            try file.close()
        } catch {
            close(fd)
            unlink(temporary)
            throw KeyDirectoryError("cannot write \(temporary): \(error)")
        }
        do {
            try beforeRename(temporary)
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw KeyDirectoryError("cannot rename to \(path): \(String(cString: strerror(errno)))")
        }
    }
}

public struct KeyDirectoryError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
