import NIOCore

/// Flushes at the end of the event loop's turn, once, however many writes the turn made: the HTTP
/// handler's responses and the Redis handler's commands both go out this way.
///
/// A response completed inside the read that brought its request (a verify answered from the
/// cache, `/healthz`) then goes out with the others of the same turn. Flushed one by one, each
/// woke the client for one response, and on a shared machine the wake-ups cost more CPU per
/// request than the work: verify from the cache measured 73 µs per request against 48 with this
/// (Benchmarks/service.sh, docs/PERFORMANCE.md). Commands written in one turn likewise leave in
/// one `writev`.
///
/// Belongs to one channel, and is used on its event loop only.
public final class EndOfTurnFlush {
    private var scheduled = false

    public init() {}

    /// Runs `flush` with `context` at the end of this turn of its event loop, unless it is already
    /// due to run. A `flush` that captures nothing (`{ $0.flush() }`) costs no allocation.
    public func schedule(_ context: ChannelHandlerContext, _ flush: @escaping (ChannelHandlerContext) -> Void) {
        guard !self.scheduled else { return }
        self.scheduled = true
        let bound = NIOLoopBound((self, context, flush), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (coalescer, context, flush) = bound.value
            coalescer.scheduled = false
            flush(context)
        }
    }
}
