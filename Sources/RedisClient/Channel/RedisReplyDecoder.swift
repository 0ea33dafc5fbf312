import NIOCore

/// Turns bytes from the server into ``RedisValue``s, with hiredis's reader doing the parsing.
///
/// Every byte is handed to the reader as soon as it arrives; the reader keeps partial replies, so a
/// reply split across reads at any offset is put back together. All complete replies are passed on
/// at once: `ByteToMessageHandler` stops calling `decode` once its buffer is empty, and the replies
/// already inside the reader must not wait for the next read.
struct RedisReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = RedisValue

    private let reader = RESPReader()

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if buffer.readableBytes > 0 {
            try buffer.withUnsafeReadableBytes { try self.reader.feed($0) }
            buffer.moveReaderIndex(to: buffer.writerIndex)
        }
        while let value = try self.reader.next() {
            context.fireChannelRead(Self.wrapInboundOut(value))
        }
        return .needMoreData
    }

    mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        try self.decode(context: context, buffer: &buffer)
    }
}
