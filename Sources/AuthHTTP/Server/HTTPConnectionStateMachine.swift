import NIOCore
import NIOHTTP1

/// The state of one HTTP/1.1 connection, apart from its side effects: every event goes in, and
/// what the handler must do comes out as an ``Action``, the one result type of every event
/// (valkey-swift's channel handler and its state machine are the model). ``HTTPRequestHandler``
/// carries the actions out. `HTTPConnectionStateMachineTests` drive the machine alone, event in,
/// action out; `HTTPConnectionTests` check the wiring on a channel.
///
/// One request is handled at a time. Parts of pipelined requests that arrive meanwhile wait here in
/// order, and while any wait, the connection reads no more (read back-pressure). A connection that
/// is refused a request (413, 408, 431, 400) is closing: nothing after it is read or answered.
struct HTTPConnectionStateMachine {
    enum Phase {
        case idle
        case receiving(HTTPRequestHead, ByteBuffer?)
        /// The request has been handed on; its response is owed.
        case responding(HTTPRequestHead)
        /// A refusal or a last response is out; the connection closes once it is written.
        case closing
    }

    /// Why a request is refused before it reaches a route; the connection closes after the answer,
    /// which ``ErrorResponder`` words.
    enum Refusal: Error, Equatable {
        /// 413: declared or sent body over the limit.
        case bodyTooLarge(limit: Int)
        /// 408: the request did not arrive in time.
        case readTimeout
        /// 431: the head is over the parser's limit.
        case headersTooLarge
        /// 400: the parser could not read the request.
        case malformed
        /// 501: `CONNECT`; authd is no proxy.
        case connect
        /// 400: HTTP/1.1 without exactly one `Host` (RFC 9112 §3.2).
        case host
        /// 501: a transfer coding other than `chunked` (RFC 9112 §6.1).
        case transferCoding
        /// 417: an `Expect` other than `100-continue` (RFC 9110 §10.1.1).
        case expectation
    }

    /// What the handler does next; every event answers with one.
    enum Action: Equatable {
        case none
        /// Hand the request to the router (and stop the read deadline).
        case dispatch(HTTPRequestHead, ByteBuffer?)
        /// Send `100 Continue`: the client waits for it before its body (`Expect: 100-continue`).
        case sendContinue
        /// Answer with the refusal, then close (and stop the read deadline).
        case refuse(Refusal)
        /// Close the connection now.
        case close
        /// Start the read deadline: a request is still incomplete.
        case startDeadline
        /// Pass a `read()` on to the channel, starting the read deadline first if `startDeadline`.
        case read(startDeadline: Bool)
        /// Write the response to the request `head`, then go on as `after` says.
        case write(HTTPResponse, requestID: String, head: HTTPRequestHead, after: AfterResponse)
        /// Hand on the requests that queued.
        case processQueued
    }

    /// What to do once a response is ready.
    enum AfterResponse: Equatable {
        /// Keep the connection; no request waits.
        case keepAlive
        /// Keep the connection, and hand on the requests that queued (on the loop's next turn).
        case keepAliveAndProcessQueued
        /// The response says `connection: close`; close once it is written.
        case close
    }

    let maxBodyBytes: Int
    private(set) var phase = Phase.idle
    /// Parts of pipelined requests that arrived while a response was owed, in order.
    private var queued = CircularBuffer<HTTPServerRequestPart>()
    /// A `read()` held back because requests are queued or the channel is not writable.
    private var readHeld = false
    /// Whether the channel takes more writes. While it does not (a client that does not read its
    /// answers), nothing more is read, and queued requests wait: what one connection holds in
    /// memory stays bounded by the channel's high-water mark and one read's worth of requests.
    private var writable = true
    /// Queued requests whose turn came while the channel was not writable.
    private var queuedWaitForWritability = false
    /// The request being answered asked to upgrade the connection: the decoder parses nothing
    /// after it, so the connection closes after its answer. authd upgrades nothing.
    private var closeAfterResponse = false
    /// The server is shutting down, or the parser failed behind a request: the response owed is
    /// the connection's last.
    private var quiescing = false
    /// The client closed its side (half-close): it sends no more; the requests it sent are
    /// answered, then the connection closes.
    private var clientDone = false
    /// Whether the decoder handed on any part of a request since the last read completed. Bytes
    /// read that gave none are the start of a request head still incomplete.
    private var partsThisRead = false
    /// Whether a read deadline is running.
    private var deadlineArmed = false

    init(maxBodyBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
    }

