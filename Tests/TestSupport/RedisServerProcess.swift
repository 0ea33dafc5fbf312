import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A redis-server of a test's own, started from the repository's `redis/redis.conf` on a free
/// port, for tests that kill, pause or restart Redis, or that need replicas and sentinels.
/// Never the suite's shared Redis.
public final class RedisServerProcess: @unchecked Sendable {
    // @unchecked: `process` is only touched from the test that owns this object, one call at a time.
    public let port: Int
    /// The TLS port of a server made with `init(tls:leaf:clientCertificates:)`.
    public let tlsPort: Int?
    public let directory: URL
    private let extraArguments: [String]
    /// For a sentinel: the configuration file it runs from (Sentinel rewrites it).
    private let sentinelConfig: URL?
    private var process: Process?

    public var url: String { "redis://127.0.0.1:\(self.port)" }

    public init(extraArguments: [String] = [], tlsPort: Int? = nil) throws {
        self.port = try freePort()
        self.tlsPort = tlsPort
        self.directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("authd-redis-\(UUID().uuidString.prefix(8))")
        self.extraArguments = extraArguments
        self.sentinelConfig = nil
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
    }

    /// A Redis Sentinel monitoring the primary on `primaryPort` as `name`, with short timeouts so
    /// that a failover happens within a few seconds. Not shorter: with 500 ms, a primary starved of
    /// CPU by the parallel suite was once taken for dead, and a failover came before the test's own.
    /// With `tls`, it also listens on a TLS port and speaks TLS to the servers it monitors
    /// (`primaryPort` is then the primary's TLS port).
    public init(sentinelFor name: String, primaryPort: Int, quorum: Int = 2, tls: TestCertificates? = nil) throws {
        self.port = try freePort()
        self.tlsPort = try tls.map { _ in try freePort() }
        self.directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("authd-sentinel-\(UUID().uuidString.prefix(8))")
        self.extraArguments = []
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        let config = self.directory.appendingPathComponent("sentinel.conf")
        var lines = [
            "port \(self.port)",
            "bind 127.0.0.1",
            "dir \(self.directory.path)",
            "sentinel monitor \(name) 127.0.0.1 \(primaryPort) \(quorum)",
            "sentinel down-after-milliseconds \(name) 2000",
            "sentinel failover-timeout \(name) 3000",
            "sentinel parallel-syncs \(name) 1",
        ]
        if let tls, let tlsPort = self.tlsPort {
            lines += [
                "tls-port \(tlsPort)", "tls-cert-file \(tls.path("server.crt"))",
                "tls-key-file \(tls.path("server.key"))", "tls-ca-cert-file \(tls.ca)", "tls-auth-clients no",
                "tls-replication yes",
            ]
        }
        try (lines.joined(separator: "\n") + "\n").write(to: config, atomically: true, encoding: .utf8)
        self.sentinelConfig = config
    }

