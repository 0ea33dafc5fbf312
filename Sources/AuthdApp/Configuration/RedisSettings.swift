import NIOCore
import RedisClient
import RedisStore

/// The Redis settings: where Redis is (`REDIS_URL`, Sentinel, Cluster, TLS), the pool, the verify
/// cache and its lease, and how durable a revocation must be.
extension EnvironmentReader {
    func redis() throws -> RedisConfiguration {
        var redis = try self.redisWithoutSentinel()
        let primary = self.nonEmpty("REDIS_SENTINEL_PRIMARY")
        if let list = self.nonEmpty("REDIS_SENTINELS") {
            do {
                redis.sentinel = try SentinelConfiguration(list: list, primaryName: primary ?? "mymaster")
            } catch {
                throw ConfigurationError("REDIS_SENTINELS: \(error) (for example 10.0.0.5:26379,10.0.0.6:26379)")
            }
        } else if primary != nil {
            throw ConfigurationError("REDIS_SENTINEL_PRIMARY is set but REDIS_SENTINELS is not: list the sentinels")
        }
        if let list = self.nonEmpty("REDIS_CLUSTER_NODES") {
            guard redis.sentinel == nil else {
                throw ConfigurationError("REDIS_CLUSTER_NODES and REDIS_SENTINELS are both set: a deployment uses one")
            }
            guard redis.database == 0 else {
                throw ConfigurationError(
                    "REDIS_URL names database \(redis.database), but a Redis Cluster has only database 0")
            }
            guard case .tcp = redis.endpoint else {
                throw ConfigurationError("REDIS_CLUSTER_NODES is set, but REDIS_URL is a unix socket")
            }
            do {
                redis.cluster = try ClusterConfiguration(list: list)
            } catch {
                throw ConfigurationError("REDIS_CLUSTER_NODES: \(error) (for example 10.0.0.5:6379,10.0.0.6:6379)")
            }
        }
        return redis
    }

    private func redisWithoutSentinel() throws -> RedisConfiguration {
        var redis: RedisConfiguration
        do {
            redis = try RedisConfiguration(url: self["REDIS_URL"] ?? "redis://127.0.0.1:6379/0")
        } catch {
            throw ConfigurationError("REDIS_URL: \(error)")
        }
        try self.redisTLS(&redis)
        redis.poolSize = try self.int("AUTHD_REDIS_POOL_SIZE", in: 1...64) ?? redis.poolSize
        if let ms = try self.int("AUTHD_REDIS_CONNECT_TIMEOUT_MS", in: 10...60_000) {
            redis.connectTimeout = .milliseconds(Int64(ms))
        }
        if let ms = try self.int("AUTHD_REDIS_COMMAND_TIMEOUT_MS", in: 10...60_000) {
            redis.commandTimeout = .milliseconds(Int64(ms))
        }
        return redis
    }

    /// The REDIS_TLS_* files and name, which need a `rediss://` URL.
    private func redisTLS(_ redis: inout RedisConfiguration) throws {
        let names = ["REDIS_TLS_CA_FILE", "REDIS_TLS_CERT_FILE", "REDIS_TLS_KEY_FILE", "REDIS_TLS_SERVER_NAME"]
        guard let first = names.first(where: { self.nonEmpty($0) != nil }) else { return }
        guard redis.tls != nil else {
            throw ConfigurationError("\(first) is set, but REDIS_URL is not rediss:// (TLS)")
        }
        do {
            redis.tls = try RedisTLS(
                caFile: self.nonEmpty("REDIS_TLS_CA_FILE"), certificateFile: self.nonEmpty("REDIS_TLS_CERT_FILE"),
                keyFile: self.nonEmpty("REDIS_TLS_KEY_FILE"), serverName: self.nonEmpty("REDIS_TLS_SERVER_NAME"))
        } catch {
            throw ConfigurationError("REDIS_TLS_*: \(error)")
        }
    }

    /// AUTHD_VERIFY_CACHE_LEASE_MS, when set.
    func verifyCacheLease() throws -> TimeAmount? {
        try self.int("AUTHD_VERIFY_CACHE_LEASE_MS", in: 200...60_000).map { .milliseconds(Int64($0)) }
    }

    /// AUTHD_VERIFY_CACHE and its bounds: verify's session reads kept in process, invalidated by
    /// Redis (`CLIENT TRACKING`); nil when off.
    func verifyCache(sessionKeyPrefix: String) throws -> ClientSideCacheConfiguration? {
        guard try self.bool("AUTHD_VERIFY_CACHE") == true else { return nil }
        var cache = ClientSideCacheConfiguration()
        cache.maxEntries = try self.int("AUTHD_VERIFY_CACHE_ENTRIES", in: 1...10_000_000) ?? cache.maxEntries
        if let megabytes = try self.int("AUTHD_VERIFY_CACHE_MB", in: 1...65_536) { cache.maxBytes = megabytes << 20 }
        if let ms = try self.int("AUTHD_VERIFY_CACHE_HEALTH_MS", in: 50...10_000) {
            cache.healthCheckInterval = .milliseconds(Int64(ms))
        }
        switch self["AUTHD_VERIFY_CACHE_TRACKING"] ?? "keys" {
        case "keys", "": cache.tracking = .keys
        case "bcast": cache.tracking = .broadcast(prefixes: [sessionKeyPrefix])
        case let other: throw ConfigurationError("AUTHD_VERIFY_CACHE_TRACKING is '\(other)'; expected keys or bcast")
        }
        return cache
    }

    /// AUTHD_REDIS_WAIT_REPLICAS and AUTHD_REDIS_WAIT_TIMEOUT_MS.
    func durability() throws -> RedisAuthStore.Durability {
        RedisAuthStore.Durability(
            replicas: try self.int("AUTHD_REDIS_WAIT_REPLICAS", in: 0...16) ?? 0,
            timeoutMilliseconds: try self.int("AUTHD_REDIS_WAIT_TIMEOUT_MS", in: 1...10_000) ?? 100)
    }
}
