import AuthCore
import WireJSON

/// The revocation feed: `POST /sets/poll`, RFC 8936 poll-based delivery of CAEP Security Event
/// Tokens to registered clients that may introspect (docs/EVENTS.md, the feed).
struct FeedController: Sendable {
    let auth: AuthService

    func register(in router: inout Router) {
        router.add(.POST, "/sets/poll") { try await self.poll($0) }
    }

    /// The poll request (RFC 8936 §2.4): `ack` (jtis processed), `maxEvents`, `returnImmediately`;
    /// `setErrs` is taken and not read (a SET reported there and not acknowledged comes again).
    /// HTTP Basic client authentication only: the body is JSON.
    func poll(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard let credentials = try ClientAuthentication.credentials(of: request, form: nil) else {
            throw AuthError.invalidClient
        }
        let (client, _) = try await self.auth.authenticateClient(
            id: credentials.id, secret: credentials.secret, for: .introspect, ip: request.clientIP ?? "")
        // An empty body is a poll with every default.
        let empty = (request.body?.readableBytes ?? 0) == 0
        let body = try empty ? PollBody(fields: JSONFields(members: [])) : request.decodeJSON(PollBody.self)
        let (sets, more) = try await self.auth.pollFeed(
            for: client, acknowledging: body.ack, maxEvents: body.maxEvents,
            returnImmediately: body.returnImmediately)
        var response = HTTPResponse.json(PollResponse(sets: sets, moreAvailable: more))
        response.headers.replaceOrAdd(name: "cache-control", value: "no-store")
        return response
    }

    struct PollBody: JSONRequestBody {
        var ack: [String]
        var maxEvents: Int?
        var returnImmediately: Bool

        init(fields: JSONFields) throws(HTTPError) {
            self.ack = try fields.strings("ack") ?? []
            self.maxEvents = try fields.int("maxEvents")
            self.returnImmediately = try fields.bool("returnImmediately") ?? false
        }
    }

    /// `{"moreAvailable", "sets": {JTI: SET}}` (RFC 8936 §2.5).
    struct PollResponse: JSONResponseBody {
        var sets: [(jti: String, token: String)]
        var moreAvailable: Bool

        var json: [UInt8] {
            var sets = JSONObjectWriter(capacity: 64 + self.sets.count * 700)
            for (jti, token) in self.sets { sets.add(member: jti, token) }
            var writer = JSONObjectWriter(capacity: 64 + self.sets.count * 700)
            writer.add("moreAvailable", self.moreAvailable)
            writer.add("sets", json: sets.finish())
            return writer.finish()
        }
    }
}
