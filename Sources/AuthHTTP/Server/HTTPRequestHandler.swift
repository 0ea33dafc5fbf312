import AuthCore
import EventLoopSupport
import Logging
import NIOCore
import NIOHTTP1

/// Collects one request (head and body, up to the body limit), hands it to the router in a task
/// that runs on the connection's event loop, and writes the response. What to do when is
/// ``HTTPConnectionStateMachine``'s to decide; this handler carries it out.
///
/// One request per connection is handled at a time. Pipelined requests that arrive meanwhile wait
/// in order, and while any wait, the connection reads no more. This handler does that job
/// instead of NIO's `HTTPServerPipelineHandler`, which stops reading whenever a response is
/// outstanding: two `epoll_ctl` calls on every request that awaits Redis, about a tenth of a
/// verify's CPU, for clients that almost never pipeline.
final class HTTPRequestHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = Never
    /// Whole responses, encoded by ``ResponseEncoder``.
    typealias OutboundOut = ByteBuffer

    private let router: Router
    private let readTimeout: TimeAmount
    private var readDeadline: Scheduled<Void>?
    private let trustedProxies: TrustedProxies
    private let tracker: RequestTracker
    private let logger: Logger
    private var machine: HTTPConnectionStateMachine
    /// The task handling the current request, cancelled if the client hangs up: nobody is left to
    /// read its answer, and a queued password hash need not run.
    private var task: Task<Void, Never>?
    /// Where the request tasks run: this connection's event loop.
    private var executor: EventLoopTaskExecutor?
    /// The peer's address as text.
    private var peerIP: String?
    /// Marks the connection busy while a response is owed, for the server's connection cap.
    private let activity: ConnectionActivity
    /// Keep-alive responses are flushed together at the end of the loop's turn.
    private let endOfTurn = EndOfTurnFlush()

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
        self.machine = HTTPConnectionStateMachine(maxBodyBytes: maxBodyBytes)
        self.readTimeout = readTimeout
        self.trustedProxies = trustedProxies
        self.tracker = tracker
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.executor = EventLoopTaskExecutor(eventLoop: context.eventLoop)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.stopReadDeadline()
        self.task?.cancel()
        self.task = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let action = self.machine.received(Self.unwrapInboundIn(data))
        self.run(action, context: context)
    }

    /// A request still incomplete when a read ends gets its deadline, counted from the read that
    /// brought its first bytes: the head as well as the body must arrive within
    /// `requestReadTimeout`. (The idle timeout alone restarts with every byte, so a client
    /// dribbling a head a byte at a time would hold the connection for ever.)
    func channelReadComplete(context: ChannelHandlerContext) {
        self.run(self.machine.readCompleted(), context: context)
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        self.run(self.machine.readRequested(), context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.run(self.machine.writabilityChanged(context.channel.isWritable), context: context)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Requests the HTTP parser could not read, head or body (a bad chunk size, say), get a
        // JSON error, then the connection closes.
        guard let error = error as? HTTPParserError else {
            context.close(promise: nil)
            return
        }
        self.run(self.machine.parserFailed(error), context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ChannelShouldQuiesceEvent:
            self.run(self.machine.quiesce(), context: context)
        case is IdleStateHandler.IdleStateEvent:
            self.run(self.machine.idleTimedOut(), context: context)
        case ChannelEvent.inputClosed:
            self.run(self.machine.inputClosed(), context: context)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Carries out what the state machine decided.
    private func run(_ action: HTTPConnectionStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .dispatch(let head, let body):
            self.stopReadDeadline()
            self.dispatch(head: head, body: body, context: context)
        case .refuse(let refusal):
            self.stopReadDeadline()
            // A refusal carries a request id too, a fresh one (the request's own may never have
            // been read), so that the answer and its log line can be matched.
            let requestID = RequestID.next()
            let response = EventOrigin.$current.withValue(EventOrigin(requestID: requestID)) {
                ErrorResponder.response(for: refusal, logger: self.logger)
            }
            self.write(response, keepAlive: false, requestID: requestID, context: context)
        case .close:
            self.stopReadDeadline()
            self.close(context: context)
        case .sendContinue:
            var interim = context.channel.allocator.buffer(capacity: 25)
            interim.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
            context.writeAndFlush(Self.wrapOutboundOut(interim), promise: nil)
        case .startDeadline:
            self.startReadDeadline(context: context)
        case .read(let startDeadline):
            if startDeadline { self.startReadDeadline(context: context) }
            context.read()
        case .write(let response, let requestID, let head, let after):
            self.write(
                response, keepAlive: after != .close, requestID: requestID, isHeadRequest: head.method == .HEAD,
                context: context)
            if after == .keepAliveAndProcessQueued, case .processQueued = self.machine.responseWritten() {
                // On the loop's next turn, not from inside this response's task.
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.eventLoop.execute {
                    let (handler, context) = bound.value
                    handler.processQueued(context: context)
                }
            }
        case .processQueued:
            self.processQueued(context: context)
        }
    }

    private func startReadDeadline(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.readDeadline = context.eventLoop.scheduleTask(in: self.readTimeout) {
            let (handler, context) = bound.value
            handler.readDeadline = nil
            handler.run(handler.machine.deadlineFired(), context: context)
        }
    }

    private func stopReadDeadline() {
        self.readDeadline?.cancel()
        self.readDeadline = nil
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
            // The request's id, for its log lines; its address and user agent, for its events.
            let origin = EventOrigin(
                requestID: requestID, ip: request.clientIP, userAgent: head.headers.first(name: "user-agent"))
            let response = await EventOrigin.$current.withValue(origin) {
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
                handler.finish(response, requestID: requestID, context: context)
            }
            if loop.inEventLoop { finish() } else { loop.execute(finish) }
        }
        // A request answered without suspending is done already.
        if self.machine.isResponding { self.task = task }
    }

    /// Writes the response owed, then goes on with the requests that queued meanwhile.
    private func finish(_ response: HTTPResponse, requestID: String, context: ChannelHandlerContext) {
        self.task = nil
        self.activity.busy = false
        self.run(self.machine.responseReady(response, requestID: requestID), context: context)
    }

    /// Hands queued parts on until a request is in flight again, then reads again once none wait.
    private func processQueued(context: ChannelHandlerContext) {
        while true {
            let action = self.machine.nextQueued()
            if case .none = action { break }
            self.run(action, context: context)
        }
        self.run(self.machine.queueProcessed(), context: context)
    }

    private func write(
        _ response: HTTPResponse, keepAlive: Bool, requestID: String? = nil, isHeadRequest: Bool = false,
        context: ChannelHandlerContext
    ) {
        let bytes = ResponseEncoder.encode(
            response, requestID: requestID, keepAlive: keepAlive, isHeadRequest: isHeadRequest,
            allocator: context.channel.allocator)
        context.write(Self.wrapOutboundOut(bytes), promise: nil)
        if keepAlive {
            self.endOfTurn.schedule(context) { $0.flush() }
        } else {
            self.close(context: context)
        }
    }

    /// Closes the connection once everything written to it is out, a keep-alive response still
    /// waiting for the end-of-turn flush included: a close at once would drop it (a client that
    /// half-closes right behind a request answered in the same turn lost its answer). Writes
    /// complete in order, so an empty one flushed last completes after all of them.
    private func close(context: ChannelHandlerContext) {
        let channel = context.channel
        context.writeAndFlush(Self.wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            channel.close(promise: nil)
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
