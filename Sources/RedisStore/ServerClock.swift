import Foundation
import RedisClient
import Synchronization

/// Redis's clock as this instance sees it: `TIME` against the local wall clock at the middle of
/// the round trip, sampled again at most once a minute. For deadlines that a script checks with
/// `TIME` (``RedisAuthStore/rotateSession(_:)``): authd's and Redis's clocks need not agree.
final class ServerClock: Sendable {
    private struct Sample {
        var offsetMilliseconds: Int64
        var at: ContinuousClock.Instant
    }

    private let sample = Mutex<Sample?>(nil)

    /// When a command sent now and bounded by the client's command timeout is given up on, in
    /// Redis's clock (ms).
    func deadline(of redis: RedisClient) async throws -> Int64 {
        let timeout = redis.configuration.commandTimeout.nanoseconds / 1_000_000
        let offset = try await self.offset(of: redis)
        return Self.localMilliseconds() + timeout + offset
    }

    private func offset(of redis: RedisClient) async throws -> Int64 {
        let now = ContinuousClock.now
        if let sample = self.sample.withLock({ $0 }), now - sample.at < .seconds(60) {
            return sample.offsetMilliseconds
        }
        let before = Self.localMilliseconds()
        let reply = try await redis.send(RedisCommand("TIME"))
        let after = Self.localMilliseconds()
        guard let parts = reply.array, parts.count == 2, let seconds = parts[0].string.flatMap(Int64.init),
            let micros = parts[1].string.flatMap(Int64.init)
        else { throw RedisClientError.unexpectedReply(command: "TIME") }
        let offset = seconds * 1000 + micros / 1000 - (before + after) / 2
        self.sample.withLock { $0 = Sample(offsetMilliseconds: offset, at: now) }
        return offset
    }

    private static func localMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}
