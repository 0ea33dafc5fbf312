import Crypto
import JOSE

/// A client of authd's own: a service that introspects tokens or obtains tokens for itself
/// (RFC 6749 §4.4), registered by an operator (`authd clients add`) and kept in the store, so that
/// adding, rotating and revoking one takes effect on every instance at once.
public struct RegisteredClient: Sendable, Equatable {
    /// What a client may do.
    public enum Permission: String, Sendable, CaseIterable, Comparable {
        /// `POST /introspect`.
        case introspect
        /// The client-credentials grant at `POST /token`: access tokens for itself.
        case token

        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// One of the client's secrets. A client holds up to ``RegisteredClient/maxSecrets``, so that
    /// a secret can be replaced with an overlap: add the new one, deploy it, remove the old one.
    public struct Secret: Sendable, Equatable {
        /// 32 hex digits (``RandomID``); a client's token names the secret it was granted with.
        public var id: String
        /// SHA-256 of the secret. Secrets are 256 random bits made by authd, so a fast hash is
        /// enough: there is no dictionary to try.
        public var digest: [UInt8]
        public var createdAt: Int

        public init(id: String, digest: [UInt8], createdAt: Int) {
            self.id = id
            self.digest = digest
            self.createdAt = createdAt
        }
    }

    public static let maxSecrets = 5
    public static let maxAudiences = 16
    public static let tokenTTLRange = 60...TokenClaims.maxClientTokenLifetime

    public var id: String
    public var createdAt: Int
    public var permissions: [Permission]
    /// The audiences (`aud`) its tokens may be for, the first being the default; none: the
    /// service's own audience only.
    public var audiences: [String]
    /// Its tokens' lifetime, in seconds; nil: the service's access-token lifetime.
    public var tokenTTL: Int?
    /// Roles its tokens carry, for gateways (`/forward-auth?allowed_roles=`), as a user's do.
    public var roles: [String]
    public var secrets: [Secret]

    public init(
        id: String, createdAt: Int, permissions: [Permission], audiences: [String] = [], tokenTTL: Int? = nil,
        roles: [String] = [], secrets: [Secret] = []
    ) {
        self.id = id
        self.createdAt = createdAt
        self.permissions = permissions
        self.audiences = audiences
        self.tokenTTL = tokenTTL
        self.roles = roles
        self.secrets = secrets
    }

    public func may(_ permission: Permission) -> Bool {
        self.permissions.contains(permission)
    }

    /// The secret `presented` is, compared with every one of the client's by digest (so the time
    /// taken does not depend on where a guess differs), or nil.
    public func secret(matching presented: String) -> Secret? {
        let digest = Self.digest(presented)
        var found: Secret?
        for secret in self.secrets where ConstantTime.equal(secret.digest, digest) { found = secret }
        return found
    }

    /// A new secret: what the client is given once (43 characters of base64url), and what is kept.
    public static func makeSecret(now: Int) -> (secret: String, stored: Secret) {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let secret = Base64URL.encode(bytes)
        return (secret, Secret(id: RandomID.make(), digest: Self.digest(secret), createdAt: now))
    }

    /// SHA-256 of a secret, as stored.
    public static func digest(_ secret: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(secret.utf8)))
    }
}

/// The rules for client ids and audiences, checked before anything touches the store.
public enum ClientRules {
    /// A client id's canonical form: a user name's rules (3 to 64 characters of `a-z`, `0-9`, `.`,
    /// `_`, `-`, case-insensitive). Client ids and user names share one namespace: no client may
    /// take a user's name, nor a user a client's, so a token's `sub` names one of them only.
    public static func canonicalID(_ raw: String) throws(AuthError) -> String {
        do {
            return try Credentials.canonicalUsername(raw)
        } catch {
            throw .invalidRequest(
                "a client id is 3 to 64 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit")
        }
    }

    /// An audience as a client may ask for it (RFC 8707's `resource`, or `audience`): 1 to 256
    /// printable ASCII characters, no space or comma (a URI, most often).
    public static func audience(_ raw: String) throws(AuthError) -> String {
        let bytes = Array(raw.utf8)
        guard (1...256).contains(bytes.count), bytes.allSatisfy({ (0x21...0x7E).contains($0) && $0 != 0x2C }) else {
            throw .invalidRequest("an audience is 1 to 256 printable ASCII characters, with no space or comma")
        }
        return raw
    }

    /// A stored comma-separated list (as Redis keeps permissions, audiences and roles).
    public static func list(_ text: String?) -> [String] {
        Roles.parse(text)
    }
}
