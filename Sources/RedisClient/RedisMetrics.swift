import CoreMetrics
import Synchronization

/// The client's metrics, through swift-metrics.
enum RedisMetrics {
    /// One handle per command name, made once: the factory's lookup cost more than the recording.
    private static let timers = Mutex<[String: Timer]>([:])

    static func duration(command: String, nanoseconds: Int64) {
        let timer = Self.timers.withLock { timers in
            if let timer = timers[command] { return timer }
            let bootstrapped = !(MetricsSystem.factory is NOOPMetricsHandler)
            let timer = Timer(label: "authd_redis_command_duration_seconds", dimensions: [("command", command)])
            // A handle made before the metrics system is bootstrapped goes nowhere: never keep one.
            if bootstrapped { timers[command] = timer }
            return timer
        }
        timer.recordNanoseconds(nanoseconds)
    }

    /// `kind`: server (an error reply), closed, timeout, protocol, unavailable.
    static func error(_ kind: String, count: Int = 1) {
        Counter(label: "authd_redis_command_errors_total", dimensions: [("kind", kind)]).increment(by: count)
    }

    static func kind(of error: any Error) -> String {
        switch error as? RedisClientError {
        case .timeout: "timeout"
        case .protocolError: "protocol"
        case .unavailable: "unavailable"
        default: "closed"
        }
    }

    /// 1 while the pool's connection number `index` is up, 0 while it is down.
    static func connection(_ index: Int, up: Bool) {
        Gauge(label: "authd_redis_connection_up", dimensions: [("connection", String(index))]).record(up ? 1 : 0)
    }
}
