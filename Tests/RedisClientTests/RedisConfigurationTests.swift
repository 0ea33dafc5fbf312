import Testing

@testable import RedisClient

@Suite("Connection URLs")
struct RedisConfigurationTests {
    @Test func aFullRedisURL() throws {
        let configuration = try RedisConfiguration(url: "redis://app:s3cret@redis.internal:6400/3")
        #expect(configuration.endpoint == .tcp(host: "redis.internal", port: 6400))
        #expect(configuration.username == "app")
        #expect(configuration.password == "s3cret")
        #expect(configuration.database == 3)
    }

    @Test func passwordOnlyAndDefaults() throws {
        let configuration = try RedisConfiguration(url: "redis://:pw@localhost")
        #expect(configuration.endpoint == .tcp(host: "localhost", port: 6379))
        #expect(configuration.username == nil)
        #expect(configuration.password == "pw")
        #expect(configuration.database == 0)
    }

    @Test func aUnixSocketWithADatabase() throws {
        let configuration = try RedisConfiguration(url: "unix:///run/redis/redis.sock?db=2")
        #expect(configuration.endpoint == .unixSocket(path: "/run/redis/redis.sock"))
        #expect(configuration.database == 2)
    }

    @Test func theDescriptionNeverShowsThePassword() throws {
        let configuration = try RedisConfiguration(url: "redis://app:hunter22@h:1/0")
        #expect(!configuration.description.contains("hunter22"))
        #expect(configuration.description == "redis://app:***@h:1/0")
    }

    @Test func aTLSURLIsReadLikeAPlainOneAndSaysTLS() throws {
        let configuration = try RedisConfiguration(url: "rediss://app:hunter22@redis.example.com:6380/3")
        #expect(configuration.endpoint == .tcp(host: "redis.example.com", port: 6380))
        #expect(configuration.database == 3 && configuration.password == "hunter22")
        #expect(configuration.tls?.caFile == nil, "the system's trust store")
        #expect(configuration.description == "rediss://app:***@redis.example.com:6380/3")
    }

    @Test(arguments: [
        "rediss://h/notanumber", "http://h", "redis://h/notanumber", "unix://", "redis://h?bogus=1", "::",
    ])
    func invalidURLsAreRefused(url: String) {
        #expect(throws: RedisClientError.self) { try RedisConfiguration(url: url) }
    }
}
