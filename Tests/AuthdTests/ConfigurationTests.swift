import AuthdApp
import Testing

@Suite("Configuration from the environment and .env")
struct ConfigurationTests {
    let good = String(repeating: "a", count: 32)
    let other = String(repeating: "b", count: 64)

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
        ("REDIS_URL", "rediss://h"), ("LOG_LEVEL", "loud"),
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
}
