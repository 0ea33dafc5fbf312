import Logging
import NIOCore
import NIOHTTP1

/// Collects one request (head and body, up to the body limit), hands it to the router in a task
/// that runs on the connection's event loop, and writes the response.
///
/// One request per connection is handled at a time. Pipelined requests that arrive meanwhile wait
/// here in order, and while any wait, the connection reads no more. This handler does that job
/// instead of NIO's `HTTPServerPipelineHandler`, which stops reading whenever a response is
/// outstanding: two `epoll_ctl` calls on every request that awaits Redis, about a tenth of a
/// verify's CPU, for clients that almost never pipeline.
final class HTTPRequestHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = Never
    /// Whole responses, encoded by ``ResponseEncoder``.
    typealias OutboundOut = ByteBuffer

    private enum State {
        case idle
        case receiving(HTTPRequestHead, ByteBuffer?)
        /// The body went over the limit: the 413 is out, the connection is closing.
        case rejected
        case responding
    }

    private let router: Router
    private let maxBodyBytes: Int
    private let readTimeout: TimeAmount
    private var readDeadline: Scheduled<Void>?
    private let trustedProxies: TrustedProxies
    private let tracker: RequestTracker
    private let logger: Logger
    private var state = State.idle
    /// The task handling the current request, cancelled if the client hangs up: nobody is left to
    /// read its answer, and a queued password hash need not run.
    private var task: Task<Void, Never>?
    /// Where the request tasks run: this connection's event loop.
    private var executor: EventLoopTaskExecutor?
    /// The peer's address as text.
    private var peerIP: String?
    /// Parts of pipelined requests that arrived while a response was owed, in order.
    private var queued = CircularBuffer<HTTPServerRequestPart>()
    /// A `read()` held back because requests are queued.
    private var readHeld = false
    /// The server is shutting down: the response owed is the connection's last.
    private var quiescing = false
    /// Whether the decoder handed on any part of a request since the last read completed. Bytes
    /// read that gave none are the start of a request head still incomplete.
    private var partsThisRead = false
    /// Marks the connection busy while a response is owed, for the server's connection cap.
    private let activity: ConnectionActivity

    init(
        router: Router,
        maxBodyBytes: Int,
        readTimeout: TimeAmount,
        trustedProxies: TrustedProxies,
        tracker: RequestTracker,
        activity: ConnectionActivity = ConnectionActivity(),
        logger: Logger
    ) {
        self.activity = activity
        self.router = router
        self.maxBodyBytes = maxBodyBytes
        self.readTimeout = readTimeout
        self.trustedProxies = trustedProxies
        self.tracker = tracker
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.executor = EventLoopTaskExecutor(eventLoop: context.eventLoop)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.readDeadline?.cancel()
        self.task?.cancel()
        self.task = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = Self.unwrapInboundIn(data)
        self.partsThisRead = true
        if case .responding = self.state {
            self.queued.append(part)
        } else if !self.queued.isEmpty {
            self.queued.append(part)
        } else {
            self.handle(part, context: context)
        }
    }

    /// A request still incomplete when a read ends gets its deadline, counted from the read that
    /// brought its first bytes: the head as well as the body must arrive within
    /// `requestReadTimeout`. (The idle timeout alone restarts with every byte, so a client
    /// dribbling a head a byte at a time would hold the connection for ever.) Most requests arrive
    /// whole in one read and need no timer.
    func channelReadComplete(context: ChannelHandlerContext) {
        self.armReadDeadline(context: context, headStarted: !self.partsThisRead)
        self.partsThisRead = false
        context.fireChannelReadComplete()
    }

    private func armReadDeadline(context: ChannelHandlerContext, headStarted: Bool = false) {
        guard self.readDeadline == nil else { return }
        switch self.state {
        case .receiving: break
        case .idle where headStarted && self.queued.isEmpty: break
        default: return
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.readDeadline = context.eventLoop.scheduleTask(in: self.readTimeout) {
            let (handler, context) = bound.value
            handler.readDeadline = nil
            switch handler.state {
            case .receiving, .idle: break
            case .rejected, .responding: return
            }
            handler.state = .rejected
            let response = HTTPError(
                .requestTimeout, code: "invalid_request", description: "the request did not arrive in time"
            ).response
            handler.write(response, keepAlive: false, context: context)
        }
    }

    func read(context: ChannelHandlerContext) {
        if self.queued.isEmpty {
            context.read()
        } else {
            self.readHeld = true
        }
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch (part, self.state) {
        case (.head(let head), .idle):
            let declared = head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
            if declared > self.maxBodyBytes {
                self.reject(context: context)
            } else {
                self.state = .receiving(head, nil)
            }
        case (.body(var chunk), .receiving(let head, var body)):
            let received = (body?.readableBytes ?? 0) + chunk.readableBytes
            guard received <= self.maxBodyBytes else {
                self.reject(context: context)
                return
            }
            if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
            self.state = .receiving(head, body)
        case (.end, .receiving(let head, let body)):
            self.readDeadline?.cancel()
            self.readDeadline = nil
            self.state = .responding
            self.dispatch(head: head, body: body, context: context)
        default:
            // Parts after a rejection, or out of order: nothing to do.
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Requests the HTTP parser could not read, head or body (a bad chunk size, say), get a
        // JSON error, then the connection closes. One that comes while a response is owed closes
        // the connection after that response.
        guard let error = error as? HTTPParserError else {
            context.close(promise: nil)
            return
        }
        switch self.state {
        case .idle, .receiving:
            self.readDeadline?.cancel()
            self.readDeadline = nil
            let response =
                switch error {
                case .headerOverflow:
                    HTTPError(
                        .init(statusCode: 431, reasonPhrase: "Request Header Fields Too Large"),
                        code: "invalid_request", description: "request headers are too large"
                    ).response
                default:
                    HTTPError.badRequest("malformed HTTP request").response
                }
            self.state = .rejected
            self.queued.removeAll()
            self.write(response, keepAlive: false, context: context)
        case .responding:
            self.quiescing = true
        case .rejected:
            break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            // Shutdown: a connection between requests closes now; one that is owed a response
            // closes once it is written.
            switch self.state {
            case .idle: context.close(promise: nil)
            case .receiving, .responding: self.quiescing = true
            case .rejected: break
            }
            return
        }
        if event is IdleStateHandler.IdleStateEvent {
            // A client that sends nothing for the idle timeout is dropped, unless we owe it a response.
            if case .responding = self.state { return }
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func reject(context: ChannelHandlerContext) {
        self.state = .rejected
        let response = HTTPError(
            .payloadTooLarge, code: "invalid_request",
            description: "the body is larger than \(self.maxBodyBytes) bytes"
        ).response
        self.write(response, keepAlive: false, context: context)
    }

    private func dispatch(head: HTTPRequestHead, body: ByteBuffer?, context: ChannelHandlerContext) {
        let logger = self.logger
        let requestID =
            head.headers.first(name: "x-request-id").flatMap(Self.sanitizedRequestID)
            ?? RequestID.next()
        let request = HTTPRequest(
            method: head.method, uri: head.uri, headers: head.headers, body: body,
            clientIP: self.clientIP(head: head, context: context), logger: logger
        )
        let router = self.router
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let started = NIODeadline.now()
        let tracker = self.tracker
        tracker.begin()
        self.activity.busy = true
        // Started on this thread: the request runs here up to its first suspension (usually its
        // Redis command) instead of waiting for the loop's next turn.
        let task = Task.immediate(executorPreference: self.executor) {
            defer { tracker.end() }
            let response = await RequestContext.$requestID.withValue(requestID) {
                let response = await router.respond(to: request)
                let elapsed = (NIODeadline.now() - started).nanoseconds / 1000
                logger.debug(
                    "request",
                    metadata: [
                        "method": "\(head.method.rawValue)", "path": "\(request.path)",
                        "status": "\(response.status.code)", "duration_us": "\(elapsed)",
                    ]
                )
                return response
            }
            let finish: @Sendable () -> Void = { [response] in
                let (handler, context) = bound.value
                handler.finish(response, to: head, requestID: requestID, context: context)
            }
            if loop.inEventLoop { finish() } else { loop.execute(finish) }
        }
        // A request answered without suspending is done already.
        if case .responding = self.state { self.task = task }
    }

    /// Writes the response owed, then goes on with the requests that queued meanwhile.
    private func finish(
        _ response: HTTPResponse, to head: HTTPRequestHead, requestID: String, context: ChannelHandlerContext
    ) {
        self.task = nil
        self.state = .idle
        self.activity.busy = false
        let keepAlive = head.isKeepAlive && !self.quiescing
        self.write(
            response, keepAlive: keepAlive, requestID: requestID, isHeadRequest: head.method == .HEAD,
            context: context)
        guard keepAlive else {
            self.state = .rejected
            self.queued.removeAll()
            return
        }
        if !self.queued.isEmpty {
            // On the loop's next turn, not from inside this response's task.
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.execute {
                let (handler, context) = bound.value
                handler.processQueued(context: context)
            }
        }
    }

    /// Hands queued parts on until a request is in flight again, then reads again once none wait.
    private func processQueued(context: ChannelHandlerContext) {
        while !self.queued.isEmpty {
            if case .responding = self.state { return }
            if case .rejected = self.state {
                self.queued.removeAll()
                return
            }
            self.handle(self.queued.removeFirst(), context: context)
        }
        // A queued request still incomplete gets its deadline, as one read whole would.
        self.armReadDeadline(context: context)
        if self.readHeld {
            self.readHeld = false
            context.read()
        }
    }

    private func write(
        _ response: HTTPResponse, keepAlive: Bool, requestID: String? = nil, isHeadRequest: Bool = false,
        context: ChannelHandlerContext
    ) {
        let bytes = ResponseEncoder.encode(
            response, requestID: requestID, keepAlive: keepAlive, isHeadRequest: isHeadRequest,
            allocator: context.channel.allocator)
        if keepAlive {
            context.write(Self.wrapOutboundOut(bytes), promise: nil)
            self.scheduleFlush(context: context)
        } else {
            let channel = context.channel
            context.writeAndFlush(Self.wrapOutboundOut(bytes)).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    private var flushScheduled = false

    /// Flushes at the end of the event loop's turn, not at once: a response completed inside the
    /// read that brought its request (a verify answered from the cache, `/healthz`) then goes out
    /// with the others of the same turn. Flushed one by one, each woke the client for one
    /// response, and on a shared machine the wake-ups cost more CPU per request than the work:
    /// verify from the cache measured 73 µs per request against 48 with this (Benchmarks/service.sh,
    /// docs/PERFORMANCE.md).
    private func scheduleFlush(context: ChannelHandlerContext) {
        guard !self.flushScheduled else { return }
        self.flushScheduled = true
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (handler, context) = bound.value
            handler.flushScheduled = false
            context.flush()
        }
    }

    /// The peer's address; behind a trusted proxy, the right-most `X-Forwarded-For` entry that is
    /// not a trusted proxy (see ``TrustedProxies``).
    private func clientIP(head: HTTPRequestHead, context: ChannelHandlerContext) -> String? {
        // Formatted once per connection: inet_ntop showed in the verify profile.
        if self.peerIP == nil { self.peerIP = context.channel.remoteAddress?.ipAddress }
        guard let peer = self.peerIP, !self.trustedProxies.networks.isEmpty else { return self.peerIP }
        return self.trustedProxies.clientAddress(
            peer: peer, forwardedFor: head.headers[canonicalForm: "x-forwarded-for"].map(String.init))
    }

    /// A client's request id is kept only when it is short and plain, since it goes into logs.
    private static func sanitizedRequestID(_ value: String) -> String? {
        guard (1...64).contains(value.utf8.count),
            value.utf8.allSatisfy({
                $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || (48...57).contains($0) || (65...90).contains($0)
                    || (97...122).contains($0)
            })
        else { return nil }
        return value
    }
}
