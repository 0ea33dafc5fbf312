import Logging
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// The client-side cache and the tracking that keeps it true: one ``InvalidationLink`` to the server
/// (or the primary Sentinel names), or one per primary of a cluster, made when a key of that
/// primary is first read. Any link lost, and on a cluster any change of the slot map, empties the
/// whole cache.
final class ClientSideCacheInvalidator: Sendable {
    let cache: ClientSideCache
    private let configuration: RedisConfiguration
    private let loops: [any EventLoop]
    private let logger: Logger
    /// The only link, unless on a cluster.
    private let single: InvalidationLink?
    private let links = NIOLockedValueBox<(byNode: [ClusterNode: InvalidationLink], shutdown: Bool)>(([:], false))
    /// The cluster map version the cache last followed: read on every cached read, so an atomic,
    /// not the links' lock.
    private let followedMapVersion = Atomic<UInt64>(0)
    /// How the links register for the barrier, when there is one.
    private let registrar: Registrar?

    init(
        configuration: RedisConfiguration, cache: ClientSideCacheConfiguration, loops: [any EventLoop], logger: Logger,
        registrar: Registrar?
    ) {
        self.cache = ClientSideCache(maxEntries: cache.maxEntries, maxBytes: cache.maxBytes)
        self.registrar = registrar
        self.configuration = configuration
        self.loops = loops
        self.logger = logger
        guard configuration.cluster == nil else {
            self.single = nil
            return
        }
        let resolve: @Sendable (any EventLoop) -> EventLoopFuture<RedisConfiguration.Endpoint> =
            if let sentinel = configuration.sentinel {
                { loop in Sentinel.primaryAddress(sentinel, on: loop, configuration: configuration) }
            } else {
                { [endpoint = configuration.endpoint] loop in loop.makeSucceededFuture(endpoint) }
            }
        let link = InvalidationLink(
            label: InvalidationLink.singleLabel, eventLoop: loops[0], configuration: configuration, cache: self.cache,
            logger: logger,
            resolve: resolve, registrar: registrar)
        self.single = link
        link.start()
    }

    /// The link for a read of a key served by `node` (nil: not on a cluster).
    func link(for node: ClusterNode?) -> InvalidationLink? {
        guard let node else { return self.single }
        let (link, created) = self.links.withLockedValue { links -> (InvalidationLink?, Bool) in
            if let link = links.byNode[node] { return (link, false) }
            guard !links.shutdown else { return (nil, false) }
            let configuration = self.configuration.node(host: node.host, port: node.port)
            let link = InvalidationLink(
                label: node.description, eventLoop: self.loops[links.byNode.count % self.loops.count],
                configuration: configuration, cache: self.cache, logger: self.logger,
                resolve: { [endpoint = configuration.endpoint] loop in loop.makeSucceededFuture(endpoint) },
                registrar: self.registrar)
            links.byNode[node] = link
            return (link, true)
        }
        if created { link?.start() }
        return link
    }

    /// Called with the cluster's map version before every read of the cache on a cluster. When
    /// the map changed since the last call, a key read from one node may now be written on
    /// another, which never tracked it: the cache is emptied, and the links of nodes that are no
    /// longer primaries end. Every read checks first, so no reply kept under an older map is used.
    func follow(mapVersion: UInt64, primaries: () -> Set<ClusterNode>) {
        var seen = self.followedMapVersion.load(ordering: .acquiring)
        while true {
            guard mapVersion > seen else { return }
            let (exchanged, original) = self.followedMapVersion.compareExchange(
                expected: seen, desired: mapVersion, ordering: .acquiringAndReleasing)
            if exchanged { break }
            seen = original
        }
        self.cache.flush("topology")
        let current = primaries()
        let retired = self.links.withLockedValue { links in
            let gone = links.byNode.keys.filter { !current.contains($0) }
            return gone.compactMap { links.byNode.removeValue(forKey: $0) }
        }
        for link in retired { link.shutdown().whenComplete { _ in } }
    }

    /// Whether every link made so far may answer from the cache now: up, and its lease confirmed
    /// (after the flush a first registration makes).
    var allServing: Bool {
        let links = self.links.withLockedValue { Array($0.byNode.values) } + (self.single.map { [$0] } ?? [])
        return !links.isEmpty && links.allSatisfy(\.mayServe)
    }

    /// Whether every link made so far is up (and at least one exists).
    var allUp: Bool {
        let links = self.links.withLockedValue { Array($0.byNode.values) } + (self.single.map { [$0] } ?? [])
        return !links.isEmpty && links.allSatisfy(\.isUp)
    }

    func shutdown() async {
        let links = self.links.withLockedValue { links in
            links.shutdown = true
            defer { links.byNode = [:] }
            return Array(links.byNode.values)
        }
        for link in links + (self.single.map { [$0] } ?? []) {
            try? await link.shutdown().get()
        }
    }
}
