/// Which attempt counters apply.
public enum ThrottleScope: Sendable, Equatable {
    /// A password check for `username` (as given, unvalidated) from `ip`: login and password change.
    /// `device`: the id of a valid device token of the user's (``JOSE/DeviceTokens``), which counts
    /// the attempt against that device's limit instead of the user's and the user-and-address ones.
    case password(username: String, ip: String, device: String? = nil)
    /// A sign-up from `ip`.
    case signUp(ip: String)
    /// Client credentials (introspection, the client-credentials grant) from `ip`.
    case clientSecret(ip: String)
    /// A second-factor code for `username` (canonical: only a login whose password was right, or a
    /// live session, gets this far), in the login challenge or the session `attempt`.
    case secondFactor(username: String, attempt: String)

    /// What is counted, in the words of the 429 that refuses one too many.
    var attempts: String {
        switch self {
        case .password: "failed logins"
        case .signUp: "sign-ups"
        case .clientSecret: "wrong client secrets"
        case .secondFactor: "wrong codes"
        }
    }
}

/// How many attempts are tolerated before `429 Too Many Requests`. An attempt is counted before
/// the password hash it would cost, and given back when it succeeds, so the limits bound the
/// failures. Three counters for password checks, so that an attacker cannot lock a user out for
/// long: the tight limit applies to one user *from one address*; the user's limit over all
/// addresses is much looser; and one address has a limit over all users. One counter for sign-ups.
public struct ThrottlePolicy: Sendable, Equatable {
    public struct Limit: Sendable, Equatable {
        public var failures: Int
        public var windowSeconds: Int

        public init(failures: Int, windowSeconds: Int) {
            self.failures = failures
            self.windowSeconds = windowSeconds
        }
    }

    /// One user from one address, or from one device that logged in before: 5 failures in 5 minutes.
    public var userFromAddress = Limit(failures: 5, windowSeconds: 300)
    /// One user from anywhere (a distributed guess): 50 failures in 15 minutes.
    public var user = Limit(failures: 50, windowSeconds: 900)
    /// One address, any users (credential stuffing): 100 failures in 15 minutes.
    public var address = Limit(failures: 100, windowSeconds: 900)
    /// Sign-ups from one address: 20 an hour (each costs a password hash, and an account). Enough
    /// for a room of people behind one NAT, and for the 16 users of the shared load scenarios.
    public var signUpFromAddress = Limit(failures: 20, windowSeconds: 3600)
    /// Wrong client secrets from one address: 20 in 15 minutes. Per address only, so that guesses
    /// cannot lock the resource server itself out.
    public var clientSecretFromAddress = Limit(failures: 20, windowSeconds: 900)
    /// Wrong second-factor codes in one login challenge or one session: 5 in 5 minutes.
    public var codesPerAttempt = Limit(failures: 5, windowSeconds: 300)
    /// Wrong second-factor codes for one user, all challenges and sessions: 10 in 15 minutes. Only
    /// someone who knows the password can spend these (a challenge needs it), and each guess has a
    /// chance of 3 in 10^6 (three steps are accepted): at most about 1 in 350 a day.
    public var codesPerUser = Limit(failures: 10, windowSeconds: 900)
    public var enabled = true

    public init() {}
}
