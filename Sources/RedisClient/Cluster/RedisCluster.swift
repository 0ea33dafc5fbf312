import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The client's cluster mode: a ``ClusterSlotMap`` from `CLUSTER SLOTS`, a ``RedisNodePool`` per
/// primary, and commands routed by their key's slot (``ClusterRun``), following each
/// ``Redirection``; when to read the map again is ``ClusterRefresh``'s.
///
/// - `MOVED` updates the map and retries on the new owner; `ASK` retries once on the target,
///   after `ASKING`; `TRYAGAIN` and `CLUSTERDOWN` back off and retry within the command's
///   deadline, then fail as ``RedisClientError/unavailable``.
/// - The map is refreshed at start, after every redirection and every failure to reach a node
///   (at most every 100 ms), and every ``ClusterConfiguration/refreshInterval``: a failover is
///   followed without a restart.
/// - A node that is down fails its commands fast, as the single-server client does; commands
///   for the other shards go on.
final class RedisCluster: Sendable {
    typealias Node = ClusterNode

    private struct State {
        var map = ClusterSlotMap()
        var pools: [Node: RedisNodePool] = [:]
        var refresh = ClusterRefresh<EventLoopFuture<Void>>()
        var shutdown = false
        var ticker: RepeatedTask?
    }

    private let configuration: RedisConfiguration
    private let seeds: [Node]
    private let loops: [any EventLoop]
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    init(configuration: RedisConfiguration, loops: [any EventLoop], logger: Logger) {
        self.configuration = configuration
        self.seeds = (configuration.cluster?.nodes ?? []).map { Node(host: $0.host, port: $0.port) }
        self.loops = loops
        self.logger = logger
        self.refresh()
        let interval = configuration.cluster?.refreshInterval ?? .seconds(10)
        let ticker = loops[0].scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            self.refresh()
        }
        self.state.withLockedValue { $0.ticker = ticker }
    }

    // MARK: Commands

    /// One command: a batch of one, so that a single command and a batch follow redirections by
    /// the same rules. An error reply is thrown.
    func send(_ command: RedisCommand, deadline: NIODeadline) async throws -> RedisValue {
        let reply = try await self.pipeline([command], deadline: deadline)[0]
        if case .error(let error) = reply { throw error }
        return reply
    }

    /// A batch split by node: each run of commands that starts with a keyed command (and takes the
    /// keyless ones after it, such as a `WAIT`) goes to that key's primary, and runs redirected or
    /// told to try again are sent again. Waits for TRYAGAIN are bounded by the deadline, and
    /// redirections (few: a slot moves once) by a count of rounds.
    func pipeline(_ commands: [RedisCommand], deadline: NIODeadline) async throws -> [RedisValue] {
        var runs = ClusterRun.split(commands)
        var replies = [RedisValue?](repeating: nil, count: commands.count)
        var pause = TimeAmount.milliseconds(10)
        var redirections = 0
        while !runs.isEmpty, redirections < 16 {
            // One batch per node, sent at once; each run's replies are found by its offset.
            var batches: [Node: (pool: RedisNodePool, commands: [RedisCommand], runs: [(ClusterRun, offset: Int)])] =
                [:]
            for run in runs {
                let (node, pool) = try await self.pool(slot: run.slot, redirectedTo: run.redirected, deadline: deadline)
                var batch = batches[node] ?? (pool, [], [])
                batch.runs.append((run, batch.commands.count))
                if run.redirected != nil { batch.commands.append(RedisCommand("ASKING")) }
                batch.commands += commands[run.range]
                batches[node] = batch
            }
            let sent = batches.map { node, batch in
                (node, batch, batch.pool.send(batch: batch.commands, deadline: deadline))
            }
            var again: [ClusterRun] = []
            var mustWait = false
            // Rounds with a redirection are counted, not redirections: after a reshard, every run
            // of a batch may be told MOVED at once.
            var wasRedirected = false
            for (node, batch, future) in sent {
                let answers: [RedisValue]
                do {
                    answers = try await future.get()
                } catch let error as RedisClientError {
                    self.unreachable(node, error)
                    throw error
                }
                for (run, offset) in batch.runs {
                    let start = offset + (run.redirected == nil ? 0 : 1)
                    if case .error(let error) = answers[start], let redirection = Redirection(error, from: node) {
                        RedisMetrics.redirection(redirection.kind)
                        var retry = run
                        retry.redirected = nil
                        switch redirection {
                        case .moved(let slot, let owner):
                            self.learn(slot: slot, owner: owner)
                            wasRedirected = true
                        case .ask(let target):
                            retry.redirected = target
                            wasRedirected = true
                        case .retryLater:
                            mustWait = true
                        }
                        again.append(retry)
                        continue
                    }
                    for (index, reply) in zip(run.range, answers[start...]) { replies[index] = reply }
                }
            }
            runs = again
            if wasRedirected { redirections += 1 }
            if mustWait { try await self.wait(&pause, until: deadline) }
        }
        guard runs.isEmpty else { throw RedisClientError.unavailable }
        return replies.map { $0 ?? .null }
    }

    func broadcast(_ command: RedisCommand, deadline: NIODeadline) async throws -> [RedisValue] {
        try await self.awaitFirstMap(until: deadline)
        let pools = self.state.withLockedValue { state in state.map.primaries.compactMap { state.pools[$0] } }
        guard !pools.isEmpty else { throw RedisClientError.unavailable }
        var replies: [RedisValue] = []
        for future in pools.map({ $0.send(batch: [command], deadline: deadline) }) {
            replies += try await future.get()
        }
        return replies
    }

    /// The primaries of the map (`host:port`), once there is one.
    func primaryAddresses(deadline: NIODeadline) async throws -> [String] {
        try await self.awaitFirstMap(until: deadline)
        return self.primaries.map(\.description).sorted()
    }

    /// Sends a command to the primary named `node` (`host:port`, as the slot map names it).
    func send(_ command: RedisCommand, toNode node: String, deadline: NIODeadline) async throws -> RedisValue {
        guard let node = Node(address: node) else { throw RedisClientError.unavailable }
        let replies = try await self.pool(for: node).send(batch: [command], deadline: deadline).get()
        if case .error(let error) = replies[0] { throw error }
        return replies[0]
    }

    func connectedCount() -> Int {
        self.state.withLockedValue { state in state.pools.values.map { $0.connectedCount() } }.reduce(0, +)
    }

    func shutdown() async {
        let pools = self.state.withLockedValue { state in
            state.shutdown = true
            state.refresh.shutDown()
            state.ticker?.cancel()
            defer { state.pools = [:] }
            return Array(state.pools.values)
        }
        for pool in pools { await pool.shutdown() }
    }

    // MARK: Routing

    /// The primary that serves `key` by the current map (nil before the first map, or for a slot no
    /// primary serves), with the map's version. The client-side cache follows the map by it: it is
    /// the client's to decide what a change means for the cache, not the cluster's.
    func route(ofKey key: [UInt8]) -> (owner: Node?, mapVersion: UInt64) {
        let slot = ClusterSlot.of(key: key)
        return self.state.withLockedValue { ($0.map[slot: slot], $0.map.version) }
    }

    /// The primaries the current map names.
    var primaries: Set<Node> {
        self.state.withLockedValue { $0.map.primaries }
    }

    /// The pool for a slot (any primary's for a keyless command), or for a redirection's target.
    private func pool(slot: Int?, redirectedTo target: Node?, deadline: NIODeadline) async throws -> (
        Node, RedisNodePool
    ) {
        if let target { return (target, self.pool(for: target)) }
        try await self.awaitFirstMap(until: deadline)
        let found: (Node, RedisNodePool)? = self.state.withLockedValue { state in
            let node: Node? =
                if let slot { state.map[slot: slot] } else {
                    state.pools.first(where: { $0.value.connectedCount() > 0 })?.key ?? state.pools.keys.first
                }
            return node.flatMap { node in state.pools[node].map { (node, $0) } }
        }
        guard let found else {
            // A slot no primary serves: the cluster is down for it, or the map is stale.
            self.refresh(ifOlderThan: .milliseconds(100))
            RedisMetrics.error("unavailable")
            throw RedisClientError.unavailable
        }
        return found
    }

    private func pool(for node: Node) -> RedisNodePool {
        let (pool, created) = self.state.withLockedValue { state -> (RedisNodePool, Bool) in
            if let pool = state.pools[node] { return (pool, false) }
            // After shutdown: a pool that is never stored, whose commands fail at once.
            guard !state.shutdown else { return (self.makePool(node), false) }
            let pool = self.makePool(node)
            state.pools[node] = pool
            return (pool, true)
        }
        if created { self.logger.info("redis cluster node added", metadata: ["node": "\(node)"]) }
        return pool
    }

    private func makePool(_ node: Node) -> RedisNodePool {
        RedisNodePool(
            configuration: self.configuration.node(host: node.host, port: node.port), loops: self.loops,
            label: node.description, logger: self.logger
        )
    }

    /// A `MOVED` reply: the slot has a new owner, at once; the rest of the map may have changed
    /// too (a failover moves thousands of slots), so it is refreshed.
    private func learn(slot: Int, owner: Node) {
        _ = self.state.withLockedValue { state in state.map.move(slot: slot, to: owner) }
        _ = self.pool(for: owner)
        self.refresh(ifOlderThan: .milliseconds(100))
    }

    private func unreachable(_ node: Node, _ error: RedisClientError) {
        switch error {
        case .unavailable, .connectionClosed, .connectFailed, .connectTimeout, .timeout:
            // Perhaps a failover: its replica may own the slots by now.
            self.refresh(ifOlderThan: .milliseconds(100))
        default:
            break
        }
    }

    private func wait(_ pause: inout TimeAmount, until deadline: NIODeadline) async throws {
        guard NIODeadline.now() + pause < deadline else {
            RedisMetrics.error("unavailable")
            throw RedisClientError.unavailable
        }
        try await Task.sleep(nanoseconds: UInt64(pause.nanoseconds))
        pause = min(pause * 2, .milliseconds(200))
    }

    /// Waits, within the deadline, for the first map, so that commands sent just after start do not
    /// fail for want of one.
    private func awaitFirstMap(until deadline: NIODeadline) async throws {
        guard !self.state.withLockedValue({ $0.map.isKnown }) else { return }
        // While no node answers, at most one attempt per 100 ms, however many commands wait.
        let refreshing = self.refresh(ifOlderThan: .milliseconds(100))
        let loop = refreshing.eventLoop
        let promise = loop.makePromise(of: Void.self)
        let timeout = loop.scheduleTask(deadline: deadline) { promise.fail(RedisClientError.unavailable) }
        refreshing.whenComplete { _ in
            timeout.cancel()
            promise.succeed()
        }
        try await promise.futureResult.get()
    }

    // MARK: The slot map

    /// Asks the known primaries, then the configured nodes, for `CLUSTER SLOTS`, one at a time
    /// until one answers. One refresh runs at a time; a caller during one shares it.
    @discardableResult
    private func refresh(ifOlderThan age: TimeAmount = .zero) -> EventLoopFuture<Void> {
        let loop = self.loops[0]
        enum Next {
            case wait(EventLoopFuture<Void>)
            /// A new refresh, its promise, and the primaries it asks first.
            case start(EventLoopPromise<Void>, known: [Node])
        }
        let next = self.state.withLockedValue { state -> Next in
            switch state.refresh.requested(at: .now(), unlessWithin: age) {
            case .shutDown: return .wait(loop.makeFailedFuture(RedisClientError.shutdown))
            case .join(let running): return .wait(running)
            case .recent: return .wait(loop.makeSucceededVoidFuture())
            case .start:
                let promise = loop.makePromise(of: Void.self)
                state.refresh.started(promise.futureResult)
                return .start(promise, known: Array(state.map.primaries))
            }
        }
        let (promise, known): (EventLoopPromise<Void>, [Node])
        switch next {
        case .wait(let future): return future
        case .start(let started, let primaries): (promise, known) = (started, primaries)
        }
        let candidates = known + self.seeds.filter { !known.contains($0) }
        var attempt: EventLoopFuture<[ClusterSlotRange]> = loop.makeFailedFuture(
            RedisClientError.connectFailed("no cluster node answered CLUSTER SLOTS"))
        for node in candidates {
            attempt = attempt.flatMapError { _ in self.askSlots(node, on: loop) }
        }
        attempt.whenComplete { result in
            switch result {
            case .success(let ranges): self.apply(ranges)
            case .failure(let error):
                self.logger.warning("redis cluster map refresh failed", metadata: ["error": "\(error)"])
            }
            self.state.withLockedValue { $0.refresh.ended(at: .now()) }
            promise.succeed()
        }
        return promise.futureResult
    }

    private func askSlots(_ node: Node, on loop: any EventLoop) -> EventLoopFuture<[ClusterSlotRange]> {
        RedisConnection.ask(
            RedisCommand("CLUSTER", ["SLOTS"]), at: .tcp(host: node.host, port: node.port), on: loop,
            configuration: self.configuration.node(host: node.host, port: node.port)
        )
        .flatMapThrowing { reply in try ClusterSlotRange.parse(clusterSlots: reply, from: node) }
    }

    private func apply(_ ranges: [ClusterSlotRange]) {
        let (retired, changed) = self.state.withLockedValue { state -> ([RedisNodePool], (Set<Node>, Int)?) in
            guard !state.shutdown else { return ([], nil) }
            let changed = state.map.replace(with: ranges)
            let primaries = state.map.primaries
            for node in primaries where state.pools[node] == nil { state.pools[node] = self.makePool(node) }
            let gone = state.pools.keys.filter { !primaries.contains($0) }
            return (
                gone.compactMap { state.pools.removeValue(forKey: $0) },
                changed ? (primaries, state.map.slotsCovered) : nil
            )
        }
        if let (primaries, covered) = changed {
            self.logger.info(
                "redis cluster map",
                metadata: [
                    "primaries": "\(primaries.map(\.description).sorted().joined(separator: ","))",
                    "slots_covered": "\(covered)",
                ])
        }
        // Commands in flight on a node that is no longer a primary fail; callers see a closed
        // connection, as for any node lost.
        for pool in retired { Task { await pool.shutdown() } }
    }
}
