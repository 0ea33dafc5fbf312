import ArgumentParser
import AuthCore
import AuthHTTP
import AuthdApp
import Foundation
import JOSE
import Logging
import Metrics
import NIOCore
import Prometheus

@main
struct Authd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authd",
        abstract: "A token service: login, refresh with rotation, logout; state in Redis.",
        version: authdVersion,
        subcommands: [
            Serve.self, GenSecret.self, Users.self, RoleCommands.self, Sessions.self, ClientCommands.self, Keys.self,
            Events.self,
        ],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP server.")

    @Option(help: "Address to listen on (env AUTHD_HOST, default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on, 0 to 65535 (env AUTHD_PORT, default 8080; 0: any free port).")
    var port: Int?

    @OptionGroup var envFile: EnvFile

    /// Words `serve` does not take: most likely a mistyped command (`serve` is the default one).
    @Argument(parsing: .allUnrecognized, help: .hidden) var unexpected: [String] = []

    func validate() throws {
        if let word = self.unexpected.first {
            throw ValidationError(
                word.hasPrefix("-")
                    ? "unknown option '\(word)'"
                    : "unknown command '\(word)'; the commands are serve, gen-secret, users, roles, sessions, clients "
                        + "and keys"
                        + "(authd --help)")
        }
        if let port = self.port, !(0...65535).contains(port) {
            throw ValidationError("--port must be from 0 to 65535, not \(port)")
        }
    }

    func run() async throws {
        let (environment, warnings) = try self.envFile.load()
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
        let logger = Logger(label: "authd")
        for warning in warnings { logger.warning("\(warning)") }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let application = try buildApplication(
            configuration: configuration, metrics: registry, logger: logger
        )
        do {
            try await application.run()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            let (host, port) = (configuration.http.host, configuration.http.port)
            EnvFile.fail("cannot listen on \(host):\(port): the address is in use (another process; see --port)")
        }
    }
}

/// `--env-file`, the same for every command: the `.env` file's values under the real
/// environment's. Without the option, `./.env` is read when there is one; a file named with it
/// must exist.
struct EnvFile: ParsableArguments {
    @Option(
        name: .customLong("env-file"),
        help: "A .env file to read (default: ./.env when there is one); the real environment wins.")
    var path: String?

    func environment() throws -> [String: String] {
        try self.load().environment
    }

    /// The environment, and what start-up must warn of: lines of the file that are ignored, and
    /// names that look like settings but are none (a misspelling, most likely).
    func load() throws -> (environment: [String: String], warnings: [String]) {
        let path = self.path ?? ".env"
        let loaded: DotEnv.File?
        do {
            loaded = try DotEnv.load(path: path)
        } catch {
            Self.fail("cannot read \(path): \(error.localizedDescription)")
        }
        if loaded == nil, self.path != nil { Self.fail("--env-file \(path): no such file") }
        let file = loaded ?? DotEnv.File()
        var environment = file.values
        environment.merge(ProcessInfo.processInfo.environment) { _, real in real }
        let warnings =
            file.problems.map { "\(path): \($0)" }
            + AppConfiguration.unknownSettings(environment.keys, fromFile: Set(file.values.keys))
        return (environment, warnings)
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("authd: \(message)\n".utf8))
        Foundation.exit(1)
    }
}

/// Runs an operator command: what it cannot do is said in one line after `authd: `, exit 1.
func operate<T>(_ envFile: EnvFile, _ body: (Operator) async throws -> T) async throws -> T {
    let (environment, warnings) = try envFile.load()
    for warning in warnings { FileHandle.standardError.write(Data("authd: warning: \(warning)\n".utf8)) }
    do {
        return try await Operator.with(environment: environment, body)
    } catch let error as OperatorError {
        EnvFile.fail(error.description)
    } catch let error as ConfigurationError {
        EnvFile.fail(error.description)
    }
}

