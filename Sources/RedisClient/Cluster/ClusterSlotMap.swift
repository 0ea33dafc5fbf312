/// Which primary serves each hash slot, as `CLUSTER SLOTS` and `MOVED` replies tell it. Its
/// ``version`` changes with every change of an owner, for whoever follows the map (the
/// client-side cache, which must not keep what a node read once that node's slots have moved).
struct ClusterSlotMap: Sendable {
    /// Each slot's primary; nil until known, or while no primary serves it.
    private var owners: [ClusterNode?] = Array(repeating: nil, count: ClusterSlot.count)
    /// Starts at 0 (no map yet) and grows by one with every change.
    private(set) var version: UInt64 = 0

    init() {}

    subscript(slot slot: Int) -> ClusterNode? { self.owners[slot] }

    /// Whether a map has been read at least once.
    var isKnown: Bool { self.version > 0 }

    /// The primaries the map names.
    var primaries: Set<ClusterNode> { Set(self.owners.compactMap { $0 }) }

    /// How many slots have an owner (16384 when the cluster is whole).
    var slotsCovered: Int { self.owners.count(where: { $0 != nil }) }

    /// The whole map, from `CLUSTER SLOTS`. Returns whether any owner changed (the first map always
    /// counts as a change).
    @discardableResult
    mutating func replace(with ranges: [ClusterSlotRange]) -> Bool {
        var owners = [ClusterNode?](repeating: nil, count: ClusterSlot.count)
        for range in ranges {
            for slot in range.slots { owners[slot] = range.primary }
        }
        guard owners != self.owners || self.version == 0 else { return false }
        self.owners = owners
        self.version += 1
        return true
    }

    /// A `MOVED`: one slot's new owner, at once. Returns whether it changed.
    @discardableResult
    mutating func move(slot: Int, to owner: ClusterNode) -> Bool {
        guard self.owners[slot] != owner else { return false }
        self.owners[slot] = owner
        self.version += 1
        return true
    }
}

/// One entry of `CLUSTER SLOTS`: a range of slots and its primary.
struct ClusterSlotRange: Equatable, Sendable {
    var slots: ClosedRange<Int>
    var primary: ClusterNode

    /// The ranges of a `CLUSTER SLOTS` reply from `node`:
    /// `[[start, end, [host, port, id, ...], replicas...], ...]`. An empty host (or `?`) means the
    /// node that replied. Anything else than whole, valid ranges is refused.
    static func parse(clusterSlots reply: RedisValue, from node: ClusterNode) throws -> [ClusterSlotRange] {
        var ranges: [ClusterSlotRange] = []
        for entry in reply.array ?? [] {
            guard let parts = entry.array, parts.count >= 3, let start = parts[0].int, let end = parts[1].int,
                0 <= start, start <= end, end < ClusterSlot.count,
                let primary = parts[2].array, primary.count >= 2, let host = primary[0].string,
                let port = primary[1].int, (1...65535).contains(port)
            else { throw RedisClientError.unexpectedReply(command: "CLUSTER SLOTS") }
            let owner = ClusterNode(host: host.isEmpty || host == "?" ? node.host : host, port: port)
            ranges.append(ClusterSlotRange(slots: start...end, primary: owner))
        }
        guard !ranges.isEmpty else { throw RedisClientError.unexpectedReply(command: "CLUSTER SLOTS") }
        return ranges
    }
}