    deinit {
        // SIGKILL, not SIGTERM: a child of this process inherits its blocked-signal mask, in which
        // SIGTERM is blocked, so a SIGTERM never arrived and every test's servers outlived it,
        // loading the machine for the rest of the run. These servers hold nothing worth saving.
        // Not waited for here: that would block a thread of the two-thread cooperative pool.
        if let pid = self.process?.processIdentifier { Glibc.kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(at: self.directory)
    }

    /// Starts redis-server and waits until it answers PING.
    public func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        if let sentinelConfig = self.sentinelConfig {
            process.arguments = ["redis-server", sentinelConfig.path, "--sentinel"]
        } else {
            // A copy in the server's own directory: CONFIG REWRITE (which Sentinel sends to a
            // promoted replica) must never rewrite the repository's file.
            let config = self.directory.appendingPathComponent("redis.conf")
            if !FileManager.default.fileExists(atPath: config.path) {
                try FileManager.default.copyItem(
                    at: repositoryRoot.appendingPathComponent("redis/redis.conf"), to: config)
            }
            process.arguments =
                [
                    "redis-server", config.path,
                    "--port", String(self.port), "--dir", self.directory.path,
                    "--appendonly", "no", "--daemonize", "no", "--logfile", "",
                ] + self.extraArguments
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        for _ in 0..<200 {
            let answer = try await self.cli(["ping"])
            // A server with a password answers NOAUTH, a replica loading its first sync LOADING:
            // either is up all the same.
            if ["PONG", "NOAUTH", "LOADING"].contains(where: answer.contains) {
                // The answer must be this server's: one that could not bind its port has exited.
                guard process.isRunning else {
                    throw TestFailure("redis-server could not take port \(self.port): another process holds it")
                }
                return
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw TestFailure("redis-server on port \(self.port) did not start")
    }

    /// Whether the server was started and has not been killed.
    public var isRunning: Bool { self.process.map { !Self.hasExited($0.processIdentifier) } ?? false }

    /// SIGKILL: the server vanishes at once, as in a crash.
    public func kill() {
        guard let process = self.process else { return }
        let pid = process.processIdentifier
        Glibc.kill(pid, SIGKILL)
        // Not waitUntilExit(), which spins forever when Foundation misses the exit (AuthdProcess).
        let end = Date().addingTimeInterval(5)
        while !Self.hasExited(pid), Date() < end { usleep(2_000) }
        self.process = nil
    }

    /// SIGSTOP / SIGCONT: the server keeps its sockets open but answers nothing.
    public func pause() { self.signal(SIGSTOP) }
    public func resume() { self.signal(SIGCONT) }

    private func signal(_ signal: Int32) {
        guard let pid = self.process?.processIdentifier else { return }
        Glibc.kill(pid, signal)
    }

    /// Runs redis-cli against this server and returns what it printed.
    /// How many times the server has run `command` (lower case, as `INFO commandstats` names it):
    /// proof that a command was served, whatever became of its reply.
    public func calls(of command: String) async throws -> Int {
        let stats = try await self.cli(["INFO", "commandstats"])
        guard
            let line = stats.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("cmdstat_\(command):") }),
            let calls = line.split(separator: "=").dropFirst().first?.split(separator: ",").first
        else { return 0 }
        return Int(calls) ?? 0
    }

    public func cli(_ arguments: [String]) async throws -> String {
        try await runTool(["redis-cli", "-p", String(self.port)] + arguments, within: .seconds(20)).output
    }
}

/// Runs a tool (redis-cli, openssl) to its end and returns its exit status and what it printed on
/// stdout, and on stderr too with `errors`. The output goes through a file, not a pipe: a pipe
/// that nobody reads until the tool exits stops a tool that prints more than the pipe holds.
func runTool(
    _ arguments: [String], in directory: URL? = nil, errors: Bool = false, within limit: Duration
) async throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("authd-tool-\(UUID()).out")
    _ = FileManager.default.createFile(atPath: file.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: file) }
    let handle = try FileHandle(forWritingTo: file)
    defer { try? handle.close() }
    process.standardOutput = handle
    process.standardError = errors ? handle : FileHandle.nullDevice
    try process.run()
    try await RedisServerProcess.waitForExit(process, within: limit, arguments.prefix(2).joined(separator: " "))
    let output = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
    return (RedisServerProcess.exitStatus(of: process), output)
}

extension RedisServerProcess {
    /// Waits for a started tool to exit, without blocking a thread of the (two-thread)
    /// cooperative pool. Polled rather than awaited through `terminationHandler`, which Foundation
    /// on Linux has been seen not to call; a tool that outlives `limit` is killed.
    static func waitForExit(_ process: Process, within limit: Duration, _ name: String) async throws {
        let deadline = ContinuousClock.now + limit
        let pid = process.processIdentifier
        while process.isRunning, !Self.hasExited(pid) {
            if ContinuousClock.now > deadline {
                Glibc.kill(pid, SIGKILL)
                throw TestFailure("\(name) did not finish in \(limit)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

extension RedisServerProcess {
    /// The exit status of a process that has exited (``waitForExit(_:within:_:)``): Foundation's,
    /// or, when Foundation missed the exit and the process is a zombie still, the kernel's from
    /// /proc (the last field of `stat`, in `wait` format).
    static func exitStatus(of process: Process) -> Int32 {
        // Foundation may be reaping it right now: then /proc no longer has it, and `isRunning`
        // turns false a moment later.
        for _ in 0..<400 {
            if !process.isRunning { return process.terminationStatus }
            if let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            {
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                if fields.first == "Z",
                    let last = fields.last.flatMap({ Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
                {
                    return (last >> 8) & 0xFF
                }
            }
            usleep(5_000)
        }
        return -1
    }

    /// Whether the process has exited, whether or not it was reaped: gone, or a zombie.
    static func hasExited(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The repository's root, found from this file's path.
public let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Ports already handed out in this process. The kernel can pick a port again once the probe
/// socket below is closed, and tests run in parallel: two servers started on one port made one
/// test talk to the other's server, which that test paused or killed.
private let portsHandedOut = Mutex<Set<Int>>([])

/// A TCP port nothing is bound to right now, below the kernel's ephemeral range, and never the
/// same twice in one process.
///
/// Not a port the kernel picks (bind to port 0): those come from the ephemeral range, which the
/// outgoing connections of the parallel tests (thousands per second under the load tests) use as
/// their local ports too. A redis-server given such a port could find it taken by the time it
/// binds, and never started.
public func freePort() throws -> Int {
    for _ in 0..<1000 {
        let port = Int.random(in: 20000..<32000)
        guard portsHandedOut.withLock({ $0.insert(port).inserted }) else { continue }
        if canBind(port) { return port }
    }
    throw TestFailure("no fresh free port")
}

private func canBind(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    let length = socklen_t(MemoryLayout<sockaddr_in>.size)
    return withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 }
    }
}
