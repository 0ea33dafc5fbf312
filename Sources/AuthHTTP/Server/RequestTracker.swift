import NIOConcurrencyHelpers

/// Counts requests being handled, so that shutdown can wait for them: a request's task can
/// outlive its connection (the client hung up), and still needs Redis while it finishes.
final class RequestTracker: Sendable {
    private let inFlight = NIOLockedValueBox(0)

    func begin() {
        self.inFlight.withLockedValue { $0 += 1 }
    }

    func end() {
        self.inFlight.withLockedValue { $0 -= 1 }
    }

    var count: Int { self.inFlight.withLockedValue { $0 } }

    /// Returns when no request is in flight, or when `timeout` has passed.
    func waitUntilIdle(timeout: Duration) async {
        let clock = ContinuousClock()
        let end = clock.now + timeout
        while self.count > 0, clock.now < end {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}
