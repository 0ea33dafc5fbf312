import JOSE
import WireJSON

/// `GET /.well-known/jwks.json`: the public keys resource servers verify access tokens with.
public struct KeysController: Sendable {
    let tokens: TokenCodec

    public init(tokens: TokenCodec) {
        self.tokens = tokens
    }

    public func register(in router: inout Router) {
        router.add(.GET, "/.well-known/jwks.json") { _ in self.jwks() }
    }

    /// Resource servers may cache the keys for 5 minutes; a new key is published before it signs
    /// (see `KeyDirectory`), so a cached set never misses a key in use for longer.
    func jwks() -> HTTPResponse {
        var writer = JSONObjectWriter(capacity: 1024)
        writer.add("keys", json: JSONArray.of(self.tokens.jwks.map(\.json)))
        var response = HTTPResponse.json(PrewrittenJSON(json: writer.finish()))
        response.headers.add(name: "cache-control", value: "public, max-age=300")
        return response
    }
}

extension PublicJWK {
    /// RFC 7517 §4, members in sorted order; absent ones left out.
    var json: [UInt8] {
        var writer = JSONObjectWriter(capacity: 512)
        writer.add("alg", self.alg)
        if let crv = self.crv { writer.add("crv", crv) }
        if let e = self.e { writer.add("e", e) }
        writer.add("kid", self.kid)
        writer.add("kty", self.kty)
        if let n = self.n { writer.add("n", n) }
        writer.add("use", self.use)
        if let x = self.x { writer.add("x", x) }
        if let y = self.y { writer.add("y", y) }
        return writer.finish()
    }
}
