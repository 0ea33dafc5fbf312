import AuthCore

/// The token service's endpoints: one controller per concern, each with its request and
/// response bodies nested in it, and authentication done once, by ``BearerAuthenticator``.
public struct AuthRoutes: Sendable {
    let tokens: TokenController
    let sessions: SessionController
    let oauth: OAuthController
    let probes: ProbeController
    let forwardAuth: ForwardAuthController
    let feed: FeedController
    let secondFactor: SecondFactorController

    /// - Parameters:
    ///   - refreshCookie: the refresh token in a cookie for browsers on allowed origins; `nil`: bodies only.
    ///   - dpop: how DPoP proofs are taken (RFC 9449); by default, when a client sends them.
    public init(
        auth: AuthService, refreshCookie: RefreshCookie? = nil, dpop: DPoPPolicy = DPoPPolicy()
    ) {
        let guardian = DPoPGuard(auth: auth, policy: dpop)
        let authenticator = BearerAuthenticator(auth: auth, dpop: guardian)
        self.tokens = TokenController(auth: auth, refreshCookie: refreshCookie, dpop: guardian)
        self.sessions = SessionController(auth: auth, authenticator: authenticator, refreshCookie: refreshCookie)
        self.oauth = OAuthController(auth: auth, dpop: dpop)
        self.probes = ProbeController(auth: auth)
        self.forwardAuth = ForwardAuthController(authenticator: authenticator)
        self.feed = FeedController(auth: auth)
        self.secondFactor = SecondFactorController(auth: auth, authenticator: authenticator, tokens: self.tokens)
    }

    public func register(in router: inout Router) {
        self.tokens.register(in: &router)
        self.sessions.register(in: &router)
        self.oauth.register(in: &router)
        self.probes.register(in: &router)
        self.forwardAuth.register(in: &router)
        self.feed.register(in: &router)
        self.secondFactor.register(in: &router)
    }
}
