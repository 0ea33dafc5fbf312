#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The clock leases are measured on: `CLOCK_BOOTTIME` on Linux, which keeps counting while the
/// process is stopped (SIGSTOP) and while the machine is suspended, so that a lease can only end
/// early, never late. (`CLOCK_MONOTONIC` stops during a suspend.)
enum LeaseClock {
    /// Nanoseconds since boot.
    static func now() -> Int64 {
        var time = timespec()
        #if os(Linux)
            clock_gettime(CLOCK_BOOTTIME, &time)
        #else
            clock_gettime(CLOCK_MONOTONIC_RAW, &time)
        #endif
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}
