import Foundation

/// The time, in whole seconds since 1970, injected so that expiry and TTLs are testable without
/// sleeping. Whole seconds because JWT NumericDates round-trip exactly only as integers.
public protocol AuthClock: Sendable {
    func now() -> Int
}

public struct SystemClock: AuthClock {
    public init() {}

    public func now() -> Int {
        Int(Date().timeIntervalSince1970)
    }
}
