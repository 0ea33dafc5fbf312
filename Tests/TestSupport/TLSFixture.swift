import Foundation

/// Certificates made by `openssl` for one test run, in a directory of their own: a CA, a second CA
/// that signed nothing the servers use, a server certificate for `localhost` and `127.0.0.1`, the
/// same server with a certificate that expired yesterday, one for `redis.internal.test` only, and a
/// client certificate for mutual TLS.
public struct TestCertificates: Sendable {
    public let directory: URL

    public func path(_ name: String) -> String { self.directory.appendingPathComponent(name).path }
    public var ca: String { self.path("ca.crt") }
    public var otherCA: String { self.path("other-ca.crt") }
    public var clientCertificate: String { self.path("client.crt") }
    public var clientKey: String { self.path("client.key") }

    /// Makes them all (a second or two of `openssl`).
    public static func make() async throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("authd-tls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificates = TestCertificates(directory: directory)
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        for ca in ["ca", "other-ca"] {
            try await certificates.openssl(
                ["req", "-x509"] + key
                    + ["-keyout", "\(ca).key", "-out", "\(ca).crt", "-days", "2", "-subj", "/CN=authd test \(ca)"])
        }
        // name, subject alternative names, days (negative: expired), extended key usage
        let leaves: [(String, String, Int, String)] = [
            ("server", "DNS:localhost,IP:127.0.0.1", 2, "serverAuth"),
            ("expired", "DNS:localhost,IP:127.0.0.1", -1, "serverAuth"),
            ("named", "DNS:redis.internal.test", 2, "serverAuth"),
            ("client", "DNS:authd-client", 2, "clientAuth"),
            // A cluster node: it is also the client of the other nodes' TLS cluster bus.
            ("node", "DNS:localhost,IP:127.0.0.1", 2, "serverAuth,clientAuth"),
        ]
        for (name, names, days, usage) in leaves {
            try await certificates.openssl(
                ["req"] + key + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(name)"])
            try "subjectAltName=\(names)\nextendedKeyUsage=\(usage)\n".write(
                to: directory.appendingPathComponent("\(name).ext"), atomically: true, encoding: .utf8)
            try await certificates.openssl([
                "x509", "-req", "-in", "\(name).csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", String(days), "-extfile", "\(name).ext", "-out", "\(name).crt",
            ])
        }
        return certificates
    }

    public func remove() {
        try? FileManager.default.removeItem(at: self.directory)
    }

    private func openssl(_ arguments: [String]) async throws {
        guard try await runTool(["openssl"] + arguments, in: self.directory, within: .seconds(60)).status == 0 else {
            throw TestFailure("openssl \(arguments.joined(separator: " ")) failed")
        }
    }
}

extension RedisServerProcess {
    /// A redis-server that speaks TLS on `tlsPort` (and plain TCP on `port`, for the start-up
    /// check), with the certificate `leaf` of `certificates`, asking clients for a certificate
    /// signed by its CA when `clientCertificates` is set.
    public convenience init(
        tls certificates: TestCertificates, leaf: String, clientCertificates: Bool, extraArguments: [String] = []
    ) throws {
        let tlsPort = try freePort()
        try self.init(
            extraArguments: [
                "--tls-port", String(tlsPort),
                "--tls-cert-file", certificates.path("\(leaf).crt"),
                "--tls-key-file", certificates.path("\(leaf).key"),
                "--tls-ca-cert-file", certificates.ca,
                "--tls-auth-clients", clientCertificates ? "yes" : "no",
            ] + extraArguments,
            tlsPort: tlsPort)
    }

    /// The `rediss://` URL of a TLS server, by IP address or by name.
    public func tlsURL(host: String = "127.0.0.1") -> String {
        "rediss://\(host):\(self.tlsPort ?? self.port)"
    }
}
