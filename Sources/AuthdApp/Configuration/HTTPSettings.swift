import AuthHTTP
import NIOCore

/// The HTTP server's settings: where it listens, its limits, the proxies it believes, and the
/// browser origins it serves (CORS and the refresh cookie).
extension EnvironmentReader {
    func http(into http: inout HTTPServerConfiguration) throws {
        http.host = self["AUTHD_HOST"] ?? http.host
        http.port = try self.int("AUTHD_PORT", in: 0...65535) ?? http.port
        http.maxBodyBytes = try self.int("AUTHD_MAX_BODY_BYTES", in: 1024...(16 << 20)) ?? http.maxBodyBytes
        if let idle = try self.int("AUTHD_IDLE_TIMEOUT", in: 1...86_400) {
            http.idleTimeout = .seconds(Int64(idle))
        }
        if self["AUTHD_TRUST_X_FORWARDED_FOR"] != nil {
            throw ConfigurationError(
                "AUTHD_TRUST_X_FORWARDED_FOR is replaced by AUTHD_TRUSTED_PROXIES: list the proxies' addresses or "
                    + "CIDR ranges (for example 127.0.0.1,10.0.0.0/8); X-Forwarded-For is believed only from them")
        }
        if let list = self.nonEmpty("AUTHD_TRUSTED_PROXIES") {
            guard let proxies = TrustedProxies(list: list) else {
                throw ConfigurationError(
                    "AUTHD_TRUSTED_PROXIES must be IP addresses or CIDR ranges separated by commas, "
                        + "such as 127.0.0.1,10.0.0.0/8,fd00::/8")
            }
            http.trustedProxies = proxies
        }
        http.maxConnections = try self.int("AUTHD_MAX_CONNECTIONS", in: 16...1_000_000) ?? http.maxConnections
    }

    /// AUTHD_CORS_ORIGINS and AUTHD_REFRESH_COOKIE, which needs those origins, all of them secure.
    func browsers() throws -> (cors: CORSPolicy?, refreshCookie: Bool) {
        var cors: CORSPolicy?
        if let list = self.nonEmpty("AUTHD_CORS_ORIGINS") {
            guard let policy = CORSPolicy(list: list) else {
                throw ConfigurationError(
                    "AUTHD_CORS_ORIGINS must be exact origins separated by commas, such as "
                        + "https://app.example.com,http://localhost:3000 (no *, no path)")
            }
            cors = policy
        }
        let refreshCookie = try self.bool("AUTHD_REFRESH_COOKIE") ?? false
        if refreshCookie {
            guard cors != nil else {
                throw ConfigurationError(
                    "AUTHD_REFRESH_COOKIE needs AUTHD_CORS_ORIGINS: the cookie is for browsers on those origins, "
                        + "and only their requests may use it")
            }
            guard cors?.onlySecureOrigins == true else {
                throw ConfigurationError(
                    "AUTHD_REFRESH_COOKIE needs every AUTHD_CORS_ORIGINS entry to be https:// (or http:// on "
                        + "localhost, 127.x or [::1]): a plain-http page's cookie can be read or planted on the way")
            }
            cors?.allowCredentials = true
        }
        return (cors, refreshCookie)
    }
}
