import AuthHTTP

/// DPoP (RFC 9449, docs/TOKENS.md): `AUTHD_DPOP` and `AUTHD_DPOP_NONCE`.
extension EnvironmentReader {
    /// `AUTHD_DPOP`: off, optional (the default) or required.
    func dpopMode() throws -> DPoPPolicy.Mode? {
        guard let raw = self.nonEmpty("AUTHD_DPOP") else { return nil }
        guard let mode = DPoPPolicy.Mode(rawValue: raw.lowercased()) else {
            throw ConfigurationError("AUTHD_DPOP must be off, optional or required")
        }
        return mode
    }
}
