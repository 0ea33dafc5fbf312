import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A redis-server of a test's own, started from the repository's `redis/redis.conf` on a free
/// port, for tests that kill, pause or restart Redis. Never the suite's shared Redis.
public final class RedisServerProcess: @unchecked Sendable {
    // @unchecked: `process` is only touched from the test that owns this object, one call at a time.
    public let port: Int
    public let directory: URL
    private let extraArguments: [String]
    private var process: Process?

    public var url: String { "redis://127.0.0.1:\(self.port)" }

    public init(extraArguments: [String] = []) throws {
        self.port = try freePort()
        self.directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("authd-redis-\(UUID().uuidString.prefix(8))")
        self.extraArguments = extraArguments
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
    }

    deinit {
        self.process?.terminate()
        try? FileManager.default.removeItem(at: self.directory)
    }

    /// Starts redis-server and waits until it answers PING.
    public func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            [
                "redis-server", repositoryRoot.appendingPathComponent("redis/redis.conf").path,
                "--port", String(self.port), "--dir", self.directory.path,
                "--appendonly", "no", "--daemonize", "no", "--logfile", "",
            ] + self.extraArguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        for _ in 0..<200 {
            if try await self.answersPing() { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw TestFailure("redis-server on port \(self.port) did not start")
    }

    /// SIGKILL: the server vanishes at once, as in a crash.
    public func kill() {
        guard let process = self.process else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    /// SIGSTOP / SIGCONT: the server keeps its sockets open but answers nothing.
    public func pause() { self.signal(SIGSTOP) }
    public func resume() { self.signal(SIGCONT) }

    private func signal(_ signal: Int32) {
        guard let pid = self.process?.processIdentifier else { return }
        Glibc.kill(pid, signal)
    }

    private func answersPing() async throws -> Bool {
        let ping = Process()
        ping.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        ping.arguments = ["redis-cli", "-p", String(self.port), "ping"]
        let output = Pipe()
        ping.standardOutput = output
        ping.standardError = FileHandle.nullDevice
        try ping.run()
        ping.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        // A server with a password answers NOAUTH: it is up all the same.
        return text.contains("PONG") || text.contains("NOAUTH")
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The repository's root, found from this file's path.
public let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A TCP port nothing listens on right now, picked by the kernel.
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else { throw TestFailure("bind() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}
