/// A session as stored when it is created.
public struct SessionRecord: Sendable, Equatable {
    public var username: String
    public var id: String
    /// The `jti` of the session's one valid refresh token.
    public var refreshTokenID: String
    /// When the current refresh token expires: the store's key lives exactly that long.
    public var refreshExpiresAt: Int
    /// The session's absolute end.
    public var absoluteExpiresAt: Int
    public var client: ClientInfo
    /// The version of the password the login checked.
    public var passwordVersion: String
    /// How the user authenticated, and when (a password alone, at the session's creation, unless given).
    public var assurance: Assurance

    public init(
        username: String, id: String, refreshTokenID: String, refreshExpiresAt: Int, absoluteExpiresAt: Int,
        client: ClientInfo, passwordVersion: String, assurance: Assurance? = nil
    ) {
        self.assurance = assurance ?? .passwordOnly(at: 0)
        self.passwordVersion = passwordVersion
        self.username = username
        self.id = id
        self.refreshTokenID = refreshTokenID
        self.refreshExpiresAt = refreshExpiresAt
        self.absoluteExpiresAt = absoluteExpiresAt
        self.client = client
    }
}

/// What opening a session did.
public struct OpenedSession: Sendable, Equatable {
    /// The user's roles, which the session took.
    public var roles: [String]
    /// The sessions the user's cap ended to make room.
    public var evicted: [String]

    public init(roles: [String], evicted: [String] = []) {
        self.roles = roles
        self.evicted = evicted
    }
}

/// What the service knows of the client that opened a session, for the user's session list.
public struct ClientInfo: Sendable, Equatable {
    public static let maxUserAgentBytes = 256

    public var userAgent: String
    public var ip: String

    public init(userAgent: String? = nil, ip: String? = nil) {
        self.userAgent = String(decoding: (userAgent ?? "").utf8.prefix(Self.maxUserAgentBytes), as: UTF8.self)
        self.ip = ip ?? ""
    }
}

/// A live session, as listed to its user.
public struct SessionInfo: Sendable, Equatable {
    public var id: String
    public var createdAt: Int
    public var lastUsedAt: Int
    /// When the session ends unless refreshed before.
    public var expiresAt: Int
    /// When the session ends whatever happens.
    public var absoluteExpiresAt: Int
    public var client: ClientInfo

    public init(id: String, createdAt: Int, lastUsedAt: Int, expiresAt: Int, absoluteExpiresAt: Int, client: ClientInfo)
    {
        self.id = id
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.expiresAt = expiresAt
        self.absoluteExpiresAt = absoluteExpiresAt
        self.client = client
    }
}

/// What a caller shows before ending sessions beyond its own.
public enum SessionProof: Sendable, Equatable {
    /// A refresh token: its session must live, and the token be the current one, or its
    /// predecessor within `graceSeconds` of the rotation.
    case refreshToken(sessionID: String, tokenID: String, now: Int, graceSeconds: Int)
    /// An access token: its session must live and the token not be revoked.
    case accessToken(sessionID: String, tokenID: String)
}
