/// A batch as the cluster sends it: runs of commands, each starting with a keyed command and taking
/// the keyless ones after it (a `WAIT` goes where the write before it went), each for its key's slot.
struct ClusterRun: Equatable, Sendable {
    /// The commands of the batch it holds.
    var range: Range<Int>
    /// Its first command's slot; nil for a batch with no key at all (any primary serves it).
    var slot: Int?
    /// An `ASK`'s target, for the one retry there.
    var redirected: ClusterNode?

    /// The runs of `commands`. Leading keyless commands go with the first keyed one.
    static func split(_ commands: [RedisCommand]) -> [ClusterRun] {
        var runs: [ClusterRun] = []
        for (index, command) in commands.enumerated() {
            if let key = command.firstKey {
                runs.append(ClusterRun(range: index..<(index + 1), slot: ClusterSlot.of(key: key)))
            } else if runs.isEmpty {
                runs.append(ClusterRun(range: index..<(index + 1), slot: nil))
            } else {
                runs[runs.count - 1].range = runs[runs.count - 1].range.lowerBound..<(index + 1)
            }
        }
        if runs.count > 1, runs[0].slot == nil {
            runs[1].range = runs[0].range.lowerBound..<runs[1].range.upperBound
            runs.removeFirst()
        }
        return runs
    }
}
