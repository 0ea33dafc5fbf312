import ArgumentParser
import AuthCore
import AuthHTTP
import AuthdApp
import Foundation
import JOSE
import Logging
import Metrics
import Prometheus

@main
struct Authd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authd",
        abstract: "A token service: login, refresh with rotation, logout; state in Redis.",
        subcommands: [Serve.self, GenSecret.self, Sessions.self, Keys.self],
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
        let environment = try loadEnvironment(envFile: self.envFile)
        var configuration: AppConfiguration
        do {
            configuration = try AppConfiguration(environment: environment)
        } catch {
            FileHandle.standardError.write(Data("authd: \(error)\n".utf8))
            throw ExitCode.failure
        }
        if let host = self.host { configuration.http.host = host }
        if let port = self.port { configuration.http.port = port }
        // The default issuer is the local base URL: it follows --host and --port.
        if configuration.issuerIsDefault { configuration.useLocalIssuer() }

        let level = configuration.logLevel
        let format = configuration.logFormat
        LoggingSystem.bootstrap(
            { label, provider in
                var handler: any LogHandler =
                    switch format {
                    case .text: StreamLogHandler.standardError(label: label, metadataProvider: provider)
                    case .json: JSONLogHandler(label: label, metadataProvider: provider)
                    }
                handler.logLevel = level
                return handler
            },
            metadataProvider: .requestID
        )
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let application = try buildApplication(
            configuration: configuration, metrics: registry, logger: Logger(label: "authd")
        )
        try await application.run()
    }
}

/// The `.env` file's values under the real environment's.
func loadEnvironment(envFile: String) throws -> [String: String] {
    var environment: [String: String]
    do {
        environment = try DotEnv.load(path: envFile)
    } catch {
        FileHandle.standardError.write(Data("authd: cannot read \(envFile): \(error.localizedDescription)\n".utf8))
        throw ExitCode.failure
    }
    environment.merge(ProcessInfo.processInfo.environment) { _, real in real }
    return environment
}

struct Sessions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List or revoke a user's sessions (reads REDIS_URL and AUTHD_KEY_PREFIX).",
        subcommands: [List.self, RevokeSessions.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a user's live sessions.")
        @Argument(help: "The user name.") var user: String
        @Option(name: .customLong("env-file")) var envFile = ".env"

        func run() async throws {
            let listing = try await Operator.with(environment: try loadEnvironment(envFile: self.envFile)) {
                try await $0.listSessions(username: self.user)
            }
            print(listing, terminator: "")
        }
    }

    struct RevokeSessions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke", abstract: "End one session of a user, or all of them."
        )
        @Argument(help: "The user name.") var user: String
        @Argument(help: "The session id; omit it to end every session of the user.") var session: String?
        @Option(name: .customLong("env-file")) var envFile = ".env"

        func run() async throws {
            let ended = try await Operator.with(environment: try loadEnvironment(envFile: self.envFile)) {
                try await $0.revoke(username: self.user, sessionID: self.session)
            }
            print("ended \(ended) session(s) of \(self.user.lowercased())")
        }
    }
}

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the keys that sign access tokens (AUTHD_KEYS_DIR): ES256, RS256 or EdDSA.",
        discussion: """
            Rotation without downtime: `keys generate` adds a key that every instance loads (within
            30 s) and publishes in its JWKS; once resource servers have had time to fetch it (their
            cache is 5 minutes), `keys rotate` makes it sign. The old key keeps verifying until the
            access tokens it signed have expired.
            """,
        subcommands: [Generate.self, Rotate.self, List.self]
    )

    struct Options: ParsableArguments {
        @Option(help: "The key directory (default: AUTHD_KEYS_DIR).")
        var dir: String?

        func directory() throws -> KeyDirectory {
            guard let path = self.dir ?? ProcessInfo.processInfo.environment["AUTHD_KEYS_DIR"] else {
                throw ValidationError("give --dir or set AUTHD_KEYS_DIR")
            }
            return KeyDirectory(path: path)
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a key (current if there is none, else next).")
        @OptionGroup var options: Options
        @Option(help: "ES256 (P-256, the default), RS256 (RSA 2048) or EdDSA (Ed25519).")
        var alg: String = KeyDirectory.defaultAlgorithm.rawValue

        func run() throws {
            guard
                let algorithm = SigningAlgorithm.allCases.first(where: {
                    $0.rawValue.lowercased() == self.alg.lowercased()
                })
            else { throw ValidationError("--alg must be ES256, RS256 or EdDSA") }
            let key = try self.options.directory().generate(algorithm)
            print("generated \(key.kid) \(key.algorithm.rawValue) (\(key.status == .current ? "current" : "next"))")
        }
    }

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make the next key current; retire the current one.")
        @OptionGroup var options: Options

        func run() throws {
            let key = try self.options.directory().rotate(now: Int(Date().timeIntervalSince1970))
            print("\(key.kid) now signs")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the keys and their status.")
        @OptionGroup var options: Options

        func run() throws {
            for key in try self.options.directory().load() {
                let status =
                    switch key.status {
                    case .current: "current"
                    case .next: "next"
                    case .retired(let at): "retired at \(Date(timeIntervalSince1970: TimeInterval(at)))"
                    }
                print("\(key.kid)  \(key.algorithm.rawValue)  \(status)")
            }
        }
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
