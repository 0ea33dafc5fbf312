import NIOCore

/// A command on its way to Redis, with the promise its reply completes.
struct RedisRequest: Sendable {
    let command: RedisCommand
    let promise: EventLoopPromise<RedisValue>
    let deadline: NIODeadline
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

    private var pending = CircularBuffer<RedisRequest>(initialCapacity: 64)
    private var failure: (any Error)?
    private var flushScheduled = false
    private var timer: Scheduled<Void>?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = Self.unwrapOutboundIn(data)
        if let failure = self.failure {
            request.promise.fail(failure)
            promise?.fail(failure)
            return
        }
        var buffer = context.channel.allocator.buffer(
            capacity: request.command.bytes.count + 16 * request.command.count)
        CommandEncoder.encode(request.command, into: &buffer)
        self.pending.append(request)
        if self.timer == nil { self.armTimer(context: context, deadline: request.deadline) }
        context.write(Self.wrapOutboundOut(buffer), promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        guard !self.flushScheduled else { return }
        self.flushScheduled = true
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (handler, context) = bound.value
            handler.flushScheduled = false
            context.flush()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = Self.unwrapInboundIn(data)
        guard let request = self.pending.popFirst() else {
            self.failAll(context: context, with: RedisClientError.protocolError("reply without a command"))
            return
        }
        if case .error(let error) = value {
            request.promise.fail(error)
        } else {
            request.promise.succeed(value)
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
            default: RedisClientError.connectionClosed
            }
        self.failAll(context: context, with: reason)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.failAll(context: context, with: RedisClientError.connectionClosed)
        context.fireChannelInactive()
    }

    private func failAll(context: ChannelHandlerContext, with error: any Error) {
        if self.failure == nil { self.failure = error }
        self.timer?.cancel()
        self.timer = nil
        while let request = self.pending.popFirst() {
            request.promise.fail(error)
        }
        context.close(promise: nil)
    }

    private func armTimer(context: ChannelHandlerContext, deadline: NIODeadline) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.timer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = bound.value
            handler.timer = nil
            guard let oldest = handler.pending.first else { return }
            if oldest.deadline <= .now() {
                handler.failAll(context: context, with: RedisClientError.timeout)
            } else {
                handler.armTimer(context: context, deadline: oldest.deadline)
            }
        }
    }
}
