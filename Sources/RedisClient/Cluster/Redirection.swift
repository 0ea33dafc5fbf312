/// What a cluster's error reply asks of the client.
enum Redirection: Equatable, Sendable {
    /// `MOVED slot host:port`: the slot lives there now.
    case moved(slot: Int, ClusterNode)
    /// `ASK slot host:port`: this one command is to be asked there, after `ASKING`.
    case ask(ClusterNode)
    /// `TRYAGAIN` (a multi-key command during a slot's migration) or `CLUSTERDOWN`.
    case retryLater

    /// Its name in metrics.
    var kind: String {
        switch self {
        case .moved: "moved"
        case .ask: "ask"
        case .retryLater: "retry"
        }
    }

    /// The redirection an error reply from `node` asks for; nil for any other error, and for a
    /// `MOVED` or `ASK` that cannot be read (it is then the caller's error, as any other).
    init?(_ error: RedisServerError, from node: ClusterNode) {
        switch error.code {
        case "TRYAGAIN", "CLUSTERDOWN":
            self = .retryLater
        case "MOVED", "ASK":
            let parts = error.message.split(separator: " ")
            guard parts.count == 3, let slot = Int(parts[1]), (0..<ClusterSlot.count).contains(slot),
                let target = ClusterNode(address: parts[2], replying: node)
            else { return nil }
            self = error.code == "MOVED" ? .moved(slot: slot, target) : .ask(target)
        default:
            return nil
        }
    }
}
