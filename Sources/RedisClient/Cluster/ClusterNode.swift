/// A node of a Redis Cluster, by the address the cluster gives for it.
struct ClusterNode: Hashable, Sendable, CustomStringConvertible {
    var host: String
    var port: Int
    var description: String { "\(self.host):\(self.port)" }

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`, as `CLUSTER SLOTS` and redirections name a node (the host may hold colons: an
    /// IPv6 address). An empty host means the node replying.
    init?(address: some StringProtocol, replying node: ClusterNode? = nil) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            (1...65535).contains(port)
        else { return nil }
        let host = String(address[..<colon])
        guard !host.isEmpty || node != nil else { return nil }
        self.init(host: host.isEmpty ? node!.host : host, port: port)
    }
}
