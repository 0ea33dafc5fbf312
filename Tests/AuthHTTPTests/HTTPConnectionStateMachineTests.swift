import NIOCore
import NIOHTTP1
import Testing

@testable import AuthHTTP

/// ``HTTPConnectionStateMachine`` alone: an event in, an action out, no channel, no loop, no time
/// (valkey-swift's `ValkeyChannelHandler+stateMachine` tests are the model). The wiring of these
/// actions to a channel is `HTTPConnectionTests`'.
@Suite("HTTP connection state machine: event in, action out")
struct HTTPConnectionStateMachineTests {
    typealias Machine = HTTPConnectionStateMachine

    static func head(
        _ method: HTTPMethod = .GET,
        _ uri: String = "/",
        version: HTTPVersion = .http1_1,
        _ headers: [(String, String)] = [("host", "a")]
    ) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: method, uri: uri, headers: HTTPHeaders(headers))
    }

    static func body(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    static let ok = HTTPResponse(status: .ok)

    /// Feeds whole requests (each head, then its end) in order, then the head alone of `partial`:
    /// requests pipelined behind each other, as one read brings them.
    static func feed(_ machine: inout Machine, _ heads: HTTPRequestHead..., partial: HTTPRequestHead? = nil) {
        for head in heads {
            _ = machine.received(.head(head))
            _ = machine.received(.end(nil))
        }
        if let partial { _ = machine.received(.head(partial)) }
    }

    /// A whole request without a body: the head waits, `.end` dispatches it.
    @Test func requestIsDispatchedAtItsEnd() {
        var machine = Machine(maxBodyBytes: 16)
        let head = Self.head()
        #expect(machine.received(.head(head)) == .none)
        #expect(machine.received(.end(nil)) == .dispatch(head, nil))
        #expect(machine.isResponding)
        #expect(machine.readCompleted() == .none)
        #expect(
            machine.responseReady(Self.ok, requestID: "r1")
                == .write(Self.ok, requestID: "r1", head: head, after: .keepAlive))
        #expect(!machine.isResponding)
    }

    @Test func bodyChunksAreJoined() {
        var machine = Machine(maxBodyBytes: 16)
        let head = Self.head(.POST, "/login", [("host", "a"), ("content-length", "6")])
        #expect(machine.received(.head(head)) == .none)
        #expect(machine.received(.body(Self.body("abc"))) == .none)
        #expect(machine.received(.body(Self.body("def"))) == .none)
        #expect(machine.received(.end(nil)) == .dispatch(head, Self.body("abcdef")))
    }

    @Test func declaredBodyOverTheLimitIsRefusedAtTheHead() {
        var machine = Machine(maxBodyBytes: 16)
        let head = Self.head(.POST, "/login", [("host", "a"), ("content-length", "17")])
        #expect(machine.received(.head(head)) == .refuse(.bodyTooLarge(limit: 16)))
        // Nothing after a refusal is handled.
        #expect(machine.received(.body(Self.body("x"))) == .none)
        #expect(machine.received(.end(nil)) == .none)
        #expect(machine.readCompleted() == .none)
    }

    @Test func sentBodyOverTheLimitIsRefused() {
        var machine = Machine(maxBodyBytes: 4)
        let head = Self.head(.POST, "/login", [("host", "a"), ("transfer-encoding", "chunked")])
        #expect(machine.received(.head(head)) == .none)
        #expect(machine.received(.body(Self.body("abc"))) == .none)
        #expect(machine.received(.body(Self.body("de"))) == .refuse(.bodyTooLarge(limit: 4)))
    }

    @Test(arguments: [
        (HTTPConnectionStateMachineTests.head(.CONNECT, "a:443"), Machine.Refusal.connect),
        (HTTPConnectionStateMachineTests.head(.GET, "/", []), .host),
        (Self.head(.GET, "/", [("host", "a"), ("host", "b")]), .host),
        (Self.head(.POST, "/", [("host", "a"), ("transfer-encoding", "gzip, chunked")]), .transferCoding),
        (
            Self.head(.POST, "/", [("host", "a"), ("Transfer-Encoding", "chunked"), ("transfer-encoding", "chunked")]),
            .transferCoding
        ),
        (Self.head(.POST, "/", [("host", "a"), ("expect", "200-ok")]), .expectation),
    ])
    func headsThatAreRefused(head: HTTPRequestHead, refusal: Machine.Refusal) {
        var machine = Machine(maxBodyBytes: 16)
        #expect(machine.received(.head(head)) == .refuse(refusal))
        #expect(machine.received(.end(nil)) == .none)
    }

    @Test func http10NeedsNoHostAndChunkedInAnyCaseIsTaken() {
        var machine = Machine(maxBodyBytes: 16)
        #expect(machine.received(.head(Self.head(.GET, "/", version: .http1_0, []))) == .none)
        var other = Machine(maxBodyBytes: 16)
        #expect(
            other.received(.head(Self.head(.POST, "/", [("host", "a"), ("Transfer-Encoding", " Chunked ")]))) == .none)
    }

    @Test func expectContinueAsksForContinue() {
        var machine = Machine(maxBodyBytes: 16)
        let head = Self.head(.POST, "/", [("host", "a"), ("Expect", "100-Continue"), ("content-length", "2")])
        #expect(machine.received(.head(head)) == .sendContinue)
        #expect(machine.received(.body(Self.body("{}"))) == .none)
        #expect(machine.received(.end(nil)) == .dispatch(head, Self.body("{}")))
    }

    /// A pipelined request that arrives while a response is owed waits, and the reads stop until
    /// it has been handed on.
    @Test func pipelinedRequestsQueueAndHoldReads() {
        var machine = Machine(maxBodyBytes: 16)
        let first = Self.head(.GET, "/1")
        let second = Self.head(.GET, "/2")
        #expect(machine.received(.head(first)) == .none)
        #expect(machine.received(.end(nil)) == .dispatch(first, nil))
        #expect(machine.received(.head(second)) == .none)
        #expect(machine.received(.end(nil)) == .none)
        #expect(machine.readCompleted() == .none)
        #expect(machine.readRequested() == .none, "held: a request waits")
        #expect(
            machine.responseReady(Self.ok, requestID: "r1")
                == .write(Self.ok, requestID: "r1", head: first, after: .keepAliveAndProcessQueued)
        )
        #expect(machine.responseWritten() == .processQueued)
        #expect(machine.nextQueued() == .dispatch(second, nil))
        #expect(machine.nextQueued() == .none)
        #expect(machine.queueProcessed() == .read(startDeadline: false), "the held read goes on")
        #expect(
            machine.responseReady(Self.ok, requestID: "r2")
                == .write(Self.ok, requestID: "r2", head: second, after: .keepAlive))
    }

    /// A client that does not read its answers: with the channel not writable, queued requests
    /// wait and nothing more is read, until it is writable again.
    @Test func unwritableChannelHoldsQueueAndReads() {
        var machine = Machine(maxBodyBytes: 16)
        let first = Self.head(.GET, "/1")
        let second = Self.head(.GET, "/2")
        Self.feed(&machine, first, second)
        #expect(machine.writabilityChanged(false) == .none)
        _ = machine.responseReady(Self.ok, requestID: "r1")
        #expect(machine.responseWritten() == .none, "the queue waits for writability")
        #expect(machine.readRequested() == .none)
        #expect(machine.writabilityChanged(true) == .processQueued)
        #expect(machine.nextQueued() == .dispatch(second, nil))
        #expect(machine.queueProcessed() == .read(startDeadline: false))
    }

    @Test func heldReadResumesWhenWritableAgain() {
        var machine = Machine(maxBodyBytes: 16)
        #expect(machine.writabilityChanged(false) == .none)
        #expect(machine.readRequested() == .none)
        #expect(machine.writabilityChanged(true) == .read(startDeadline: false))
        #expect(machine.writabilityChanged(true) == .none, "one held read, passed on once")
    }

    @Test func nonKeepAliveRequestClosesAfterItsResponse() {
        var machine = Machine(maxBodyBytes: 16)
        let head = Self.head(.GET, "/", [("host", "a"), ("connection", "close")])
        _ = machine.received(.head(head))
        _ = machine.received(.end(nil))
        #expect(
            machine.responseReady(Self.ok, requestID: "r") == .write(Self.ok, requestID: "r", head: head, after: .close)
        )
        #expect(machine.received(.head(Self.head())) == .none, "closing: nothing more is taken")
        #expect(machine.received(.end(nil)) == .none)
    }

    /// `Upgrade` is answered as a plain request, then the connection closes; reads stop meanwhile
    /// (the decoder parses nothing after an upgrade request).
    @Test func upgradeIsAnsweredThenClosed() {
        var machine = Machine(maxBodyBytes: 16)
        let head = Self.head(.GET, "/", [("host", "a"), ("upgrade", "websocket"), ("connection", "upgrade")])
        #expect(machine.received(.head(head)) == .none)
        #expect(machine.received(.end(nil)) == .dispatch(head, nil))
        #expect(machine.readRequested() == .none)
        #expect(
            machine.responseReady(Self.ok, requestID: "r") == .write(Self.ok, requestID: "r", head: head, after: .close)
        )
    }

    // MARK: The read deadline

    /// Bytes read that gave no part start a head: the deadline starts, once; when it fires, 408.
    @Test func incompleteHeadGetsADeadlineAnd408() {
        var machine = Machine(maxBodyBytes: 16)
        #expect(machine.readCompleted() == .startDeadline)
        #expect(machine.readCompleted() == .none, "armed once")
        #expect(machine.deadlineFired() == .refuse(.readTimeout))
        #expect(machine.deadlineFired() == .none)
    }

    @Test func incompleteBodyGetsADeadline() {
        var machine = Machine(maxBodyBytes: 16)
        _ = machine.received(.head(Self.head(.POST, "/", [("host", "a"), ("content-length", "4")])))
        #expect(machine.readCompleted() == .startDeadline)
        #expect(machine.deadlineFired() == .refuse(.readTimeout))
    }

    /// A request that completes disarms the deadline: when the timer fires late, nothing happens.
    @Test func completedRequestDisarmsTheDeadline() {
        var machine = Machine(maxBodyBytes: 16)
        let head = Self.head(.POST, "/", [("host", "a"), ("content-length", "2")])
        _ = machine.received(.head(head))
        #expect(machine.readCompleted() == .startDeadline)
        #expect(machine.received(.body(Self.body("{}"))) == .none)
        #expect(machine.received(.end(nil)) == .dispatch(head, Self.body("{}")))
        #expect(machine.deadlineFired() == .none)
    }

    /// The dispatch stops the timer (the handler cancels it), so the next request that arrives in
    /// parts gets a deadline of its own.
    @Test func nextIncompleteRequestGetsItsOwnDeadline() {
        var machine = Machine(maxBodyBytes: 16)
        let head = Self.head(.POST, "/", [("host", "a"), ("content-length", "2")])
        _ = machine.received(.head(head))
        #expect(machine.readCompleted() == .startDeadline)
        _ = machine.received(.body(Self.body("{}")))
        #expect(machine.received(.end(nil)) == .dispatch(head, Self.body("{}")))
        #expect(machine.readCompleted() == .none)
        _ = machine.responseReady(Self.ok, requestID: "r")
        #expect(machine.readCompleted() == .startDeadline)
    }

    /// A whole request in one read needs no timer.
    @Test func wholeRequestInOneReadStartsNoDeadline() {
        var machine = Machine(maxBodyBytes: 16)
        _ = machine.received(.head(Self.head()))
        _ = machine.received(.end(nil))
        #expect(machine.readCompleted() == .none)
    }

    /// A queued request still incomplete when its turn comes gets its deadline with the read.
    @Test func incompleteQueuedRequestGetsItsDeadlineWhenHandedOn() {
        var machine = Machine(maxBodyBytes: 16)
        let first = Self.head(.GET, "/1")
        Self.feed(&machine, first, partial: Self.head(.POST, "/2", [("host", "a"), ("content-length", "4")]))
        _ = machine.readRequested()
        _ = machine.responseReady(Self.ok, requestID: "r1")
        #expect(machine.responseWritten() == .processQueued)
        #expect(machine.nextQueued() == .none)
        #expect(machine.queueProcessed() == .read(startDeadline: true))
    }

    // MARK: Parser failures, shutdown, idle, half-close

    @Test func parserFailuresAreRefused() {
        var overflow = Machine(maxBodyBytes: 16)
        #expect(overflow.parserFailed(.headerOverflow) == .refuse(.headersTooLarge))
        var malformed = Machine(maxBodyBytes: 16)
        #expect(malformed.parserFailed(.invalidMethod) == .refuse(.malformed))
    }

    /// A parser failure behind a request in flight: that request is answered, then the close.
    @Test func parserFailureWhileRespondingClosesAfterTheResponse() {
        var machine = Machine(maxBodyBytes: 16)
        let head = Self.head()
        _ = machine.received(.head(head))
        _ = machine.received(.end(nil))
        #expect(machine.parserFailed(.invalidMethod) == .none)
        #expect(
            machine.responseReady(Self.ok, requestID: "r") == .write(Self.ok, requestID: "r", head: head, after: .close)
        )
    }

    @Test func quiesceClosesAnIdleConnectionAtOnce() {
        var machine = Machine(maxBodyBytes: 16)
        #expect(machine.quiesce() == .close)
        #expect(machine.quiesce() == .none)
    }

    @Test func quiesceLetsTheResponseOwedGoFirst() {
        var machine = Machine(maxBodyBytes: 16)
        let head = Self.head()
        _ = machine.received(.head(head))
        _ = machine.received(.end(nil))
        #expect(machine.quiesce() == .none)
        #expect(
            machine.responseReady(Self.ok, requestID: "r") == .write(Self.ok, requestID: "r", head: head, after: .close)
        )
    }

    @Test func idleTimeoutClosesUnlessAResponseIsOwed() {
        var idle = Machine(maxBodyBytes: 16)
        #expect(idle.idleTimedOut() == .close)
        var busy = Machine(maxBodyBytes: 16)
        _ = busy.received(.head(Self.head()))
        _ = busy.received(.end(nil))
        #expect(busy.idleTimedOut() == .none)
    }

    @Test func halfCloseBetweenRequestsClosesNow() {
        var machine = Machine(maxBodyBytes: 16)
        #expect(machine.inputClosed() == .close)
    }

    /// A half-close after pipelined requests: each is answered, the last with `connection: close`.
    @Test func halfCloseAnswersWhatWasSentThenCloses() {
        var machine = Machine(maxBodyBytes: 16)
        let first = Self.head(.GET, "/1")
        let second = Self.head(.GET, "/2")
        Self.feed(&machine, first, second)
        #expect(machine.inputClosed() == .none)
        #expect(
            machine.responseReady(Self.ok, requestID: "r1")
                == .write(Self.ok, requestID: "r1", head: first, after: .keepAliveAndProcessQueued)
        )
        #expect(machine.responseWritten() == .processQueued)
        #expect(machine.nextQueued() == .dispatch(second, nil))
        #expect(
            machine.responseReady(Self.ok, requestID: "r2")
                == .write(Self.ok, requestID: "r2", head: second, after: .close))
    }

    /// A half-close with only part of a request queued: it can never complete, so the connection
    /// closes once the queue is handed on.
    @Test func halfCloseWithAnIncompleteQueuedRequestCloses() {
        var machine = Machine(maxBodyBytes: 16)
        let first = Self.head(.GET, "/1")
        Self.feed(&machine, first, partial: Self.head(.POST, "/2", [("host", "a"), ("content-length", "4")]))
        #expect(machine.inputClosed() == .none)
        #expect(
            machine.responseReady(Self.ok, requestID: "r1")
                == .write(Self.ok, requestID: "r1", head: first, after: .close))
    }

    @Test func halfCloseMidRequestClosesNow() {
        var machine = Machine(maxBodyBytes: 16)
        _ = machine.received(.head(Self.head(.POST, "/", [("host", "a"), ("content-length", "4")])))
        #expect(machine.inputClosed() == .close)
    }
}
