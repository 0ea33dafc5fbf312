import Foundation
import RedisClient

/// A Redis Cluster of a test's own on loopback: `primaries` primaries with a replica each, made
/// from the repository's `redis/redis.conf` with `--cluster-enabled yes` and assembled with
/// `redis-cli --cluster create`, as docs/OPERATIONS.md tells operators to.
public final class RedisClusterProcess: Sendable {
    public let nodes: [RedisServerProcess]

    /// `nodeTimeout`: after how long without an answer a primary counts as failed and its replica
    /// takes over. Long by default, so that a node starved of CPU on a loaded machine is not taken
    /// for dead; the failover test sets a shorter one.
    public init(primaries: Int = 3, nodeTimeout: Duration = .seconds(5), tls: TestCertificates? = nil) throws {
        self.nodes = try (0..<(primaries * 2)).map { _ in
            // The bus port is a port of its own: port + 10000, Redis's default, may be out of range.
            let bus = try freePort()
            let arguments = [
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", String(nodeTimeout.components.seconds * 1000),
                "--cluster-port", String(bus),
            ]
            if let tls {
                return try RedisServerProcess(
                    tls: tls, leaf: "node", clientCertificates: false,
                    extraArguments: arguments + ["--tls-cluster", "yes", "--tls-replication", "yes"])
            }
            return try RedisServerProcess(extraArguments: arguments)
        }
    }

    /// `host:port,...` of every node, as `REDIS_CLUSTER_NODES` takes them.
    public var seeds: String {
        self.nodes.map { "127.0.0.1:\($0.tlsPort ?? $0.port)" }.joined(separator: ",")
    }

    public var configuration: ClusterConfiguration {
        get throws { try ClusterConfiguration(list: self.seeds) }
    }

    /// Starts every node, makes the cluster, and waits until every node sees all slots served.
    public func start() async throws {
        for node in self.nodes { try await node.start() }
        let (status, output) = try await Self.clusterCommand(
            ["create"] + self.nodes.map { "127.0.0.1:\($0.port)" } + ["--cluster-replicas", "1", "--cluster-yes"])
        guard status == 0 else { throw TestFailure("redis-cli --cluster create failed: \(output.suffix(500))") }
        try await self.waitUntilHealthy()
    }

    /// Runs `redis-cli --cluster ARGUMENTS` (create, reshard, rebalance, ...) and returns its exit
    /// status and output.
    public static func clusterCommand(_ arguments: [String], within limit: Duration = .seconds(300)) async throws
        -> (Int32, String)
    {
        try await runTool(["redis-cli", "--cluster"] + arguments, errors: true, within: limit)
    }

    /// Until every running node says `cluster_state:ok` and knows as many primaries as there are
    /// pairs (a client that asks any of them gets the whole map), and every replica has finished
    /// its sync: a replica that never had its primary's data does not take over when it dies.
    public func waitUntilHealthy(within limit: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            var healthy = true
            for node in self.nodes where node.isRunning {
                let info = try await node.cli(["cluster", "info"])
                let shards = try await node.cli(["cluster", "shards"])
                let replication = try await node.cli(["info", "replication"])
                if !info.contains("cluster_state:ok")
                    || shards.components(separatedBy: "\nmaster\n").count - 1 < self.nodes.count / 2
                    || (replication.contains("role:slave") && !replication.contains("master_link_status:up"))
                {
                    healthy = false
                }
            }
            if healthy { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("the Redis Cluster did not become healthy within \(limit)")
    }

    /// The node that is primary for `key`'s slot right now.
    public func primary(for key: String) async throws -> RedisServerProcess {
        let slot = ClusterSlot.of(key: key)
        for node in self.nodes where node.isRunning {
            let role = try await node.cli(["role"])
            guard role.hasPrefix("master") else { continue }
            if try await node.owns(slot: slot) { return node }
        }
        throw TestFailure("no running primary owns slot \(slot)")
    }

    /// The running primaries.
    public func primaries() async throws -> [RedisServerProcess] {
        var found: [RedisServerProcess] = []
        for node in self.nodes where node.isRunning {
            if try await node.cli(["role"]).hasPrefix("master") { found.append(node) }
        }
        return found
    }
}

extension RedisServerProcess {
    /// This node's cluster id.
    public func clusterID() async throws -> String {
        try await self.cli(["cluster", "myid"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The slots this node serves, by its own `CLUSTER SLOTS`.
    public func ownSlots() async throws -> [ClosedRange<Int>] {
        let id = try await self.clusterID()
        // redis-cli prints CLUSTER SLOTS flat: start, end, host, port, id, (replicas' host, port, id)...
        let lines = try await self.cli(["cluster", "slots"]).split(separator: "\n").map(String.init)
        var ranges: [ClosedRange<Int>] = []
        var index = 0
        while index + 4 < lines.count {
            if let start = Int(lines[index]), let end = Int(lines[index + 1]), start <= end, lines[index + 4] == id {
                ranges.append(start...end)
            }
            index += 1
        }
        return ranges
    }

    /// Whether this node serves `slot`, by its own `CLUSTER SLOTS`.
    public func owns(slot: Int) async throws -> Bool {
        try await self.ownSlots().contains { $0.contains(slot) }
    }
}
