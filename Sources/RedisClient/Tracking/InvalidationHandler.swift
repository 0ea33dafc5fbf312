import NIOCore

/// On a connection subscribed to `__redis__:invalidate` (RESP2), takes the pushed `message`s out
/// of the reply stream and hands them on; replies to commands (`SUBSCRIBE`, `PING`) go on to the
/// command handler, first in first out as usual.
final class InvalidationHandler: ChannelInboundHandler {
    typealias InboundIn = RedisValue
    typealias InboundOut = RedisValue

    /// The keys of one invalidation, or nil for a flush (`FLUSHALL`, `FLUSHDB`, or keys evicted
    /// from the server's tracking table in bulk).
    private let received: (_ keys: [[UInt8]]?) -> Void

    init(received: @escaping (_ keys: [[UInt8]]?) -> Void) {
        self.received = received
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = Self.unwrapInboundIn(data)
        // ["message", channel, payload]: the payload is an array of keys, or null.
        guard case .array(let parts) = value, parts.count == 3, case .bulkString(let kind) = parts[0],
            kind.elementsEqual("message".utf8)
        else {
            context.fireChannelRead(data)
            return
        }
        switch parts[2] {
        case .array(let keys):
            self.received(
                keys.compactMap { key in
                    if case .bulkString(let bytes) = key { bytes } else { nil }
                })
        case .bulkString(let key):
            self.received([key])
        default:
            self.received(nil)
        }
    }
}