/// A password from standard input: its first line, or typed without echo at a terminal.
func readPassword(_ prompt: String) -> String {
    if isatty(0) == 1, let typed = getpass(prompt) { return String(cString: typed) }
    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        EnvFile.fail("no password on standard input (give it as the first line)")
    }
    return line
}

struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list, reset, disable and delete users (reads REDIS_URL and AUTHD_KEY_PREFIX).",
        discussion:
            "Passwords are read from standard input (the first line), or typed at a terminal, never from the command line. Disabling, deleting and resetting a password end every session of the user on every instance.",
        subcommands: [Add.self, List.self, Passwd.self, ResetMFA.self, Disable.self, Enable.self, Delete.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user, whether sign-up is on or off.")
        @Argument(help: "The user name.") var user: String
        @OptionGroup var envFile: EnvFile

        func run() async throws {
            let password = readPassword("Password for \(self.user): ")
            let name = try await operate(self.envFile) { try await $0.addUser(username: self.user, password: password) }
            print("created \(name)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the users.")
        @Flag(help: "Print JSON instead of a table.") var json = false
        @OptionGroup var envFile: EnvFile

        func run() async throws {
            let users = try await operate(self.envFile) { try await $0.users() }
            print(self.json ? OperatorOutput.usersJSON(users) : OperatorOutput.usersTable(users), terminator: "")
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a user's password (a reset: the old one is not asked) and end every session.")
        @Argument(help: "The user name.") var user: String
        @OptionGroup var envFile: EnvFile

        func run() async throws {
            let password = readPassword("New password for \(self.user): ")
            let ended = try await operate(self.envFile) {
                try await $0.resetPassword(username: self.user, password: password)
            }
            print("password of \(self.user.lowercased()) set; ended \(ended) session(s)")
        }
    }

    struct ResetMFA: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-mfa",
            abstract:
                "Remove a user's second factor (a lost authenticator): the next login asks for the password only.",
            discussion: "The user's sessions stay; end them with 'authd sessions revoke' if the account may be taken.")
        @Argument(help: "The user name.") var user: String
        @OptionGroup var envFile: EnvFile

        func run() async throws {
            let removed = try await operate(self.envFile) { try await $0.resetFactor(username: self.user) }
            print(
                removed
                    ? "removed the second factor of \(self.user.lowercased())"
                    : "\(self.user.lowercased()) has no second factor")
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable a user: no login, and every session ended.")
        @Argument(help: "The user name.") var user: String
        @OptionGroup var envFile: EnvFile

        func run() async throws {
            let ended = try await operate(self.envFile) { try await $0.setDisabled(username: self.user, true) }
            print("disabled \(self.user.lowercased()); ended \(ended) session(s)")
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled user again.")
        @Argument(help: "The user name.") var user: String
        @OptionGroup var envFile: EnvFile

        func run() async throws {
            _ = try await operate(self.envFile) { try await $0.setDisabled(username: self.user, false) }
            print("enabled \(self.user.lowercased())")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user and end every session.")
        @Argument(help: "The user name.") var user: String
        @OptionGroup var envFile: EnvFile

        func run() async throws {
            let ended = try await operate(self.envFile) { try await $0.deleteUser(username: self.user) }
            print("deleted \(self.user.lowercased()); ended \(ended) session(s)")
        }
    }
}

struct RoleCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roles",
        abstract: "Grant a role to a user or take it away (reads REDIS_URL and AUTHD_KEY_PREFIX).",
        discussion:
            "Roles appear in access tokens, in GET /me and introspection, and in the X-Auth-Request-Groups header of /forward-auth, which gateways use to require one. A change reaches every live session of the user at once: a role taken away is refused on the next request, on every instance, without a logout. `authd users list` shows every user's roles.",
        subcommands: [Add.self, Remove.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Grant a role to a user.")
        @Argument(help: "The user name.") var user: String
        @Argument(help: "The role: a-z, 0-9, '.', '_', '-' and ':', up to 64 characters.") var role: String
        @OptionGroup var envFile: EnvFile

        func run() async throws {
            let (roles, sessions) = try await operate(self.envFile) {
                try await $0.changeRole(username: self.user, role: self.role, add: true)
            }
            print(RoleCommands.summary(self.user, roles, sessions))
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a role away from a user, in every live session at once.")
        @Argument(help: "The user name.") var user: String
        @Argument(help: "The role.") var role: String
        @OptionGroup var envFile: EnvFile

        func run() async throws {
            let (roles, sessions) = try await operate(self.envFile) {
                try await $0.changeRole(username: self.user, role: self.role, add: false)
            }
            print(RoleCommands.summary(self.user, roles, sessions))
        }
    }

    static func summary(_ user: String, _ roles: [String], _ sessions: Int) -> String {
        let list = roles.isEmpty ? "no roles" : "roles " + roles.joined(separator: ",")
        return "\(user.lowercased()) has \(list); \(sessions) live session(s) changed"
    }
}

struct Sessions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List or revoke a user's sessions (reads REDIS_URL and AUTHD_KEY_PREFIX).",
        subcommands: [List.self, RevokeSessions.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a user's live sessions.")
        @Argument(help: "The user name.") var user: String
        @Flag(help: "Print JSON instead of a table.") var json = false
        @OptionGroup var envFile: EnvFile

        func run() async throws {
            let sessions = try await operate(self.envFile) { try await $0.sessions(username: self.user) }
            let name = self.user.lowercased()
            print(
                self.json ? OperatorOutput.sessionsJSON(sessions) : OperatorOutput.sessionsTable(of: name, sessions),
                terminator: "")
        }
    }

    struct RevokeSessions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke", abstract: "End one session of a user, or all of them."
        )
        @Argument(help: "The user name.") var user: String
        @Argument(help: "The session id; omit it to end every session of the user.") var session: String?
        @OptionGroup var envFile: EnvFile

        func run() async throws {
            let ended = try await operate(self.envFile) {
                try await $0.revoke(username: self.user, sessionID: self.session)
            }
            print("ended \(ended) session(s) of \(self.user.lowercased())")
        }
    }
}

