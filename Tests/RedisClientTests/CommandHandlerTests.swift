import NIOCore
import NIOEmbedded
import Testing

@testable import RedisClient

@Suite("Command handler on an EmbeddedChannel: encoding and FIFO matching")
struct CommandHandlerTests {
    private func makeChannel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers(
            ByteToMessageHandler(RedisReplyDecoder()), RedisCommandHandler())
        return channel
    }

    private func send(_ command: RedisCommand, on channel: EmbeddedChannel) -> EventLoopFuture<RedisValue> {
        let promise = channel.eventLoop.makePromise(of: RedisValue.self)
        channel.writeAndFlush(RedisRequest.one(command, promise, deadline: .now() + .seconds(60)), promise: nil)
        return promise.futureResult
    }

    @Test func commandsAreEncodedAsRESPArraysOfBulkStrings() throws {
        let channel = try self.makeChannel()
        _ = self.send(RedisCommand("SET", ["key", "", "EX", "10"]), on: channel)
        channel.embeddedEventLoop.run()
        var written = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(
            written.readString(length: written.readableBytes)
                == "*5\r\n$3\r\nSET\r\n$3\r\nkey\r\n$0\r\n\r\n$2\r\nEX\r\n$2\r\n10\r\n")
    }

    @Test func pipelinedRepliesCompleteTheirCommandsInOrder() throws {
        let channel = try self.makeChannel()
        let first = self.send(RedisCommand("GET", ["a"]), on: channel)
        let second = self.send(RedisCommand("GET", ["b"]), on: channel)
        let third = self.send(RedisCommand("GET", ["c"]), on: channel)
        channel.embeddedEventLoop.run()
        try channel.writeInbound(ByteBuffer(string: "$1\r\nA\r\n-ERR no\r\n$-"))
        try channel.writeInbound(ByteBuffer(string: "1\r\n"))
        #expect(try first.wait() == .bulkString([65]))
        #expect(throws: RedisServerError(message: "ERR no")) { try second.wait() }
        #expect(try third.wait() == .null)
    }

    @Test func aBatchGetsEveryReplyErrorsIncludedAndLaterCommandsTheirOwn() throws {
        let channel = try self.makeChannel()
        let batchPromise = channel.eventLoop.makePromise(of: [RedisValue].self)
        channel.writeAndFlush(
            RedisRequest.batch(
                [RedisCommand("GET", ["a"]), RedisCommand("BAD")], batchPromise, deadline: .now() + .seconds(60)),
            promise: nil
        )
        let after = self.send(RedisCommand("PING"), on: channel)
        channel.embeddedEventLoop.run()
        // Commands of one event loop tick go out in one write.
        var written = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(
            written.readString(length: written.readableBytes)
                == "*2\r\n$3\r\nGET\r\n$1\r\na\r\n*1\r\n$3\r\nBAD\r\n*1\r\n$4\r\nPING\r\n")
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        try channel.writeInbound(ByteBuffer(string: "$1\r\nA\r\n-ERR unknown\r\n+PONG\r\n"))
        #expect(
            try batchPromise.futureResult.wait() == [
                .bulkString([65]), .error(RedisServerError(message: "ERR unknown")),
            ])
        #expect(try after.wait() == .simpleString("PONG"))
    }

    @Test(arguments: [false, true])
    func aREADONLYReplyDropsTheConnectionWhetherAloneOrInABatch(batched: Bool) throws {
        let channel = try self.makeChannel()
        if batched {
            let promise = channel.eventLoop.makePromise(of: [RedisValue].self)
            channel.writeAndFlush(
                RedisRequest.batch(
                    [RedisCommand("SET", ["k", "v"]), RedisCommand("PING")], promise, deadline: .now() + .seconds(60)),
                promise: nil
            )
            promise.futureResult.whenComplete { _ in }
        } else {
            _ = self.send(RedisCommand("SET", ["k", "v"]), on: channel)
        }
        let later = self.send(RedisCommand("PING"), on: channel)
        channel.embeddedEventLoop.run()
        _ = try? channel.writeInbound(ByteBuffer(string: "-READONLY You can't write against a read only replica.\r\n"))
        #expect(!channel.isActive, "a demoted primary's connection is dropped")
        #expect(throws: RedisClientError.connectionClosed) { try later.wait() }
    }

    @Test func closingFailsEveryCommandInFlight() throws {
        let channel = try self.makeChannel()
        let pending = (0..<3).map { _ in self.send(RedisCommand("PING"), on: channel) }
        channel.embeddedEventLoop.run()
        try channel.close().wait()
        for future in pending {
            #expect(throws: RedisClientError.connectionClosed) { try future.wait() }
        }
    }

    @Test func aProtocolErrorFailsTheCommandsAndClosesTheConnection() throws {
        let channel = try self.makeChannel()
        let pending = self.send(RedisCommand("PING"), on: channel)
        channel.embeddedEventLoop.run()
        _ = try? channel.writeInbound(ByteBuffer(string: "!garbage\r\n"))
        #expect {
            try pending.wait()
        } throws: { error in
            guard case RedisClientError.protocolError = error else { return false }
            return true
        }
        #expect(!channel.isActive)
    }

    @Test func aReplyWithNoCommandIsAProtocolError() throws {
        let channel = try self.makeChannel()
        _ = try? channel.writeInbound(ByteBuffer(string: "+OK\r\n"))
        #expect(!channel.isActive)
    }
}
