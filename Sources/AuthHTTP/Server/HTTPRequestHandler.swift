import Logging
import NIOCore
import NIOHTTP1

/// Collects one request (head and body, up to the body limit), hands it to the router in a task
/// that runs on the connection's event loop, and writes the response.
///
/// The server pipeline's `HTTPServerPipelineHandler` holds back further pipelined requests until
/// the response is written, so at most one request per connection is in flight here.
final class HTTPRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

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
    private let trustForwardedFor: Bool
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

    init(
        router: Router,
        maxBodyBytes: Int,
        readTimeout: TimeAmount,
        trustForwardedFor: Bool,
        tracker: RequestTracker,
        logger: Logger
    ) {
        self.router = router
        self.maxBodyBytes = maxBodyBytes
        self.readTimeout = readTimeout
        self.trustForwardedFor = trustForwardedFor
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
        switch (Self.unwrapInboundIn(data), self.state) {
        case (.head(let head), .idle):
            let declared = head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
            if declared > self.maxBodyBytes {
                self.reject(context: context)
            } else {
                self.state = .receiving(head, nil)
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                self.readDeadline = context.eventLoop.scheduleTask(in: self.readTimeout) {
                    let (handler, context) = bound.value
                    guard case .receiving = handler.state else { return }
                    handler.state = .rejected
                    let response = HTTPError(
                        .requestTimeout, code: "invalid_request", description: "the request did not arrive in time"
                    ).response
                    handler.write(response, keepAlive: false, context: context)
                }
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
        // Requests the HTTP parser could not read get a JSON error, then the connection closes.
        guard let error = error as? HTTPParserError, case .idle = self.state else {
            context.close(promise: nil)
            return
        }
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
        self.write(response, keepAlive: false, context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
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
        let keepAlive = head.isKeepAlive
        let router = self.router
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let started = NIODeadline.now()
        let tracker = self.tracker
        tracker.begin()
        self.task = Task(executorPreference: self.executor) {
            defer { tracker.end() }
            var response = await RequestContext.$requestID.withValue(requestID) {
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
            response.headers.replaceOrAdd(name: "x-request-id", value: requestID)
            let finish: @Sendable () -> Void = { [response] in
                let (handler, context) = bound.value
                handler.task = nil
                handler.state = .idle
                handler.write(response, keepAlive: keepAlive, context: context)
            }
            if loop.inEventLoop { finish() } else { loop.execute(finish) }
        }
    }

    private func write(_ response: HTTPResponse, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = response.headers
        headers.replaceOrAdd(name: "content-length", value: String(response.body?.readableBytes ?? 0))
        if !keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
        context.write(
            Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))),
            promise: nil
        )
        if let body = response.body {
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: written)
        if !keepAlive {
            let channel = context.channel
            written.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// The peer's address; behind a trusted proxy, the last `X-Forwarded-For` entry, which is the
    /// one the proxy itself added.
    private func clientIP(head: HTTPRequestHead, context: ChannelHandlerContext) -> String? {
        if self.trustForwardedFor, let forwarded = head.headers[canonicalForm: "x-forwarded-for"].last {
            return String(forwarded.prefix(64))
        }
        // Formatted once per connection: inet_ntop showed in the verify profile.
        if self.peerIP == nil { self.peerIP = context.channel.remoteAddress?.ipAddress }
        return self.peerIP
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