    var isResponding: Bool {
        if case .responding = self.phase { return true }
        return false
    }

    // MARK: Reading

    /// A part from the decoder.
    mutating func received(_ part: HTTPServerRequestPart) -> Action {
        self.partsThisRead = true
        guard !self.isResponding && self.queued.isEmpty else {
            self.queued.append(part)
            return .none
        }
        return self.handle(part)
    }

    private mutating func handle(_ part: HTTPServerRequestPart) -> Action {
        switch (part, self.phase) {
        case (.head(let head), .idle):
            if head.method == .CONNECT { return self.refuse(.connect) }
            // The framing headers, in one pass over the head (this runs on every request).
            let framing = Framing(head.headers)
            if head.version == .http1_1, framing.hosts != 1 { return self.refuse(.host) }
            if let codings = framing.transferEncoding,
                codings.lowercased().split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) != [
                    "chunked"
                ]
            {
                return self.refuse(.transferCoding)
            }
            var expectsContinue = false
            if let expect = framing.expect {
                guard expect.lowercased() == "100-continue" else { return self.refuse(.expectation) }
                expectsContinue = true
            }
            // `Upgrade` (WebSocket, h2c): answered as a plain request, then closed.
            if framing.upgrade { self.closeAfterResponse = true }
            let declared = framing.contentLength.flatMap { Int($0) } ?? 0
            guard declared <= self.maxBodyBytes else { return self.refuse(.bodyTooLarge(limit: self.maxBodyBytes)) }
            self.phase = .receiving(head, nil)
            return expectsContinue ? .sendContinue : .none
        case (.body(var chunk), .receiving(let head, var body)):
            // Both counts are bounded by what was read, so the sum cannot overflow.
            guard (body?.readableBytes ?? 0) + chunk.readableBytes <= self.maxBodyBytes else {
                return self.refuse(.bodyTooLarge(limit: self.maxBodyBytes))
            }
            if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
            self.phase = .receiving(head, body)
            return .none
        case (.end, .receiving(let head, let body)):
            self.deadlineArmed = false
            self.phase = .responding(head)
            return .dispatch(head, body)
        default:
            // Parts after a refusal, or out of order: nothing to do.
            return .none
        }
    }

    private mutating func refuse(_ refusal: Refusal) -> Action {
        self.phase = .closing
        self.queued.removeAll()
        self.deadlineArmed = false
        return .refuse(refusal)
    }

    /// A read ended. A request still incomplete gets a read deadline (``Action/startDeadline``),
    /// counted from the read that brought its first bytes. Most requests arrive whole in one read
    /// and need no timer.
    mutating func readCompleted() -> Action {
        let headStarted = !self.partsThisRead
        self.partsThisRead = false
        return self.armDeadline(headStarted: headStarted) ? .startDeadline : .none
    }

    private mutating func armDeadline(headStarted: Bool) -> Bool {
        guard !self.deadlineArmed else { return false }
        switch self.phase {
        case .receiving: break
        case .idle where headStarted && self.queued.isEmpty: break
        default: return false
        }
        self.deadlineArmed = true
        return true
    }

    /// The read deadline passed: a request still arriving is refused with 408.
    mutating func deadlineFired() -> Action {
        guard self.deadlineArmed else { return .none }
        self.deadlineArmed = false
        switch self.phase {
        case .receiving, .idle: return self.refuse(.readTimeout)
        case .responding, .closing: return .none
        }
    }

    /// The channel asks to read: passed on, but not while requests wait.
    mutating func readRequested() -> Action {
        guard self.queued.isEmpty && self.writable && !self.closeAfterResponse else {
            self.readHeld = true
            return .none
        }
        return .read(startDeadline: false)
    }

    // MARK: Responding

    /// The response owed is ready: it is written, with what to do after it.
    mutating func responseReady(_ response: HTTPResponse, requestID: String) -> Action {
        guard case .responding(let head) = self.phase else { return .none }
        // A client that half-closed gets `connection: close` on the answer to its last request.
        let last = self.quiescing || self.closeAfterResponse || (self.clientDone && !self.queuedHoldsARequest)
        guard head.isKeepAlive && !last else {
            self.phase = .closing
            self.queued.removeAll()
            return .write(response, requestID: requestID, head: head, after: .close)
        }
        self.phase = .idle
        let after: AfterResponse = self.queued.isEmpty ? .keepAlive : .keepAliveAndProcessQueued
        return .write(response, requestID: requestID, head: head, after: after)
    }

    private var queuedHoldsARequest: Bool {
        self.queued.contains { if case .end = $0 { true } else { false } }
    }

    /// The next action for the queued parts, until a request is in flight again or none is left.
    mutating func nextQueued() -> Action {
        while let part = self.queued.first {
            switch self.phase {
            case .responding: return .none
            case .closing:
                self.queued.removeAll()
                return .none
            case .idle, .receiving:
                self.queued.removeFirst()
                let action = self.handle(part)
                if case .none = action { continue }
                return action
            }
        }
        return .none
    }

    /// The response is written and requests are queued: they are handed on now, but not while
    /// the channel is not writable; ``writabilityChanged(_:)`` says when.
    mutating func responseWritten() -> Action {
        guard self.writable else {
            self.queuedWaitForWritability = true
            return .none
        }
        return .processQueued
    }

    /// The channel's writability changed: the queued requests that waited for it are handed on,
    /// or else a `read()` held back is passed on.
    mutating func writabilityChanged(_ writable: Bool) -> Action {
        self.writable = writable
        guard writable else { return .none }
        if self.queuedWaitForWritability {
            self.queuedWaitForWritability = false
            return .processQueued
        }
        guard self.readHeld && self.queued.isEmpty && !self.closeAfterResponse else { return .none }
        self.readHeld = false
        return .read(startDeadline: false)
    }

    /// The queue has been handed on as far as it goes: what next.
    mutating func queueProcessed() -> Action {
        guard self.queued.isEmpty else { return .none }
        // A queued request still incomplete gets its deadline, as one read whole would.
        let arm = self.armDeadline(headStarted: false)
        // A client that half-closed sends nothing more: an incomplete request never completes.
        switch self.phase {
        case .idle, .receiving:
            if self.clientDone {
                self.phase = .closing
                self.deadlineArmed = false
                return .close
            }
        case .responding, .closing:
            break
        }
        let read = self.readHeld
        self.readHeld = false
        if read { return .read(startDeadline: arm) }
        return arm ? .startDeadline : .none
    }

    // MARK: Events

    /// The parser could not read a request. One that comes while a response is owed closes the
    /// connection after that response.
    mutating func parserFailed(_ error: HTTPParserError) -> Action {
        switch self.phase {
        case .idle, .receiving:
            return self.refuse(error == .headerOverflow ? .headersTooLarge : .malformed)
        case .responding:
            self.quiescing = true
            return .none
        case .closing:
            return .none
        }
    }

    /// Shutdown: a connection between requests closes now; one that is owed a response closes
    /// once it is written.
    mutating func quiesce() -> Action {
        switch self.phase {
        case .idle:
            self.phase = .closing
            return .close
        case .receiving, .responding:
            self.quiescing = true
            return .none
        case .closing:
            return .none
        }
    }

    /// Nothing was read for the idle timeout: the client is dropped, unless a response is owed.
    mutating func idleTimedOut() -> Action {
        if self.isResponding { return .none }
        self.phase = .closing
        return .close
    }

    /// The client closed its side (a half-close, or the first half of a full close). The response
    /// owed and the requests queued are still answered; with none, the connection closes now.
    mutating func inputClosed() -> Action {
        self.clientDone = true
        switch self.phase {
        case .responding, .closing:
            return .none
        case .idle where self.queuedHoldsARequest:
            return .none
        case .idle, .receiving:
            self.phase = .closing
            self.queued.removeAll()
            return .close
        }
    }
}

/// The request headers that decide its framing, found in one pass.
private struct Framing {
    var hosts = 0
    var transferEncoding: String?
    var expect: String?
    var upgrade = false
    var contentLength: String?

    init(_ headers: HTTPHeaders) {
        for (name, value) in headers {
            switch name.utf8.count {
            case 4 where Self.named(name, "host"): self.hosts += 1
            case 6 where Self.named(name, "expect"): self.expect = self.expect ?? value
            case 7 where Self.named(name, "upgrade"): self.upgrade = true
            case 14 where Self.named(name, "content-length"): self.contentLength = self.contentLength ?? value
            case 17 where Self.named(name, "transfer-encoding"):
                self.transferEncoding = self.transferEncoding.map { $0 + "," + value } ?? value
            default: break
            }
        }
    }

    /// ASCII case-insensitive equality with a lowercase name of the same length.
    private static func named(_ name: String, _ lowercase: StaticString) -> Bool {
        var other = UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount).makeIterator()
        for byte in name.utf8 {
            guard let expected = other.next(), byte | 0x20 == expected else { return false }
        }
        return true
    }
}
