import Crypto

/// HMAC-SHA256 (RFC 2104) over swift-crypto's `SHA256`, with the key's two padded blocks absorbed
/// once, at start-up.
///
/// swift-crypto's `HMAC<SHA256>` is generic over its hash function and not inlinable, so every
/// call runs unspecialized: witness-table calls, runtime metadata lookups and `DataProtocol`
/// region walks. On the refresh path its three MACs cost about 7% of the CPU. `SHA256` is a
/// concrete type; the construction over it is the RFC's two lines, and a test holds every result
/// to `HMAC<SHA256>`'s.
struct HMACSHA256: Sendable {
    /// The hash with `key ⊕ ipad` absorbed, and with `key ⊕ opad`.
    private let inner: SHA256
    private let outer: SHA256

    init(key: [UInt8]) {
        let blockSize = 64
        var block = key.count > blockSize ? Array(SHA256.hash(data: key)) : key
        block += [UInt8](repeating: 0, count: blockSize - block.count)
        var inner = SHA256()
        inner.update(data: block.map { $0 ^ 0x36 })
        var outer = SHA256()
        outer.update(data: block.map { $0 ^ 0x5C })
        self.inner = inner
        self.outer = outer
    }

    /// The 32-byte MAC of `message`.
    func authenticationCode(for message: UnsafeRawBufferPointer) -> SHA256Digest {
        var inner = self.inner
        inner.update(bufferPointer: message)
        let innerDigest = inner.finalize()
        var outer = self.outer
        innerDigest.withUnsafeBytes { outer.update(bufferPointer: $0) }
        return outer.finalize()
    }

    /// Whether `code` is the MAC of `message`, compared in constant time.
    func isValid(_ code: [UInt8], for message: UnsafeRawBufferPointer) -> Bool {
        let expected = self.authenticationCode(for: message)
        guard code.count == SHA256Digest.byteCount else { return false }
        return expected.withUnsafeBytes { expected in
            var difference: UInt8 = 0
            for index in 0..<SHA256Digest.byteCount { difference |= expected[index] ^ code[index] }
            return difference == 0
        }
    }
}
