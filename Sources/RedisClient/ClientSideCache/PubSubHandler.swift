import NIOCore

/// On a subscribed connection (RESP2), takes the pushed `message`s out of the reply stream and
/// hands them on with their channel, in the order Redis queued them; replies to commands
/// (`SUBSCRIBE`, `PING`) go on to the command handler, first in first out as usual.
final class PubSubHandler: ChannelInboundHandler {
    typealias InboundIn = RedisValue
    typealias InboundOut = RedisValue

    private let received: (_ channel: [UInt8], _ payload: RedisValue) -> Void

    init(received: @escaping (_ channel: [UInt8], _ payload: RedisValue) -> Void) {
        self.received = received
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = Self.unwrapInboundIn(data)
        // ["message", channel, payload]
        guard case .array(let parts) = value, parts.count == 3, case .bulkString(let kind) = parts[0],
            kind.elementsEqual("message".utf8), case .bulkString(let channel) = parts[1]
        else {
            context.fireChannelRead(data)
            return
        }
        self.received(channel, parts[2])
    }
}

extension RedisValue {
    /// An invalidation's keys (`__redis__:invalidate`): nil for a flush (`FLUSHALL`, `FLUSHDB`, or
    /// keys evicted from the server's tracking table in bulk).
    var invalidatedKeys: [[UInt8]]? {
        switch self {
        case .array(let keys):
            keys.compactMap { key in
                if case .bulkString(let bytes) = key { bytes } else { nil }
            }
        case .bulkString(let key): [key]
        default: nil
        }
    }
}
