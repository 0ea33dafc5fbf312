import Foundation
import NIOCore

/// Where and how to reach Redis.
///
/// Built from a URL:
/// - `redis://[user[:password]@]host[:port][/db]`
/// - `unix:///path/to/redis.sock[?db=N]` (credentials as in `unix://user:password@/path`)
///
/// - `rediss://...` as `redis://`, over TLS (verified against the system's trust store until
///   ``tls`` is replaced with one that names a CA file or a client certificate)
///
/// The description redacts the password.
public struct RedisConfiguration: Sendable, CustomStringConvertible {
    public enum Endpoint: Sendable, Hashable {
        case tcp(host: String, port: Int)
        case unixSocket(path: String)
    }

    public var endpoint: Endpoint
    /// The ACL user name for `AUTH`, if any.
    public var username: String?
    /// The password for `AUTH`, if any. Never printed.
    public var password: String?
    /// The database for `SELECT`, 0 by default.
    public var database: Int = 0
    /// The name given with `CLIENT SETNAME`, so connections are easy to find in `CLIENT LIST`.
    public var connectionName: String? = "authd"
    /// How many multiplexed connections to keep, each on its own event loop.
    public var poolSize: Int = System.coreCount
    public var connectTimeout: TimeAmount = .seconds(2)
    public var commandTimeout: TimeAmount = .seconds(2)
    /// The first reconnection delay after a failure; it doubles up to `maxReconnectDelay`.
    public var minReconnectDelay: TimeAmount = .milliseconds(50)
    public var maxReconnectDelay: TimeAmount = .seconds(1)
    /// When set, the primary's address comes from Redis Sentinel instead of `endpoint`, asked
    /// anew at every (re)connect, so that a failover is followed without a restart.
    public var sentinel: SentinelConfiguration?
    /// When set, Redis is a Redis Cluster found from these nodes: ``endpoint`` and ``database``
    /// are not used, and each command goes to the primary of its key's slot.
    public var cluster: ClusterConfiguration?
    /// TLS for every connection, to the sentinels and cluster nodes too; nil: plain TCP.
    public var tls: RedisTLS?
    /// When set, ``RedisClient/cachedSend(_:)`` keeps replies until Redis says their key changed.
    public var clientSideCache: ClientSideCacheConfiguration?
    /// When set, this client takes part in the revocation barrier of every client configured with
    /// the same channel and registry (``RedisClient/barrier()``): its caches register and answer
    /// markers, and its barriers wait for every registered cache. Nil: no barrier, and a cache is
    /// kept coherent by its invalidations alone.
    public var coherence: CoherenceConfiguration?

    public init(endpoint: Endpoint) {
        self.endpoint = endpoint
    }

    public init(url string: String) throws(RedisClientError) {
        guard let url = URLComponents(string: string), let scheme = url.scheme?.lowercased() else {
            throw .invalidConfiguration("not a URL (expected redis://host:port/db or unix:///path)")
        }
        switch scheme {
        case "redis", "rediss":
            let host = url.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
            self.init(endpoint: .tcp(host: host, port: url.port ?? 6379))
            let path = url.path.drop(while: { $0 == "/" })
            if !path.isEmpty {
                guard let db = Int(path), db >= 0 else {
                    throw .invalidConfiguration("the database in the URL's path must be a number")
                }
                self.database = db
            }
        case "unix":
            guard !url.path.isEmpty else { throw .invalidConfiguration("unix:// needs a socket path") }
            self.init(endpoint: .unixSocket(path: url.path))
        default:
            throw .invalidConfiguration("unknown scheme '\(scheme)' (expected redis, rediss or unix)")
        }
        if scheme == "rediss" { self.tls = try RedisTLS() }
        if let user = url.user, !user.isEmpty { self.username = user }
        if let password = url.password, !password.isEmpty { self.password = password }
        // A URL of the form redis://:password@host sets only the password.
        for item in url.queryItems ?? [] {
            switch item.name {
            case "db":
                guard let value = item.value, let db = Int(value), db >= 0 else {
                    throw .invalidConfiguration("db must be a number")
                }
                self.database = db
            default:
                throw .invalidConfiguration("unknown URL option '\(item.name)'")
            }
        }
    }

    /// How long to wait before reconnecting after `failures` failed attempts in a row: doubles
    /// from ``minReconnectDelay`` up to ``maxReconnectDelay``, with up to 20% jitter so that many
    /// instances do not reconnect in lockstep.
    func reconnectDelay(afterFailures failures: Int) -> TimeAmount {
        let minimum = self.minReconnectDelay.nanoseconds
        let maximum = self.maxReconnectDelay.nanoseconds
        let exponent = min(max(failures - 1, 0), 20)
        let base = min(maximum, minimum << exponent)
        let jitter = Int64.random(in: 0...(base / 5))
        return .nanoseconds(min(maximum, base + jitter))
    }

    /// This configuration for one node of a cluster (or the server a tracking pair must reach):
    /// that address, database 0, no Sentinel or cluster discovery.
    func node(host: String, port: Int) -> RedisConfiguration {
        var configuration = self
        configuration.endpoint = .tcp(host: host, port: port)
        configuration.cluster = nil
        configuration.sentinel = nil
        configuration.database = 0
        return configuration
    }

