#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IP address (v4 or v6) as 16 bytes, IPv4 mapped into IPv6 (`::ffff:a.b.c.d`), so that one
/// comparison serves both and a v4 peer seen on a v6 socket is the same address.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    let bytes: [UInt8]

    /// Parses an address in its text form; `nil` for anything else (a host name, a port, junk).
    public init?(_ text: some StringProtocol) {
        var v4 = in_addr()
        var v6 = in6_addr()
        let text = String(text)
        guard text.utf8.count <= 45 else { return nil }
        if inet_pton(AF_INET, text, &v4) == 1 {
            let value = UInt32(bigEndian: v4.s_addr)
            self.bytes =
                Array(repeating: 0, count: 10) + [0xFF, 0xFF]
                + [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            self.bytes = Self.bytes(of: v6)
        } else {
            return nil
        }
    }

    /// The 16 bytes of an IPv6 address, in network order.
    private static func bytes(of address: in6_addr) -> [UInt8] {
        #if canImport(Glibc)
            let b = address.__in6_u.__u6_addr8
        #else
            let b = address.__u6_addr.__u6_addr8
        #endif
        return [b.0, b.1, b.2, b.3, b.4, b.5, b.6, b.7, b.8, b.9, b.10, b.11, b.12, b.13, b.14, b.15]
    }

    /// The IPv6 address of 16 bytes in network order.
    private static func address(of b: [UInt8]) -> in6_addr {
        let tuple = (
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
        )
        #if canImport(Glibc)
            return in6_addr(__in6_u: .init(__u6_addr8: tuple))
        #else
            return in6_addr(__u6_addr: .init(__u6_addr8: tuple))
        #endif
    }

    var isMappedV4: Bool { self.bytes.prefix(12) == Array(repeating: 0, count: 10) + [0xFF, 0xFF] }

    /// The canonical text form (`127.0.0.1`, `2001:db8::1`).
    public var description: String {
        if self.isMappedV4 { return self.bytes.suffix(4).map(String.init).joined(separator: ".") }
        var address = Self.address(of: self.bytes)
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &address, &text, socklen_t(text.count)) != nil else { return "?" }
        return String(decoding: text.prefix(while: { $0 != 0 }).map(UInt8.init(bitPattern:)), as: UTF8.self)
    }
}

/// An address range in CIDR form (`10.0.0.0/8`, `2001:db8::/32`), or one address.
public struct IPNetwork: Sendable, Hashable {
    let address: IPAddress
    /// Prefix length over the 16-byte form.
    let prefix: Int

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        let width = address.isMappedV4 ? 32 : 128
        var length = width
        if parts.count == 2 {
            guard let given = Int(parts[1]), (0...width).contains(given) else { return nil }
            length = given
        }
        self.address = address
        self.prefix = length + (address.isMappedV4 ? 96 : 0)
    }

    public func contains(_ candidate: IPAddress) -> Bool {
        var remaining = self.prefix
        for (mine, theirs) in zip(self.address.bytes, candidate.bytes) where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            guard mine & mask == theirs & mask else { return false }
            remaining -= bits
        }
        return true
    }
}

/// The proxies whose `X-Forwarded-For` authd believes (`AUTHD_TRUSTED_PROXIES`).
public struct TrustedProxies: Sendable {
    public var networks: [IPNetwork]

    public init(_ networks: [IPNetwork] = []) {
        self.networks = networks
    }

    /// Parses `10.0.0.0/8,192.168.1.7,::1`.
    public init?(list: String) {
        var networks: [IPNetwork] = []
        for entry in list.split(separator: ",") {
            let trimmed = entry.trimmingWhitespace
            guard let network = IPNetwork(trimmed) else { return nil }
            networks.append(network)
        }
        self.init(networks)
    }

    func trusts(_ address: IPAddress) -> Bool {
        self.networks.contains { $0.contains(address) }
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy; then the right-most
    /// `X-Forwarded-For` entry that is not a trusted proxy. Entries to its left were written by
    /// the client and are never believed. An entry that is not an address stops the walk at the
    /// nearest trusted hop.
    func clientAddress(peer: String, forwardedFor values: [String]) -> String {
        guard !self.networks.isEmpty, let address = IPAddress(peer), self.trusts(address) else { return peer }
        let entries = values.flatMap { $0.split(separator: ",") }.map(\.trimmingWhitespace)
        var nearest = address.description
        for entry in entries.reversed() {
            guard let hop = IPAddress(entry) else { return nearest }
            guard self.trusts(hop) else { return hop.description }
            nearest = hop.description
        }
        return nearest
    }
}

extension StringProtocol {
    fileprivate var trimmingWhitespace: Substring {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}
