import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The real `authd` binary (the one `swift build` made beside the tests), started as an operator
/// starts it: settings in the environment or a `.env` file, nothing set in code.
public final class AuthdProcess: @unchecked Sendable {
    // @unchecked: `process` is only touched by the test that owns this object, one call at a time.
    public let port: Int
    public let client: TestHTTPClient
    private let process: Process
    private let logFile: URL

    /// The binary built beside the test bundle.
    public static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("authd")
    }

    /// Starts `authd serve` with exactly `environment` (plus PATH) and, when given, a `.env` file
    /// of `dotEnv` lines. `AUTHD_PORT` is set to a free port unless the environment names one.
    public static func start(
        environment: [String: String], dotEnv: [String: String] = [:], host: String = "127.0.0.1"
    ) throws -> AuthdProcess {
        var environment = environment
        let port = try environment["AUTHD_PORT"].flatMap(Int.init) ?? freePort()
        environment["AUTHD_PORT"] = String(port)
        environment["PATH"] = ProcessInfo.processInfo.environment["PATH"]
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("authd-bin-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let envFile = directory.appendingPathComponent("settings.env")
        try dotEnv.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
            .write(to: envFile, atomically: true, encoding: .utf8)
        let logFile = directory.appendingPathComponent("stderr.log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let process = Process()
        process.executableURL = self.binary
        process.arguments = ["serve", "--env-file", envFile.path]
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: logFile)
        try process.run()
        return AuthdProcess(process: process, port: port, host: host, logFile: logFile)
    }

    private init(process: Process, port: Int, host: String, logFile: URL) {
        self.process = process
        self.port = port
        self.logFile = logFile
        self.client = TestHTTPClient(port: port, host: host)
    }

    deinit {
        self.stop()
    }

    /// What the process wrote to stderr so far.
    public var log: String {
        (try? String(contentsOf: self.logFile, encoding: .utf8)) ?? ""
    }

    public var isRunning: Bool { !RedisServerProcess.hasExited(self.process.processIdentifier) }

    /// Waits until `/readyz` answers 200 (20 s at most: a debug build on a loaded machine).
    public func waitUntilReady(timeout: Duration = .seconds(20)) async throws {
        try await waitUntil(within: timeout, every: .milliseconds(50), "authd was not ready: \(self.log)") {
            guard self.isRunning else { throw TestFailure("authd exited: \(self.log)") }
            return try await self.client.get("/readyz").status == 200
        }
    }

    /// Waits for the process to exit by itself (a refusal to start), and returns its status.
    public func waitForExit(timeout: Duration = .seconds(20)) async throws -> Int32 {
        try await waitUntil(within: timeout, "authd did not exit: \(self.log)") { !self.isRunning }
        return RedisServerProcess.exitStatus(of: self.process)
    }

    /// Waits until the log contains `text`.
    public func waitForLog(_ text: String, timeout: Duration = .seconds(20)) async throws {
        try await waitUntil(within: timeout, "no '\(text)' in the log: \(self.log)") { self.log.contains(text) }
    }

    /// SIGKILL, and waits (5 s at most) for the process to go.
    ///
    /// Never `waitUntilExit()`, nor `isRunning` alone: Foundation on Linux has been seen to miss a
    /// child's exit, and then `waitUntilExit()` spins forever on a thread of the two-thread
    /// cooperative pool. That was the suite's rare hang, caught in gdb in
    /// `SentinelTests.sentinelsAndThePrimaryOverTLS`'s teardown. The exit is read from /proc.
    public func kill() {
        let pid = self.process.processIdentifier
        guard !RedisServerProcess.hasExited(pid) else { return }
        Glibc.kill(pid, SIGKILL)
        let end = Date().addingTimeInterval(5)
        while !RedisServerProcess.hasExited(pid), Date() < end { usleep(5_000) }
    }

    /// SIGTERM (a graceful stop), then SIGKILL after 15 s.
    public func stop() {
        let pid = self.process.processIdentifier
        guard !RedisServerProcess.hasExited(pid) else { return }
        Glibc.kill(pid, SIGTERM)
        let end = Date().addingTimeInterval(15)
        while !RedisServerProcess.hasExited(pid), Date() < end { usleep(10_000) }
        self.kill()
    }
}
