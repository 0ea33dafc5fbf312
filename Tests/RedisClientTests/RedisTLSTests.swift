import Foundation
import RedisClient
import TestSupport
import Testing

/// `rediss://` against real `redis-server --tls-port` processes, with certificates `openssl` makes
/// for the run: what connects, and what is refused with an error that names the cause.
@Suite("TLS to Redis", .serialized)
struct RedisTLSTests {
    /// A client of one connection to `url`, with `tls`; its first command waits for the connect,
    /// so its error is the connect's own.
    static func firstReply(_ url: String, _ tls: RedisTLS) async throws -> RedisValue {
        var configuration = try TestRedis.configuration(url: url)
        configuration.poolSize = 1
        configuration.tls = tls
        let client = try TestRedis.makeClient(configuration)
        return try await withTeardown({ await client.shutdown() }) {
            try await client.send("PING", [])
        }
    }

    /// The TLS failure of a first command, or a recorded issue when it is something else.
    static func tlsFailure(_ url: String, _ tls: RedisTLS) async throws -> String {
        do {
            let reply = try await Self.firstReply(url, tls)
            Issue.record("connected, and got \(reply)")
            return ""
        } catch RedisClientError.tlsFailed(let why) {
            return why
        }
    }

    @Test func aCertificateFromTheCAConnectsByAddressAndByName() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let server = try RedisServerProcess(tls: certificates, leaf: "server", clientCertificates: false)
        try await server.start()
        let tls = try RedisTLS(caFile: certificates.ca)
        #expect(try await Self.firstReply(server.tlsURL(), tls).string == "PONG")
        #expect(try await Self.firstReply(server.tlsURL(host: "localhost"), tls).string == "PONG")
        // A client with many commands over the encrypted connection, pipelined.
        var configuration = try TestRedis.configuration(url: server.tlsURL())
        configuration.tls = tls
        let client = try TestRedis.makeClient(configuration)
        try await withTeardown({ await client.shutdown() }) {
            let replies = try await client.pipeline((0..<500).map { _ in RedisCommand("INCR", ["tls-counter"]) })
            #expect(replies.last?.int == 500)
        }
    }

    @Test func aCertificateFromAnotherCAIsRefusedAndSaysSo() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let server = try RedisServerProcess(tls: certificates, leaf: "server", clientCertificates: false)
        try await server.start()
        let why = try await Self.tlsFailure(server.tlsURL(), RedisTLS(caFile: certificates.otherCA))
        #expect(why.contains("not signed by a CA in \(certificates.otherCA)"), "\(why)")
    }

    @Test func aCertificateForAnotherNameIsRefusedAndSaysSo() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        // Its certificate names redis.internal.test only, no address.
        let server = try RedisServerProcess(tls: certificates, leaf: "named", clientCertificates: false)
        try await server.start()
        let byAddress = try await Self.tlsFailure(server.tlsURL(), RedisTLS(caFile: certificates.ca))
        #expect(byAddress.contains("not for this host name"), "\(byAddress)")
        let elsewhere = try RedisTLS(caFile: certificates.ca, serverName: "redis.elsewhere.test")
        let wrongName = try await Self.tlsFailure(server.tlsURL(), elsewhere)
        #expect(wrongName.contains("not for this host name"), "\(wrongName)")
        // The name it carries, checked instead of the address (as Sentinel deployments need).
        let named = try RedisTLS(caFile: certificates.ca, serverName: "redis.internal.test")
        #expect(try await Self.firstReply(server.tlsURL(), named).string == "PONG")
    }

    @Test func anExpiredCertificateIsRefusedAndSaysSo() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let server = try RedisServerProcess(tls: certificates, leaf: "expired", clientCertificates: false)
        try await server.start()
        let why = try await Self.tlsFailure(server.tlsURL(), RedisTLS(caFile: certificates.ca))
        #expect(why.contains("expired at"), "\(why)")
    }

    @Test func mutualTLSNeedsTheClientCertificate() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let server = try RedisServerProcess(tls: certificates, leaf: "server", clientCertificates: true)
        try await server.start()
        let without = try await Self.tlsFailure(server.tlsURL(), RedisTLS(caFile: certificates.ca))
        #expect(without.contains("asks for a client certificate"), "\(without)")
        let with = try RedisTLS(
            caFile: certificates.ca, certificateFile: certificates.clientCertificate, keyFile: certificates.clientKey)
        #expect(try await Self.firstReply(server.tlsURL(), with).string == "PONG")
    }

    @Test func aPlainServerOnATLSURLIsNamedAsSuch() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let server = try RedisServerProcess(tls: certificates, leaf: "server", clientCertificates: false)
        try await server.start()
        let plain = "rediss://127.0.0.1:\(server.port)"
        let why = try await Self.tlsFailure(plain, RedisTLS(caFile: certificates.ca))
        #expect(why.contains("does not speak TLS"), "\(why)")
        #expect(why.contains("by the connect timeout"), "\(why)")
    }

    @Test func badFilesAreRefusedWhenTheConfigurationIsMade() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        #expect(throws: RedisClientError.self) { try RedisTLS(caFile: certificates.path("missing.crt")) }
        #expect(throws: RedisClientError.self) { try RedisTLS(caFile: certificates.path("server.ext")) }
        #expect(throws: RedisClientError.self) {
            try RedisTLS(caFile: certificates.ca, certificateFile: certificates.clientCertificate)
        }
        #expect(try RedisConfiguration(url: "rediss://127.0.0.1:6380/2").tls != nil)
        #expect(try RedisConfiguration(url: "redis://127.0.0.1:6380/2").tls == nil)
    }
}