    /// The URL with the password replaced by `***`.
    public var description: String {
        if let cluster = self.cluster {
            let auth = self.password == nil ? "" : ":***@"
            let hosts = cluster.nodes.map { "\($0.host):\($0.port)" }.joined(separator: ",")
            return "\(self.tls == nil ? "cluster" : "cluster+tls")://\(auth)\(hosts)"
        }
        if let sentinel = self.sentinel {
            let auth = self.password == nil ? "" : ":***@"
            let hosts = sentinel.sentinels.map { "\($0.host):\($0.port)" }.joined(separator: ",")
            let scheme = self.tls == nil ? "sentinel" : "sentinel+tls"
            return "\(scheme)://\(auth)\(hosts)/\(sentinel.primaryName)/\(self.database)"
        }
        var auth = ""
        if self.username != nil || self.password != nil {
            auth = (self.username ?? "") + (self.password == nil ? "" : ":***") + "@"
        }
        switch self.endpoint {
        case .tcp(let host, let port):
            return "\(self.tls == nil ? "redis" : "rediss")://\(auth)\(host):\(port)/\(self.database)"
        case .unixSocket(let path):
            return "unix://\(auth)\(path)?db=\(self.database)"
        }
    }
}

/// Server-assisted client-side caching (`CLIENT TRACKING`) for ``RedisClient/cachedSend(_:)``.
public struct ClientSideCacheConfiguration: Sendable, Hashable {
    public enum Tracking: Sendable, Hashable {
        /// The server remembers the keys this client read and invalidates only those.
        case keys
        /// The server invalidates every key that starts with one of the prefixes, read or not
        /// (`BCAST`), and remembers nothing per key.
        case broadcast(prefixes: [String])
    }

    public var tracking: Tracking = .keys
    /// At most this many keys are kept...
    public var maxEntries: Int = 100_000
    /// ...and at most this many bytes of keys, arguments and replies (with a fixed overhead each).
    public var maxBytes: Int = 64 << 20
    /// How long the invalidation connection may take to answer a `PING`; one that does not
    /// answer within it ends tracking (and empties the cache) until it is re-established. It is
    /// pinged every quarter of the lease (``CoherenceConfiguration/lease``, or this interval
    /// without a barrier).
    public var healthCheckInterval: TimeAmount = .seconds(1)

    public init() {}

    /// For the start-up log: `on (tracking=keys, entries=…, mb=…, health_ms=…)`.
    public var summary: String {
        let tracking =
            switch self.tracking {
            case .keys: "keys"
            case .broadcast(let prefixes): "bcast:" + prefixes.joined(separator: ",")
            }
        return "on (tracking=\(tracking), entries=\(self.maxEntries), mb=\(self.maxBytes >> 20), "
            + "health_ms=\(self.healthCheckInterval.nanoseconds / 1_000_000))"
    }
}

/// The revocation barrier shared by every client of one deployment (see docs/OPERATIONS.md).
///
/// A client with a cache registers each of its tracking links in ``registryKey`` with a lease, and
/// renews it every quarter of ``lease``; a link uses its cache only while its lease holds, which
/// takes both a renewal that Redis confirmed and a `PING` answered on the invalidation connection
/// within the lease. A barrier publishes a marker to every registered link, behind the
/// invalidations Redis queued before it, and waits until each has answered it or, at the most,
/// for its lease.
public struct CoherenceConfiguration: Sendable, Hashable {
    /// What the marker and acknowledgement channels' names start with.
    public var channel: String
    /// The sorted set of registered links (a key with a hash tag of its own on a cluster).
    public var registryKey: String
    /// How long a link may use its cache after its last confirmed renewal; also the longest a
    /// barrier waits for a link that does not answer.
    public var lease: TimeAmount = Self.defaultLease
    public static let defaultLease: TimeAmount = .seconds(1)

    public init(channel: String, registryKey: String) {
        self.channel = channel
        self.registryKey = registryKey
    }
}

/// Where to find the primary through Redis Sentinel.
public struct SentinelConfiguration: Sendable, Hashable {
    public struct Address: Sendable, Hashable {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    public var sentinels: [Address]
    /// The name the sentinels monitor the primary under (`sentinel monitor NAME ...`).
    public var primaryName: String

    public init(sentinels: [Address], primaryName: String) {
        self.sentinels = sentinels
        self.primaryName = primaryName
    }

    /// Parses `host:port,host:port`.
    public init(list: String, primaryName: String) throws(RedisClientError) {
        guard let sentinels = Address.list(list) else {
            throw .invalidConfiguration("sentinels must be host:port pairs separated by commas")
        }
        guard !primaryName.isEmpty else {
            throw .invalidConfiguration("Sentinel needs at least one sentinel and a primary name")
        }
        self.init(sentinels: sentinels, primaryName: primaryName)
    }
}

extension SentinelConfiguration.Address {
    /// `host:port,host:port`, at least one; nil when malformed.
    static func list(_ text: String) -> [Self]? {
        var addresses: [Self] = []
        for entry in text.split(separator: ",") {
            let parts = entry.trimmingCharacters(in: .whitespaces).split(separator: ":")
            guard parts.count == 2, !parts[0].isEmpty, let port = Int(parts[1]), (1...65535).contains(port) else {
                return nil
            }
            addresses.append(Self(host: String(parts[0]), port: port))
        }
        return addresses.isEmpty ? nil : addresses
    }
}

/// Where to find a Redis Cluster: any of its nodes; the client learns the rest from them.
public struct ClusterConfiguration: Sendable, Hashable {
    public typealias Address = SentinelConfiguration.Address

    /// The nodes asked for the slot map when no known primary answers; one is enough, more survive
    /// that one being down.
    public var nodes: [Address]
    /// How often the slot map is refreshed when nothing prompts it (a redirection or a node lost
    /// prompts it at once).
    public var refreshInterval: TimeAmount = .seconds(10)

    public init(nodes: [Address]) {
        self.nodes = nodes
    }

    /// Parses `host:port,host:port`.
    public init(list: String) throws(RedisClientError) {
        guard let nodes = Address.list(list) else {
            throw .invalidConfiguration("cluster nodes must be host:port pairs separated by commas")
        }
        self.init(nodes: nodes)
    }
}
