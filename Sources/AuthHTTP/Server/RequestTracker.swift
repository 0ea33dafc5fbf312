import Synchronization

/// Counts requests being handled, so that shutdown can wait for them: a request's task can
/// outlive its connection (the client hung up), and still needs Redis while it finishes.
final class RequestTracker: Sendable {
    private let inFlight = Atomic(0)

    func begin() {
        self.inFlight.add(1, ordering: .sequentiallyConsistent)
    }

    func end() {
        self.inFlight.subtract(1, ordering: .sequentiallyConsistent)
    }

    var count: Int { self.inFlight.load(ordering: .sequentiallyConsistent) }

    /// Returns when no request is in flight, or when `timeout` has passed.
    func waitUntilIdle(timeout: Duration) async {
        let clock = ContinuousClock()
        let end = clock.now + timeout
        while self.count > 0, clock.now < end {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}
