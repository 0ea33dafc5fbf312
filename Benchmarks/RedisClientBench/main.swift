import Foundation
import Logging
import NIOCore
import NIOPosix
import RedisClient

// Throughput of RedisClient against a real Redis, in the two shapes redis-benchmark measures:
//   concurrent: C callers, each awaiting one command at a time (redis-benchmark -c C)
//   pipelined:  C callers, each sending P commands before awaiting them (redis-benchmark -c C -P P)
// Usage: redis-client-bench URL concurrent|pipelined [requests] [callers] [pipeline]
// Prints one line per command: "SET: 123456.7 requests per second".

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    print("usage: redis-client-bench URL concurrent|pipelined [requests] [callers] [pipeline]")
    exit(2)
}
let url = arguments[1]
let pipelined = arguments[2] == "pipelined"
let requests = arguments.count > 3 ? Int(arguments[3])! : 200_000
let callers = arguments.count > 4 ? Int(arguments[4])! : (pipelined ? 50 : 64)
let depth = pipelined ? (arguments.count > 5 ? Int(arguments[5])! : 16) : 1

var logger = Logger(label: "bench")
logger.logLevel = .error
let redis = RedisClient(
    configuration: try RedisConfiguration(url: url),
    eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
    logger: logger
)
while (try? await redis.ping()) == nil { try await Task.sleep(for: .milliseconds(10)) }

func run(_ name: String, _ makeCommand: @escaping @Sendable (Int) -> RedisCommand) async throws {
    let perCaller = requests / callers
    let clock = ContinuousClock()
    let started = clock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for caller in 0..<callers {
            group.addTask {
                var index = 0
                while index < perCaller {
                    let batch = min(depth, perCaller - index)
                    if batch == 1 {
                        _ = try await redis.send(makeCommand(caller * perCaller + index))
                    } else {
                        _ = try await redis.pipeline((0..<batch).map { makeCommand(caller * perCaller + index + $0) })
                    }
                    index += batch
                }
            }
        }
        try await group.waitForAll()
    }
    let elapsed = clock.now - started
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print(String(format: "%@: %.1f requests per second", name, Double(perCaller * callers) / seconds))
}

let value = String(repeating: "x", count: 3)  // redis-benchmark's default payload is 3 bytes
try await run("SET") { RedisCommand("SET", ["key:\($0 % 100_000)", value]) }
try await run("GET") { RedisCommand("GET", ["key:\($0 % 100_000)"]) }
await redis.shutdown()
