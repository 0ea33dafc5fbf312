import CoreMetrics
import EventLoopSupport
import NIOCore

/// Commands on their way to Redis, with the promise their replies complete.
enum RedisRequest: Sendable {
    /// One command; an error reply fails the promise.
    case one(RedisCommand, EventLoopPromise<RedisValue>, deadline: NIODeadline)
    /// Several commands written together; the promise gets every reply, error replies included
    /// as ``RedisValue/error(_:)``.
    case batch([RedisCommand], EventLoopPromise<[RedisValue]>, deadline: NIODeadline)
    /// One command whose caller awaits it: the reply resumes the task directly, without a promise
    /// and its future. Only ``RedisCommandHandler/submit(_:)`` takes these; it completes each
    /// exactly once, which a continuation requires.
    case awaiting(RedisCommand, UnsafeContinuation<RedisValue, any Error>, deadline: NIODeadline)

    var deadline: NIODeadline {
        switch self {
        case .one(_, _, let deadline), .batch(_, _, let deadline), .awaiting(_, _, let deadline): deadline
        }
    }

    var replyCount: Int {
        switch self {
        case .one, .awaiting: 1
        case .batch(let commands, _, _): commands.count
        }
    }

    func fail(_ error: any Error) {
        switch self {
        case .one(_, let promise, _): promise.fail(error)
        case .batch(_, let promise, _): promise.fail(error)
        case .awaiting(_, let continuation, _): continuation.resume(throwing: error)
        }
    }
}

/// Writes commands and matches replies to them first-in first-out, which is what makes
/// pipelining work: any number of commands can be in flight on one connection.
///
/// Flushes are coalesced: commands written in the same event loop tick go out in one write.
/// When the oldest command outlives its deadline, the connection is closed and every command on it
/// fails with ``RedisClientError/timeout``: a pipelined connection cannot skip a missing reply.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RedisValue
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    /// Requests awaiting replies, with when each was written (for
    /// `authd_redis_command_duration_seconds`).
    private var pending = CircularBuffer<(request: RedisRequest, written: NIODeadline)>(initialCapacity: 64)
    /// The replies received so far for the batch at the head of `pending`.
    private var batchReplies: [RedisValue] = []
    private var failure: (any Error)?
    /// Commands written in one turn of the loop leave together at its end.
    private let endOfTurn = EndOfTurnFlush()
    /// Commands encoded since the last flush, written together by the next.
    private var unwritten: ByteBuffer?
    private var timer: Scheduled<Void>?
    /// Set while the handler is in its pipeline, for ``submit(_:)``.
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Takes a request from the connection's owner, on the channel's event loop, without a trip
    /// down the pipeline: no boxed request and no write promise per command. Flushed with the
    /// other commands of the same event loop tick.
    func submit(_ request: RedisRequest) {
        guard let context = self.context else {
            request.fail(self.failure ?? RedisClientError.connectionClosed)
            return
        }
        self.write(request, context: context, promise: nil)
        self.flush(context: context)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.write(Self.unwrapOutboundIn(data), context: context, promise: promise)
    }

    private func write(_ request: RedisRequest, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        if let failure = self.failure {
            request.fail(failure)
            promise?.fail(failure)
            return
        }
        guard request.replyCount > 0 else {
            if case .batch(_, let promise, _) = request { promise.succeed([]) }
            promise?.succeed(())
            return
        }
        // Commands of one event loop tick go into one buffer, written whole by the flush.
        var buffer = self.unwritten.take() ?? context.channel.allocator.buffer(capacity: 1024)
        switch request {
        case .one(let command, _, _), .awaiting(let command, _, _):
            command.encode(into: &buffer)
        case .batch(let commands, _, _):
            for command in commands { command.encode(into: &buffer) }
        }
        self.pending.append((request, .now()))
        if self.timer == nil { self.armTimer(context: context, deadline: request.deadline) }
        if let promise {
            context.write(Self.wrapOutboundOut(buffer), promise: promise)
        } else {
            self.unwritten = buffer
        }
    }

    func flush(context: ChannelHandlerContext) {
        self.endOfTurn.schedule(context) { context in
            if let buffer = self.unwritten.take() {
                context.write(Self.wrapOutboundOut(buffer), promise: nil)
            }
            context.flush()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = Self.unwrapInboundIn(data)
        guard let (request, _) = self.pending.first else {
            self.failAll(context: context, with: RedisClientError.protocolError("reply without a command"))
            return
        }
        var demoted = false
        if case .error(let error) = value {
            switch error.code {
            // A script's first use on a server (then loaded and run): expected, not a fault.
            case "NOSCRIPT": RedisMetrics.error("noscript")
            // A cluster's redirections have a counter of their own.
            case "MOVED", "ASK", "TRYAGAIN": break
            default: RedisMetrics.error("server")
            }
            // This server was demoted to a replica (a failover): after this reply, the connection
            // is dropped so that the reconnect finds the new primary.
            demoted = error.code == "READONLY"
        }
        switch request {
        case .one(let command, let promise, _):
            self.completed(command: command.name)
            if case .error(let error) = value {
                promise.fail(error)
            } else {
                promise.succeed(value)
            }
        case .awaiting(let command, let continuation, _):
            self.completed(command: command.name)
            if case .error(let error) = value {
                continuation.resume(throwing: error)
            } else {
                continuation.resume(returning: value)
            }
        case .batch(let commands, let promise, _):
            if self.batchReplies.isEmpty { self.batchReplies.reserveCapacity(commands.count) }
            self.batchReplies.append(value)
            if self.batchReplies.count == commands.count {
                self.completed(command: "PIPELINE")
                let replies = self.batchReplies
                self.batchReplies = []
                promise.succeed(replies)
            }
        }
        if demoted {
            self.failAll(context: context, with: RedisClientError.connectionClosed)
            return
        }
        if self.pending.isEmpty {
            self.timer?.cancel()
            self.timer = nil
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let reason: any Error =
            switch error {
            case let error as RedisClientError: error
            case is ByteToMessageDecoderError: RedisClientError.protocolError("\(error)")
            default: RedisTLS.failure(error).map { RedisClientError.tlsFailed($0) } ?? RedisClientError.connectionClosed
            }
        self.failAll(context: context, with: reason)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.failAll(context: context, with: RedisClientError.connectionClosed)
        context.fireChannelInactive()
    }

    private func completed(command: String) {
        let (_, written) = self.pending.removeFirst()
        RedisMetrics.duration(command: command, nanoseconds: (NIODeadline.now() - written).nanoseconds)
    }

    private func failAll(context: ChannelHandlerContext, with error: any Error) {
        if self.failure == nil { self.failure = error }
        if !self.pending.isEmpty { RedisMetrics.error(RedisMetrics.kind(of: error), count: self.pending.count) }
        self.timer?.cancel()
        self.timer = nil
        while let (request, _) = self.pending.popFirst() {
            request.fail(error)
        }
        self.batchReplies = []
        self.unwritten = nil
        context.close(promise: nil)
    }

    private func armTimer(context: ChannelHandlerContext, deadline: NIODeadline) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.timer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = bound.value
            handler.timer = nil
            guard let (oldest, _) = handler.pending.first else { return }
            if oldest.deadline <= .now() {
                handler.failAll(context: context, with: RedisClientError.timeout)
            } else {
                handler.armTimer(context: context, deadline: oldest.deadline)
            }
        }
    }
}
