import Benchmark
import NIOCore
import RedisClient

/// The Redis client's codec: hiredis's reply parser and the command encoder, as the channel uses them.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        maxDuration: .seconds(3)
    )

    // The harness's own cost, to subtract from the others' malloc counts.
    Benchmark("baseline: empty") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(benchmark) }
    }

    // The reply to the verify path's HMGET: two fields and a missing one.
    let hmgetReply = Array("*3\r\n$6\r\nactive\r\n$10\r\n1900000000\r\n$-1\r\n".utf8)
    Benchmark("RESPReader parse HMGET reply") { benchmark in
        let reader = RESPReader()
        for _ in benchmark.scaledIterations {
            try hmgetReply.withUnsafeBytes { try reader.feed($0) }
            blackHole(try reader.next())
        }
    }

    // Sixteen such replies in one read, as a pipelined burst arrives.
    let burst = Array(repeating: hmgetReply, count: 16).flatMap { $0 }
    Benchmark("RESPReader parse 16 pipelined replies") { benchmark in
        let reader = RESPReader()
        for _ in benchmark.scaledIterations {
            try burst.withUnsafeBytes { try reader.feed($0) }
            while let reply = try reader.next() { blackHole(reply) }
        }
    }

    let hmget = RedisCommand("HMGET", ["authd:session:0123456789abcdef0123456789abcdef", "state", "exp", "revoked"])
    Benchmark("RedisCommand encode HMGET") { benchmark in
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        for _ in benchmark.scaledIterations {
            buffer.clear()
            hmget.encode(into: &buffer)
            blackHole(buffer.readableBytes)
        }
    }

    let evalsha = RedisCommand(
        "EVALSHA",
        [
            String(repeating: "f", count: 40), "3", "authd:refresh:0123456789abcdef0123456789abcdef",
            "authd:session:0123456789abcdef0123456789abcdef", "authd:user-sessions:alice", "fedcba9876543210",
            "1900000000", "2592000", "900", "10",
        ]
    )
    Benchmark("RedisCommand encode EVALSHA, 3 keys and 4 arguments") { benchmark in
        var buffer = ByteBufferAllocator().buffer(capacity: 512)
        for _ in benchmark.scaledIterations {
            buffer.clear()
            evalsha.encode(into: &buffer)
            blackHole(buffer.readableBytes)
        }
    }
}
