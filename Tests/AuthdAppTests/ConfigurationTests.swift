import AuthCore
import AuthdApp
import Foundation
import JOSE
import TestSupport
import Testing

@Suite("Configuration from the environment and .env")
struct ConfigurationTests {
    let good = RandomID.hexBytes(32)
    let other = RandomID.hexBytes(32)

    @Test func missingSecretsAreRefusedWithHowToMakeOne() {
        #expect {
            try AppConfiguration(environment: ["REFRESH_TOKEN_SECRET": self.other])
        } throws: { error in
            "\(error)".contains("ACCESS_TOKEN_SECRET is not set") && "\(error)".contains("authd gen-secret")
        }
        #expect {
            try AppConfiguration(environment: ["ACCESS_TOKEN_SECRET": self.good])
        } throws: { error in
            "\(error)".contains("REFRESH_TOKEN_SECRET is not set")
        }
    }

    @Test func secretsShorterThan32BytesAreRefused() {
        #expect {
            try AppConfiguration(environment: ["ACCESS_TOKEN_SECRET": "short", "REFRESH_TOKEN_SECRET": self.other])
        } throws: { error in
            "\(error)".contains("ACCESS_TOKEN_SECRET is too short") && "\(error)".contains("authd gen-secret")
        }
    }

    /// Issue 28, items 5 and 10: introspection client secrets are checked for strength like token
    /// secrets (with a lower bar: 64 bits by the same count), and cookie mode takes only HTTPS
    /// origins (or plain HTTP on loopback). Each of these started up before.
    @Test func weakClientSecretsAndPlainHTTPCookieOriginsAreRefused() {
        let secrets = ["ACCESS_TOKEN_SECRET": self.good, "REFRESH_TOKEN_SECRET": self.other]
        for weak in ["rs:aaaaaaaaaaaaaaaa", "rs:changemechangeme", "rs:abababababababab"] {
            #expect(throws: (any Error).self, "\(weak)") {
                try AppConfiguration(environment: secrets.merging(["AUTHD_INTROSPECTION_CLIENTS": weak]) { $1 })
            }
        }
        let strong = "rs:" + RandomID.hexBytes(16)
        #expect(throws: Never.self) {
            try AppConfiguration(environment: secrets.merging(["AUTHD_INTROSPECTION_CLIENTS": strong]) { $1 })
        }
        #expect {
            try AppConfiguration(
                environment: secrets.merging([
                    "AUTHD_CORS_ORIGINS": "http://app.example.com", "AUTHD_REFRESH_COOKIE": "on",
                ]) { $1 })
        } throws: { error in
            "\(error)".contains("https://")
        }
        // A host that only starts like a loopback one is not one.
        for lookalike in ["http://localhost.example.com", "http://127.evil.example", "http://127.0.0.1.nip.io"] {
            #expect(throws: (any Error).self, "\(lookalike)") {
                try AppConfiguration(
                    environment: secrets.merging(["AUTHD_CORS_ORIGINS": lookalike, "AUTHD_REFRESH_COOKIE": "on"]) { $1 }
                )
            }
        }
        #expect(throws: Never.self) {
            try AppConfiguration(
                environment: secrets.merging([
                    "AUTHD_CORS_ORIGINS": "http://localhost:3000,https://app.example.com", "AUTHD_REFRESH_COOKIE": "on",
                ]) { $1 })
        }
    }

    /// The operator commands revoke through the same barrier as the service, bounded by the same
    /// lease (they ignored AUTHD_VERIFY_CACHE_LEASE_MS before).
    @Test func theOperatorCommandsShareTheServicesBarrierAndLease() throws {
        let (redis, prefix, _) = try AppConfiguration.store(environment: [
            "AUTHD_KEY_PREFIX": "ops:", "AUTHD_VERIFY_CACHE_LEASE_MS": "3000",
        ])
        #expect(prefix == "ops:")
        let coherence = try #require(redis.coherence)
        #expect(coherence.lease.nanoseconds == 3_000_000_000)
        #expect(coherence.registryKey == "{ops:coherence}:members")
        let service = try AppConfiguration(environment: [
            "ACCESS_TOKEN_SECRET": self.good, "REFRESH_TOKEN_SECRET": self.other, "AUTHD_VERIFY_CACHE_LEASE_MS": "3000",
        ])
        #expect(service.verifyCacheLease.nanoseconds == 3_000_000_000)
    }

    @Test func theErrorNeverRepeatsTheSecret() {
        let short = "hunter2-short-secret"
        #expect {
            try AppConfiguration(environment: ["ACCESS_TOKEN_SECRET": self.good, "REFRESH_TOKEN_SECRET": short])
        } throws: { error in
            !"\(error)".contains(short)
        }
    }

    @Test func settingsAreRead() throws {
        let configuration = try AppConfiguration(environment: [
            "ACCESS_TOKEN_SECRET": self.good, "REFRESH_TOKEN_SECRET": self.other,
            "REDIS_URL": "redis://:pw@10.0.0.5:6390/2", "AUTHD_PORT": "9000", "AUTHD_HOST": "0.0.0.0",
            "AUTHD_ACCESS_TOKEN_TTL": "60", "AUTHD_REFRESH_TOKEN_TTL": "3600", "AUTHD_SIGNUP": "false",
            "AUTHD_KEY_PREFIX": "x:", "LOG_LEVEL": "DEBUG",
        ])
        #expect(configuration.http.port == 9000)
        #expect(configuration.http.host == "0.0.0.0")
        #expect(configuration.auth.accessTokenTTL == 60)
        #expect(configuration.auth.refreshTokenTTL == 3600)
        #expect(!configuration.auth.signupEnabled)
        #expect(configuration.keyPrefix == "x:")
        #expect(configuration.redis.database == 2)
        #expect(configuration.logLevel == .debug)
    }

    @Test(arguments: [
        ("AUTHD_PORT", "eighty"), ("AUTHD_ACCESS_TOKEN_TTL", "0"), ("AUTHD_SIGNUP", "maybe"),
        ("REDIS_URL", "rediss://h/x"), ("REDIS_TLS_CA_FILE", "/etc/ssl/certs/ca-certificates.crt"),
        ("LOG_LEVEL", "loud"), ("AUTHD_TRUSTED_PROXIES", "10.0.0.0/33"),
        ("AUTHD_TRUSTED_PROXIES", "proxy.example"), ("AUTHD_TRUST_X_FORWARDED_FOR", "true"),
        ("AUTHD_MAX_CONNECTIONS", "1"), ("AUTHD_MAX_SESSIONS_PER_USER", "0"), ("REDIS_SENTINELS", "a:b"),
        ("REDIS_SENTINEL_PRIMARY", "mymaster"), ("AUTHD_CORS_ORIGINS", "*"),
        ("AUTHD_ISSUER", "http://auth.example.com"),
        ("ACCESS_TOKEN_SECRET_PREVIOUS", "replace-with-the-old-secret-0123456789"),
    ])
    func invalidSettingsAreRefused(name: String, value: String) {
        #expect(throws: ConfigurationError.self) {
            try AppConfiguration(environment: [
                "ACCESS_TOKEN_SECRET": self.good, "REFRESH_TOKEN_SECRET": self.other, name: value,
            ])
        }
    }

    @Test func dotEnvParsing() {
        let text = """
            # comment
            ACCESS_TOKEN_SECRET=plain
            export REFRESH_TOKEN_SECRET="double \\"quoted\\"\\nline"
            SINGLE='single # not a comment'
            SPACED =  value with spaces   # trailing comment
            EMPTY=
            not a line
            """
        let values = DotEnv.parse(text)
        #expect(values["ACCESS_TOKEN_SECRET"] == "plain")
        #expect(values["REFRESH_TOKEN_SECRET"] == "double \"quoted\"\nline")
        #expect(values["SINGLE"] == "single # not a comment")
        #expect(values["SPACED"] == "value with spaces")
        #expect(values["EMPTY"] == "")
        #expect(values.count == 5)
    }

    /// Issue 13, item 15: an unedited copy of `.env.example` must not start a service whose tokens
    /// anyone can forge; nor may a secret with too little entropy.
    @Test func placeholderAndWeakSecretsAreRefused() throws {
        let example = DotEnv.parse(
            try String(contentsOf: repositoryRoot.appendingPathComponent(".env.example"), encoding: .utf8))
        #expect {
            try AppConfiguration(environment: example)
        } throws: { error in
            "\(error)".contains("placeholder") && "\(error)".contains("authd gen-secret")
        }
        for weak in [
            String(repeating: "a", count: 64), String(repeating: "abc", count: 20),
            "0123456789012345678901234567890123",
            "my-secret-key-for-the-access-tokens-CHANGEME",
        ] {
            #expect(throws: ConfigurationError.self, "\(weak)") {
                try AppConfiguration(environment: ["ACCESS_TOKEN_SECRET": weak, "REFRESH_TOKEN_SECRET": self.other])
            }
        }
        // What `authd gen-secret` makes passes, and so does a long random passphrase.
        _ = try AppConfiguration(environment: ["ACCESS_TOKEN_SECRET": self.good, "REFRESH_TOKEN_SECRET": self.other])
        _ = try AppConfiguration(environment: [
            "ACCESS_TOKEN_SECRET": "correct horse battery staple orbit lantern quiz mauve",
            "REFRESH_TOKEN_SECRET": self.other,
        ])
    }

    /// Issue 19: the Sentinel variables are read, with the password and database from REDIS_URL.
    @Test func sentinelIsConfiguredFromTheEnvironment() throws {
        let configuration = try AppConfiguration(environment: [
            "ACCESS_TOKEN_SECRET": self.good, "REFRESH_TOKEN_SECRET": self.other,
            "REDIS_URL": "redis://:s3cret@ignored:1/3", "REDIS_SENTINELS": "10.0.0.5:26379, 10.0.0.6:26380",
            "REDIS_SENTINEL_PRIMARY": "authd-primary",
        ])
        let sentinel = try #require(configuration.redis.sentinel)
        #expect(sentinel.primaryName == "authd-primary")
        #expect(sentinel.sentinels.map(\.port) == [26379, 26380])
        #expect(configuration.redis.password == "s3cret")
        #expect(configuration.redis.database == 3)
        #expect(!"\(configuration.redis)".contains("s3cret"))
        let defaulted = try AppConfiguration(environment: [
            "ACCESS_TOKEN_SECRET": self.good, "REFRESH_TOKEN_SECRET": self.other, "REDIS_SENTINELS": "h:26379",
        ])
        #expect(defaulted.redis.sentinel?.primaryName == "mymaster")
    }
}
