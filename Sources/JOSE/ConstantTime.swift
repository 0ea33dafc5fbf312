/// Comparison of secrets' digests and MACs that takes as long whatever bytes differ.
public enum ConstantTime {
    /// Whether `a` and `b` are the same bytes; constant time over equal lengths (a length is no
    /// secret here: digests and tags have fixed ones).
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
