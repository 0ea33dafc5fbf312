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

    /// `kind`: server (an error reply, but for `noscript` and a cluster's redirections), noscript,
    /// closed, timeout, protocol, unavailable.
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

    /// A Redis Cluster's redirection followed: `moved`, `ask`, or `retry` (TRYAGAIN, CLUSTERDOWN).
    static func redirection(_ kind: String) {
        Counter(label: "authd_redis_cluster_redirections_total", dimensions: [("kind", kind)]).increment()
    }

    /// 1 while the pool's connection `label` (its number, after its node's address in a cluster)
    /// is up, 0 while it is down.
    static func connection(_ label: String, up: Bool) {
        Gauge(label: "authd_redis_connection_up", dimensions: [("connection", label)]).record(up ? 1 : 0)
    }
}
