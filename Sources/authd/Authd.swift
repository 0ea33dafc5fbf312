import ArgumentParser
import AuthCore
import AuthdApp
import Foundation
import Logging

@main
struct Authd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authd",
        abstract: "A token service: login, refresh with rotation, logout; state in Redis.",
        subcommands: [Serve.self, GenSecret.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP server.")

    @Option(help: "Address to listen on (env AUTHD_HOST, default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (env AUTHD_PORT, default 8080).")
    var port: Int?

    @Option(name: .customLong("env-file"), help: "A .env file to read; the real environment wins.")
    var envFile = ".env"

    func run() async throws {
        var environment = try DotEnv.load(path: self.envFile)
        environment.merge(ProcessInfo.processInfo.environment) { _, real in real }
        var configuration: AppConfiguration
        do {
            configuration = try AppConfiguration(environment: environment)
        } catch {
            FileHandle.standardError.write(Data("authd: \(error)\n".utf8))
            throw ExitCode.failure
        }
        if let host = self.host { configuration.http.host = host }
        if let port = self.port { configuration.http.port = port }

        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let application = try await Application(configuration: configuration, logger: Logger(label: "authd"))
        try await application.run()
    }
}

struct GenSecret: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen-secret",
        abstract: "Print 64 random bytes as hex, for ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET."
    )

    func run() {
        print(RandomID.hexBytes(64))
    }
}
