import CoreMetrics
import MetricHandles

/// The client's metrics, through swift-metrics.
enum RedisMetrics {
    private static let timers = MetricHandles<String, Timer>()

    static func duration(command: String, nanoseconds: Int64) {
        Self.timers(command) {
            Timer(label: "authd_redis_command_duration_seconds", dimensions: [("command", command)])
        }.recordNanoseconds(nanoseconds)
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
