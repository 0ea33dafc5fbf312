import WireJSON

/// The JOSE header. Members not listed here are ignored; `jku`, `jwk`, `x5u` and the like are
/// never followed.
struct JWSHeader: Sendable {
    var alg: String?
    var typ: String?
    var kid: String?
    var hasCrit = false

    init(alg: String, typ: String) {
        self.alg = alg
        self.typ = typ
    }

    /// `nil` unless the JSON is one object whose `alg`, `typ` and `kid`, when present, are strings.
    init?(json: [UInt8]) {
        guard let members = JSONReader.object(json) else { return nil }
        for (name, value) in members {
            switch (name, value) {
            case ("alg", .string(let text)): self.alg = text
            case ("typ", .string(let text)): self.typ = text
            case ("kid", .string(let text)): self.kid = text
            case ("alg", _), ("typ", _), ("kid", _): return nil
            case ("crit", _): self.hasCrit = true
            default: continue
            }
        }
    }
}
