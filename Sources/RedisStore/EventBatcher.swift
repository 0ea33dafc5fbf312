import AuthCore
import RedisClient
import Synchronization

/// Writes the events of every request of this instance in few round trips: while one batch is in
/// Redis, the next gathers, and goes as one pipeline when the first is answered. Under load a
/// batch holds many requests' events, so an event costs little more than its `XADD`'s bytes; idle,
/// a batch is one request's, sent at once.
///
/// Each submission says when it is done (stored, or not), in the order of submission. What waits
/// for it (a revocation's events) is bounded by the requests in flight; what does not is bounded
/// by ``maxQueued``: past it, such an event is refused at once, and counted lost by its caller.
final class EventBatcher: Sendable {
    /// Most commands of submissions that nobody waits for, queued at once.
    static let maxQueued = 10_000
    /// Most commands in one pipeline.
    static let maxBatch = 512

    private struct Submission {
        let commands: [RedisCommand]
        let waited: Bool
        let done: @Sendable (Result<Void, any Error>) -> Void
    }

    private struct State {
        var pending: [Submission] = []
        var queuedUnwaited = 0
        var flushing = false
    }

    private let redis: RedisClient
    private let state = Mutex(State())

    init(redis: RedisClient) {
        self.redis = redis
    }

    /// Queues the commands; `done` is called once they are stored, or could not be.
    func submit(
        _ commands: [RedisCommand], waited: Bool, done: @escaping @Sendable (Result<Void, any Error>) -> Void
    ) {
        let (accepted, start) = self.state.withLock { state -> (Bool, Bool) in
            if !waited {
                guard state.queuedUnwaited + commands.count <= Self.maxQueued else { return (false, false) }
                state.queuedUnwaited += commands.count
            }
            state.pending.append(Submission(commands: commands, waited: waited, done: done))
            guard !state.flushing else { return (true, false) }
            state.flushing = true
            return (true, true)
        }
        guard accepted else {
            done(.failure(StoreUnavailableError(reason: "more than \(Self.maxQueued) events waiting for Redis")))
            return
        }
        if start { Task { await self.drain() } }
    }

    /// Stores the commands, with the batch they join, and returns once they are stored.
    func store(_ commands: [RedisCommand]) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            self.submit(commands, waited: true) { continuation.resume(with: $0) }
        }
    }

    private func drain() async {
        while let batch = self.take() {
            let commands = batch.flatMap(\.commands)
            let replies: [RedisValue]
            do {
                replies = try await storeGuarded { try await self.redis.pipeline(commands) }
            } catch {
                for submission in batch { submission.done(.failure(error)) }
                continue
            }
            var index = 0
            for submission in batch {
                let mine = replies[index..<min(index + submission.commands.count, replies.count)]
                index += submission.commands.count
                let failure = mine.lazy.compactMap { reply -> RedisServerError? in
                    if case .error(let error) = reply { return error }
                    return nil
                }.first
                submission.done(failure.map { .failure(StoreUnavailableError(reason: $0.description)) } ?? .success(()))
            }
        }
    }

    /// The next batch, or nil (and no longer flushing) when nothing is pending.
    private func take() -> [Submission]? {
        self.state.withLock { state in
            guard !state.pending.isEmpty else {
                state.flushing = false
                return nil
            }
            var count = 0
            var taken = 0
            while taken < state.pending.count,
                taken == 0 || count + state.pending[taken].commands.count <= Self.maxBatch
            {
                count += state.pending[taken].commands.count
                taken += 1
            }
            let batch = Array(state.pending.prefix(taken))
            state.pending.removeFirst(taken)
            state.queuedUnwaited -= batch.filter { !$0.waited }.reduce(0) { $0 + $1.commands.count }
            return batch
        }
    }
}
