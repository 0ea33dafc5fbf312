import Logging
import NIOHTTP1
import Testing

@testable import AuthHTTP

/// What each gateway's check says about the original request, read as ForwardedRequest reads it.
@Suite("Forward auth: the gateways' request shapes")
struct ForwardedRequestTests {
    static func request(_ method: HTTPMethod = .GET, _ uri: String, _ headers: [(String, String)] = []) -> HTTPRequest {
        HTTPRequest(method: method, uri: uri, headers: HTTPHeaders(headers), body: nil, logger: Logger(label: "test"))
    }

    @Test func theOriginalMethodAndPathOfEachGateway() {
        let shapes: [(String, HTTPRequest, String, String)] = [
            (
                "nginx",
                Self.request(
                    .GET, "/forward-auth", [("x-original-method", "POST"), ("x-original-uri", "/a/b?token=x")]),
                "POST", "/a/b"
            ),
            (
                "Caddy, Traefik",
                Self.request(.GET, "/forward-auth", [("X-Forwarded-Method", "PUT"), ("X-Forwarded-Uri", "/c?d")]),
                "PUT", "/c"
            ),
            ("Envoy", Self.request(.DELETE, "/forward-auth/app/x?y=1"), "DELETE", "/app/x"),
            ("Envoy, roles", Self.request(.PATCH, "/forward-auth/allowed_roles=a,b/app"), "PATCH", "/app"),
            ("Envoy, roles, bare", Self.request(.GET, "/forward-auth/allowed_roles=a"), "GET", "/"),
            ("no headers", Self.request(.HEAD, "/forward-auth"), "HEAD", "/"),
        ]
        for (gateway, request, method, path) in shapes {
            let original = ForwardedRequest.original(of: request, under: "/forward-auth")
            #expect(original.method == method, "\(gateway)")
            #expect(original.path == path, "\(gateway): the query never")
        }
    }

    @Test func rolesComeFromTheAuthURLOrEnvoysPrefixOnly() throws {
        func roles(_ uri: String) throws -> [String] {
            try ForwardedRequest.allowedRoles(of: Self.request(.GET, uri), under: "/forward-auth")
        }
        #expect(try roles("/forward-auth") == [])
        #expect(try roles("/forward-auth?allowed_roles=Admin,ops") == ["admin", "ops"])
        #expect(try roles("/forward-auth?x=1&allowed_roles=a%3Ab") == ["a:b"])
        #expect(try roles("/forward-auth?allowed_roles=") == [])
        #expect(try roles("/forward-auth/allowed_roles=admin/app?allowed_roles=other") == ["admin"])
        // Envoy's query is the client's: it requires nothing.
        #expect(try roles("/forward-auth/app?allowed_roles=admin") == [])
        for bad in [
            "/forward-auth?allowed_roles=a%20b", "/forward-auth?allowed_roles=%ZZ", "/forward-auth/allowed_roles=-x",
        ] {
            #expect(throws: HTTPError.self, "\(bad)") { try roles(bad) }
        }
    }
}
