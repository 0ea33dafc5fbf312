import AuthCore
import JOSE
import Synchronization

/// Fresh request ids for requests that bring none: a random prefix drawn once per process, then a
/// counter (`4f1c0a9e7d21-1b`). They only need to be unique, and this costs no system call per
/// request (a random id per request cost about 2% of a verify's CPU).
enum RequestID {
    private static let prefix = RandomID.hexBytes(6) + "-"
    private static let counter = Atomic<UInt64>(0)

    static func next() -> String {
        let (value, _) = Self.counter.add(1, ordering: .relaxed)
        return Self.prefix + String(value, radix: 16)
    }
}