struct ClientCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clients",
        abstract: "Register, list and remove clients, and rotate their secrets (reads REDIS_URL and AUTHD_KEY_PREFIX).",
        discussion:
            "A registered client authenticates with its id and a secret (HTTP Basic or client_secret_post) to introspect tokens (--may introspect) or to obtain tokens for itself with grant_type=client_credentials (--may token). A secret is printed once, when it is made; authd keeps only its SHA-256. Removing a client or one of its secrets takes effect on every instance at once: its tokens fail on their next check. Client ids and user names share one namespace.",
        subcommands: [Add.self, List.self, Update.self, Remove.self, AddSecret.self, RemoveSecret.self]
    )

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change what a client may do, its audiences, roles or token lifetime, on every instance at once.",
            discussion:
                "Each option given replaces that part; the others stay. A permission taken away refuses the client's live tokens on their next check; a new lifetime or audience applies to the tokens granted from then on."
        )
        @Argument(help: "The client id.") var id: String
        @Option(help: "What it may do from now: introspect, token (repeat for both).") var may: [String] = []
        @Option(help: "Its audiences from now (repeat; the first is the default).") var audience: [String] = []
        @Flag(help: "No audiences of its own: AUTHD_AUDIENCE only.") var noAudience = false
        @Option(help: "Its roles from now (repeat).") var role: [String] = []
        @Flag(help: "No roles.") var noRole = false
        @Option(help: "Its tokens' lifetime in seconds, 60 to 86400.") var tokenTTL: Int?
        @Flag(help: "Its tokens' lifetime back to AUTHD_ACCESS_TOKEN_TTL.") var defaultTokenTTL = false
        @OptionGroup var envFile: EnvFile

        func validate() throws {
            for word in self.may where RegisteredClient.Permission(rawValue: word) == nil {
                throw ValidationError("--may takes introspect or token, not '\(word)'")
            }
            if self.noAudience, !self.audience.isEmpty {
                throw ValidationError("--audience or --no-audience, not both")
            }
            if self.noRole, !self.role.isEmpty { throw ValidationError("--role or --no-role, not both") }
            if self.defaultTokenTTL, self.tokenTTL != nil {
                throw ValidationError("--token-ttl or --default-token-ttl, not both")
            }
        }

        func run() async throws {
            var change = Operator.ClientChange()
            if !self.may.isEmpty {
                change.permissions = self.may.compactMap(RegisteredClient.Permission.init(rawValue:))
            }
            if !self.audience.isEmpty || self.noAudience { change.audiences = self.audience }
            if !self.role.isEmpty || self.noRole { change.roles = self.role }
            if let ttl = self.tokenTTL { change.tokenTTL = .some(ttl) }
            if self.defaultTokenTTL { change.tokenTTL = .some(nil) }
            let client = try await operate(self.envFile) { try await $0.updateClient(id: self.id, change) }
            print(OperatorOutput.clientsTable([client]), terminator: "")
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a client and print its first secret (shown this once).")
        @Argument(help: "The client id: 3 to 64 characters of a-z, 0-9, '.', '_' and '-'.") var id: String
        @Option(help: "What it may do: introspect, token (repeat for both).") var may: [String] = []
        @Option(help: "An audience its tokens may be for (repeat; the first is the default; none: AUTHD_AUDIENCE).")
        var audience: [String] = []
        @Option(help: "Its tokens' lifetime in seconds, 60 to 86400 (default: AUTHD_ACCESS_TOKEN_TTL).")
        var tokenTTL: Int?
        @Option(help: "A role its tokens carry, for gateways' allowed_roles (repeat).") var role: [String] = []
        @Flag(help: "Print JSON instead of text.") var json = false
        @OptionGroup var envFile: EnvFile

        func validate() throws {
            for word in self.may where RegisteredClient.Permission(rawValue: word) == nil {
                throw ValidationError("--may takes introspect or token, not '\(word)'")
            }
        }

        func run() async throws {
            let request = Operator.ClientRequest(
                id: self.id, permissions: self.may.compactMap(RegisteredClient.Permission.init(rawValue:)),
                audiences: self.audience, tokenTTL: self.tokenTTL, roles: self.role)
            let (client, secret) = try await operate(self.envFile) { try await $0.addClient(request) }
            print(OperatorOutput.issuedSecret(of: client.id, secret, created: true, json: self.json), terminator: "")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the registered clients and their secrets' ids.")
        @Flag(help: "Print JSON instead of a table.") var json = false
        @OptionGroup var envFile: EnvFile

        func run() async throws {
            let clients = try await operate(self.envFile) { try await $0.clients() }
            print(
                self.json ? OperatorOutput.clientsJSON(clients) : OperatorOutput.clientsTable(clients), terminator: "")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a client: its secrets and tokens stop working on every instance.")
        @Argument(help: "The client id.") var id: String
        @OptionGroup var envFile: EnvFile

        func run() async throws {
            try await operate(self.envFile) { try await $0.removeClient(id: self.id) }
            print("removed \(self.id.lowercased()); its tokens are refused everywhere")
        }
    }

    struct AddSecret: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give a client one more secret (shown this once), to replace an old one with an overlap.")
        @Argument(help: "The client id.") var id: String
        @Flag(help: "Print JSON instead of text.") var json = false
        @OptionGroup var envFile: EnvFile

        func run() async throws {
            let secret = try await operate(self.envFile) { try await $0.addClientSecret(id: self.id) }
            print(
                OperatorOutput.issuedSecret(of: self.id.lowercased(), secret, created: false, json: self.json),
                terminator: "")
        }
    }

    struct RemoveSecret: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke one secret of a client, and every token granted with it; the others keep working.")
        @Argument(help: "The client id.") var id: String
        @Argument(help: "The secret's id (authd clients list).") var secretID: String
        @OptionGroup var envFile: EnvFile

        func run() async throws {
            try await operate(self.envFile) { try await $0.removeClientSecret(id: self.id, secretID: self.secretID) }
            print("revoked secret \(self.secretID) of \(self.id.lowercased()); its tokens are refused everywhere")
        }
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the keys that sign access tokens (AUTHD_KEYS_DIR): ES256, RS256 or EdDSA.",
        discussion:
            "Rotation without downtime: `keys generate` adds a key that every instance loads (within 30 s) and publishes in its JWKS; once resource servers have had time to fetch it (their cache is 5 minutes), `keys rotate` makes it sign. The old key keeps verifying until the access tokens it signed have expired.",
        subcommands: [Generate.self, Rotate.self, List.self]
    )

    struct Options: ParsableArguments {
        @Option(help: "The key directory (default: AUTHD_KEYS_DIR, from .env or the environment).")
        var dir: String?
        @OptionGroup var envFile: EnvFile

        func directory() throws -> KeyDirectory {
            let configured = try self.envFile.environment()["AUTHD_KEYS_DIR"].flatMap { $0.isEmpty ? nil : $0 }
            guard let path = self.dir ?? configured else {
                throw ValidationError("give --dir or set AUTHD_KEYS_DIR")
            }
            return KeyDirectory(path: path)
        }
    }

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a key (current if there is none, else next).")
        @OptionGroup var options: Options
        @Option(help: "ES256 (P-256, the default), RS256 (RSA 2048) or EdDSA (Ed25519).")
        var alg: String = KeyDirectory.defaultAlgorithm.rawValue

        func run() async throws {
            guard
                let algorithm = SigningAlgorithm.allCases.first(where: {
                    $0.rawValue.lowercased() == self.alg.lowercased()
                })
            else { throw ValidationError("--alg must be ES256, RS256 or EdDSA") }
            let key = try self.options.directory().generate(algorithm)
            let status = key.status == .current ? "current" : "next"
            print("generated \(key.kid) \(key.algorithm.rawValue) (\(status))")
            await recordKeyEvent(self.options.envFile, kid: key.kid, algorithm: key.algorithm.rawValue, status: status)
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the oldest next key current (once published 5 minutes); retire the current one.")
        @OptionGroup var options: Options
        @Flag(help: "Rotate now, even to a key resource servers may not have fetched yet (or to a new one).")
        var force = false

        func run() async throws {
            do {
                let key = try self.options.directory().rotate(now: Int(Date().timeIntervalSince1970), force: self.force)
                print("\(key.kid) now signs")
                await recordKeyEvent(
                    self.options.envFile, kid: key.kid, algorithm: key.algorithm.rawValue, status: "current")
            } catch let error as KeyDirectoryError {
                EnvFile.fail(error.description)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the keys and their status.")
        @OptionGroup var options: Options

        func run() throws {
            let format = ISO8601DateFormatter()
            let date = { (seconds: Int) in format.string(from: Date(timeIntervalSince1970: TimeInterval(seconds))) }
            let rows = try self.options.directory().entries().map { entry in
                let status =
                    switch entry.key.status {
                    case .current: "current"
                    case .next: "next"
                    case .retired(let at): "retired \(date(at))"
                    }
                return [entry.key.kid, entry.key.algorithm.rawValue, date(entry.createdAt), status]
            }
            print(OperatorOutput.table(["KEY", "ALG", "CREATED", "STATUS"], rows), terminator: "")
        }
    }
}

/// A key added or made current, as a security event (`key_rotated`) in the deployment's Redis. The
/// key directory has changed already: a Redis out of reach is a warning, not a failure.
func recordKeyEvent(_ envFile: EnvFile, kid: String, algorithm: String, status: String) async {
    let event = SecurityEvent(
        .keyRotated, subject: "", details: [("kid", kid), ("alg", algorithm), ("status", status)])
    do {
        try await Operator.with(environment: try envFile.environment()) { try await $0.record(event) }
    } catch {
        FileHandle.standardError.write(Data("authd: warning: \(error)\n".utf8))
    }
}

struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the security events (reads REDIS_URL, AUTHD_KEY_PREFIX and AUTHD_EVENTS_SHARDS).",
        discussion:
            "Each line: the time (UTC), the type, the user (or client), then the event's fields: sid, ip, ua, instance, request and the type's own. No event holds a token, password, secret or hash. The events are Redis streams, PREFIXevents:{N}, readable with redis-cli XRANGE too (docs/EVENTS.md)."
    )
    @Flag(help: "Keep printing events as they are recorded (Ctrl-C to stop).") var follow = false
    @Option(help: "Only the events of this user (or client).") var user: String?
    @Option(help: "Only events of this type; repeat it for several (login, login_failed, session_ended...).")
    var type: [String] = []
    @Option(help: "From this long ago (30s, 15m, 2h, 7d) or from this time (ISO 8601, or seconds since 1970).")
    var since = "1h"
    @Option(help: "At most this many events, the newest (without --follow).") var limit: Int?
    @Flag(help: "Print one JSON object a line (JSON Lines) instead of text.") var json = false
    @OptionGroup var envFile: EnvFile

    func validate() throws {
        let known = Set(SecurityEvent.Kind.allCases.map(\.rawValue))
        for type in self.type where !known.contains(type) {
            throw ValidationError("--type \(type) is no event type; they are \(known.sorted().joined(separator: ", "))")
        }
        if let limit = self.limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        guard Self.milliseconds(since: self.since, now: Date()) != nil else {
            throw ValidationError("--since must be a duration (30s, 15m, 2h, 7d) or a time (ISO 8601, or unix seconds)")
        }
    }

    /// `--since` as ms since 1970: a duration back from `now`, an ISO 8601 time, or unix seconds.
    static func milliseconds(since text: String, now: Date) -> Int64? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        if let unit = text.last.flatMap({ units[$0] }), let count = Double(text.dropLast()), count >= 0, count < 1e7 {
            return Int64((now.timeIntervalSince1970 - count * unit) * 1000)
        }
        if let seconds = Int64(text), seconds >= 0, seconds < 1 << 40 { return seconds * 1000 }
        let format = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [
            [.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime], [.withFullDate],
        ] {
            format.formatOptions = options
            if let date = format.date(from: text) { return Int64(date.timeIntervalSince1970 * 1000) }
        }
        return nil
    }

    func run() async throws {
        let since = Self.milliseconds(since: self.since, now: Date()) ?? 0
        let user = self.user?.lowercased()
        let types = Set(self.type)
        let keep = { (entry: Operator.EventEntry) in
            (user == nil || entry.user == user) && (types.isEmpty || types.contains(entry.type))
        }
        let show = { (entry: Operator.EventEntry) in
            let line = self.json ? OperatorOutput.eventJSON(entry) : OperatorOutput.eventLine(entry)
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
        try await operate(self.envFile) { tool in
            var cursor = try tool.eventCursor(since: since)
            var shown: [Operator.EventEntry] = []
            while true {
                let batch = try await tool.events(after: cursor, user: user)
                cursor = batch.cursor
                if batch.entries.isEmpty { break }
                shown += batch.entries.filter(keep)
                if !self.follow, let limit = self.limit, shown.count > limit { shown.removeFirst(shown.count - limit) }
                if self.follow {
                    shown.forEach(show)
                    shown = []
                }
            }
            shown.forEach(show)
            // Following: a read every 250 ms of what is new (a shard's XRANGE each).
            while self.follow {
                try await Task.sleep(for: .milliseconds(250))
                let batch = try await tool.events(after: cursor, user: user)
                cursor = batch.cursor
                batch.entries.filter(keep).forEach(show)
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
