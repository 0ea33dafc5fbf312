import JOSE

/// How a session's user authenticated (RFC 8176's `amr`), and when they last did (OpenID
/// Connect's `auth_time`). Tokens carry both; a gateway location or a route can ask for a second
/// factor, or a recent one (``AuthService/stepUp(_:proof:)``).
public struct Assurance: Sendable, Equatable {
    /// RFC 8176: a password.
    public static let password = "pwd"
    /// RFC 8176: a one-time password: a TOTP code, or a recovery code.
    public static let oneTimePassword = "otp"

    public var methods: [String]
    /// When the user last authenticated, in seconds since 1970; 0: not known (a session opened
    /// before authd recorded it).
    public var authTime: Int

    public init(methods: [String], authTime: Int) {
        self.methods = methods
        self.authTime = authTime
    }

    public static func passwordOnly(at time: Int) -> Assurance {
        Assurance(methods: [Self.password], authTime: time)
    }

    public static func secondFactor(at time: Int) -> Assurance {
        Assurance(methods: [Self.password, Self.oneTimePassword], authTime: time)
    }

    public var hasSecondFactor: Bool { self.methods.contains(Self.oneTimePassword) }

    /// As a session keeps it (field `amr`, comma-separated); an absent field is a password.
    public var storedMethods: String { self.methods.joined(separator: ",") }

    public init(storedMethods: String?, authTime: Int?) {
        let methods = (storedMethods ?? "").split(separator: ",").map(String.init)
        self.init(methods: methods.isEmpty ? [Self.password] : methods, authTime: max(authTime ?? 0, 0))
    }
}

/// A user's TOTP factor as stored: the sealed secret (``JOSE/FactorVault``) once confirmed, or
/// one waiting for its first code.
public struct StoredFactor: Sendable, Equatable {
    /// The active secret, sealed; nil while enrolment waits for its first code.
    public var sealedSecret: String?
    /// The last step whose code was accepted: no code of it or of an earlier step is accepted again.
    public var lastStep: Int
    /// The secret of an enrolment not yet confirmed, sealed, and when it lapses.
    public var pendingSecret: String?
    public var pendingExpiresAt: Int
    /// Recovery codes not yet used.
    public var recoveryCodesLeft: Int

    public init(
        sealedSecret: String?, lastStep: Int, pendingSecret: String?, pendingExpiresAt: Int, recoveryCodesLeft: Int
    ) {
        self.sealedSecret = sealedSecret
        self.lastStep = lastStep
        self.pendingSecret = pendingSecret
        self.pendingExpiresAt = pendingExpiresAt
        self.recoveryCodesLeft = recoveryCodesLeft
    }
}

/// A login whose password was right, waiting for its second factor: single use, short-lived.
public struct FactorChallenge: Sendable, Equatable {
    public var id: String
    public var username: String
    /// The password version the login checked: the session opens only if it is still the user's.
    public var passwordVersion: String
    public var client: ClientInfo
    /// The device token's id the login presented, for the device token of its answer.
    public var device: String?

    public init(id: String, username: String, passwordVersion: String, client: ClientInfo, device: String? = nil) {
        self.id = id
        self.username = username
        self.passwordVersion = passwordVersion
        self.client = client
        self.device = device
    }

    /// What the client holds: the id and the user's name (`ID.NAME`); nothing secret beyond the
    /// id, which is worthless without a valid code.
    public var token: String { self.id + "." + self.username }

    /// The id and the name of a challenge token, when it has the form ``token`` makes.
    public static func parse(_ token: String) -> (id: String, username: String)? {
        guard token.utf8.count <= 32 + 1 + Credentials.usernameLength.upperBound, token.utf8.count > 33 else {
            return nil
        }
        let id = String(token.prefix(32))
        guard RandomID.isValid(id), token.dropFirst(32).first == ".",
            let name = try? Credentials.canonicalUsername(String(token.dropFirst(33))),
            name == String(token.dropFirst(33))
        else { return nil }
        return (id, name)
    }
}

/// What proves the second factor.
public enum FactorProof: Sendable, Equatable {
    /// A TOTP code, as the step it matched.
    case code(step: Int)
    /// A recovery code, as its digest (``JOSE/FactorVault/recoveryDigest(of:)``).
    case recovery(digest: String)
}

/// What a proof is spent for, checked in the same atomic step.
public enum FactorUse: Sendable, Equatable {
    /// A login's challenge, consumed.
    case challenge(id: String)
    /// A step-up of this session, whose assurance becomes this.
    case stepUp(sessionID: String, Assurance)
    /// Nothing else (enrolment's removal checks a code before it removes the factor).
    case check
}

public enum FactorSpend: Sendable, Equatable {
    /// Accepted and spent; for a challenge, the challenge as it was stored.
    case spent(challenge: FactorChallenge?, recoveryCodesLeft: Int)
    /// The code's step was already used (a replay, on whatever instance), or the recovery code
    /// is unknown or spent.
    case refused
    /// The challenge or the session is gone (expired, used, logged out).
    case gone
    /// The user has no active factor (removed meanwhile).
    case noFactor
}
