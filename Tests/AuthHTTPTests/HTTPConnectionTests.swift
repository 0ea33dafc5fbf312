import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import AuthHTTP

/// The HTTP connection on a testing channel, with no socket: the decoder, ``HTTPRequestHandler``
/// and its ``HTTPConnectionStateMachine``, as swift-nio tests its `HTTPServerPipelineHandler`.
/// Time is the testing loop's, moved by hand, so the 408 test waits for nothing.
@Suite("HTTP connection: pipelining, back-pressure, quiescing, refusals, half-close, HEAD")
struct HTTPConnectionTests {
    /// Requests to `/slow` wait until the test lets one go.
    final class Gate: Sendable {
        let stream: AsyncStream<Void>
        let continuation: AsyncStream<Void>.Continuation

        init() {
            (self.stream, self.continuation) = AsyncStream<Void>.makeStream()
        }

        func wait() async {
            for await _ in self.stream { return }
        }

        func open() {
            self.continuation.yield()
        }
    }

    /// Counts the reads that reach the socket's end of the pipeline.
    final class ReadProbe: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = Any
        var reads = 0

        func read(context: ChannelHandlerContext) {
            self.reads += 1
            context.read()
        }
    }

    struct Connection {
        let channel: NIOAsyncTestingChannel
        let gate = Gate()
        let probe = ReadProbe()
        static let readTimeout = TimeAmount.seconds(10)

        init(maxBodyBytes: Int = 64) async throws {
            var router = Router()
            let gate = self.gate
            router.add(.GET, "/fast") { _ in HTTPResponse(status: .ok, body: ByteBuffer(string: "fast")) }
            router.add(.GET, "/slow") { _ in
                await gate.wait()
                return HTTPResponse(status: .ok, body: ByteBuffer(string: "slow"))
            }
            router.add(.POST, "/echo") { request in HTTPResponse(status: .ok, body: request.body) }
            let channel = NIOAsyncTestingChannel()
            let probe = self.probe
            let finished = router
            try await channel.testingEventLoop.executeInContext {
                let sync = channel.pipeline.syncOperations
                try sync.addHandler(probe)
                try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                try sync.addHandler(
                    HTTPRequestHandler(
                        router: finished, maxBodyBytes: maxBodyBytes, readTimeout: Self.readTimeout,
                        trustedProxies: TrustedProxies(), tracker: RequestTracker(), logger: Logger(label: "test")))
            }
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1))
            self.channel = channel
        }

        func send(_ text: String) async throws {
            try await self.channel.writeInbound(ByteBuffer(string: text))
            await self.channel.testingEventLoop.run()
        }

        /// Everything written so far, after the loop has run what was due.
        func written() async throws -> String {
            await self.channel.testingEventLoop.run()
            var text = ""
            while let buffer = try await self.channel.readOutbound(as: ByteBuffer.self) {
                text += String(buffer: buffer)
            }
            return text
        }

        /// What is written once `count` responses are out. A route let go by ``Gate`` resumes on
        /// the connection's loop (its task prefers the loop's executor), so running the loop runs
        /// it to its response: nothing to poll for.
        func responses(_ count: Int) async throws -> String {
            let text = try await self.written()
            #expect(HTTPConnectionTests.bodies(text).count >= count, "\(count) responses are not out: \(text)")
            return text
        }

        func fire(_ event: Any & Sendable) async throws {
            try await self.channel.testingEventLoop.executeInContext {
                self.channel.pipeline.fireUserInboundEventTriggered(event)
            }
            await self.channel.testingEventLoop.run()
        }

        var isActive: Bool {
            get async throws {
                await self.channel.testingEventLoop.run()
                return try await self.channel.testingEventLoop.executeInContext { self.channel.isActive }
            }
        }
    }

    static func get(_ path: String, _ extra: String = "") -> String {
        "GET \(path) HTTP/1.1\r\nhost: t\r\n\(extra)\r\n"
    }

    /// The bodies of the responses in `text`, in order.
    static func bodies(_ text: String) -> [String] {
        text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.components(separatedBy: "\r\n\r\n").last ?? "" }
    }

    @Test func pipelinedRequestsAreAnsweredInOrderWhileTheFirstWaits() async throws {
        let connection = try await Connection()
        try await connection.send(Self.get("/slow") + Self.get("/fast") + Self.get("/fast"))
        // The fast ones are held behind the slow one: nothing is out of order, nothing is out.
        #expect(try await connection.written() == "")
        connection.gate.open()
        let text = try await connection.responses(3)
        #expect(Self.bodies(text) == ["slow", "fast", "fast"])
        #expect(try await connection.isActive)
    }

    @Test func readsStopWhileRequestsWaitAndResumeOnceTheyAreAnswered() async throws {
        let connection = try await Connection()
        try await connection.send(Self.get("/slow") + Self.get("/fast"))
        let before = connection.probe.reads
        connection.channel.read()
        await connection.channel.testingEventLoop.run()
        #expect(connection.probe.reads == before, "a read went through while a request was queued")
        connection.gate.open()
        #expect(Self.bodies(try await connection.responses(2)) == ["slow", "fast"])
        await connection.channel.testingEventLoop.run()
        #expect(connection.probe.reads == before + 1, "the held read was not passed on")
        // With nothing queued, reads go straight through.
        connection.channel.read()
        await connection.channel.testingEventLoop.run()
        #expect(connection.probe.reads == before + 2)
    }

    @Test func quiescingClosesAnIdleConnectionAtOnce() async throws {
        let connection = try await Connection()
        try await connection.send(Self.get("/fast"))
        #expect(!(try await connection.written().contains("connection: close")))
        try await connection.fire(ChannelShouldQuiesceEvent())
        #expect(!(try await connection.isActive), "the connection stayed open")
    }

    @Test func quiescingLetsTheResponseOwedFinishThenCloses() async throws {
        let connection = try await Connection()
        try await connection.send(Self.get("/slow") + Self.get("/fast"))
        try await connection.fire(ChannelShouldQuiesceEvent())
        #expect(try await connection.isActive)
        connection.gate.open()
        let text = try await connection.responses(1)
        #expect(Self.bodies(text) == ["slow"])
        #expect(text.contains("connection: close"))
        #expect(!(try await connection.isActive), "the connection stayed open")
        // The queued request is dropped, never answered on a closed connection.
        #expect(try await connection.written() == "")
    }

    @Test func aDeclaredBodyOverTheLimitGets413AndTheConnectionCloses() async throws {
        let connection = try await Connection(maxBodyBytes: 8)
        try await connection.send("POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 9\r\n\r\n")
        let text = try await connection.written()
        #expect(text.hasPrefix("HTTP/1.1 413 "))
        #expect(text.contains("\"the body is larger than 8 bytes\""))
        #expect(text.contains("x-request-id: "), "a refusal carries a request id too")
        #expect(!(try await connection.isActive), "the connection stayed open")
    }

    @Test func aChunkedBodyThatGrowsOverTheLimitGets413() async throws {
        let connection = try await Connection(maxBodyBytes: 8)
        try await connection.send("POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n5\r\n12345\r\n")
        #expect(try await connection.written() == "")
        try await connection.send("5\r\n67890\r\n0\r\n\r\n")
        #expect(try await connection.written().hasPrefix("HTTP/1.1 413 "))
        #expect(!(try await connection.isActive), "the connection stayed open")
    }

    @Test func aBodyWithinTheLimitIsHandedOnWhole() async throws {
        let connection = try await Connection(maxBodyBytes: 8)
        try await connection.send("POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n")
        try await connection.send("5\r\ndefgh\r\n0\r\n\r\n")
        #expect(Self.bodies(try await connection.written()) == ["abcdefgh"])
    }

    @Test func aRequestThatDoesNotArriveInTimeGets408() async throws {
        let connection = try await Connection()
        // Half a head, then nothing.
        try await connection.send("GET /fast HTTP/1.1\r\nhost:")
        await connection.channel.testingEventLoop.advanceTime(by: Connection.readTimeout - .milliseconds(1))
        #expect(try await connection.written() == "")
        await connection.channel.testingEventLoop.advanceTime(by: .milliseconds(1))
        let text = try await connection.written()
        #expect(text.hasPrefix("HTTP/1.1 408 "))
        #expect(text.contains("connection: close"))
        #expect(text.contains("x-request-id: "))
        #expect(!(try await connection.isActive), "the connection stayed open")
    }

    @Test func aRequestThatArrivesInTimeStopsItsDeadline() async throws {
        let connection = try await Connection()
        try await connection.send("GET /fast HTTP/1.1\r\nhost:")
        await connection.channel.testingEventLoop.advanceTime(by: .seconds(5))
        try await connection.send(" t\r\n\r\n")
        #expect(Self.bodies(try await connection.written()) == ["fast"])
        await connection.channel.testingEventLoop.advanceTime(by: .seconds(60))
        #expect(try await connection.written() == "")
        #expect(try await connection.isActive)
    }

    @Test func headersOverTheParsersLimitGet431() async throws {
        let connection = try await Connection()
        try await connection.send(Self.get("/fast", "x-big: " + String(repeating: "a", count: 100 * 1024) + "\r\n"))
        let text = try await connection.written()
        #expect(text.hasPrefix("HTTP/1.1 431 "))
        #expect(text.contains("x-request-id: "))
        #expect(!(try await connection.isActive), "the connection stayed open")
    }

    @Test func whatTheParserCannotReadGets400() async throws {
        let connection = try await Connection()
        try await connection.send("GET /fast HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n")
        let text = try await connection.written()
        #expect(text.hasPrefix("HTTP/1.1 400 "))
        #expect(text.contains("x-request-id: "))
        #expect(!(try await connection.isActive), "the connection stayed open")
    }

    @Test func aHalfClosedClientGetsTheAnswersToWhatItSentThenTheConnectionCloses() async throws {
        let connection = try await Connection()
        try await connection.send(Self.get("/slow") + Self.get("/fast"))
        try await connection.fire(ChannelEvent.inputClosed)
        #expect(try await connection.isActive)
        connection.gate.open()
        let text = try await connection.responses(2)
        #expect(Self.bodies(text) == ["slow", "fast"])
        // The first answer keeps the connection for the second; the last says it closes.
        let heads = text.components(separatedBy: "HTTP/1.1 ").dropFirst()
        #expect(heads.first?.contains("connection: close") == false)
        #expect(heads.last?.contains("connection: close") == true)
        #expect(!(try await connection.isActive), "the connection stayed open")
    }

    @Test func aHalfCloseBetweenRequestsClosesAtOnce() async throws {
        let connection = try await Connection()
        try await connection.send(Self.get("/fast"))
        #expect(Self.bodies(try await connection.written()) == ["fast"])
        try await connection.fire(ChannelEvent.inputClosed)
        #expect(!(try await connection.isActive), "the connection stayed open")
    }

    @Test func anIdleTimeoutDropsAnIdleClientButNotOneOwedAResponse() async throws {
        let connection = try await Connection()
        try await connection.send(Self.get("/slow"))
        try await connection.fire(IdleStateHandler.IdleStateEvent.read)
        #expect(try await connection.isActive)
        connection.gate.open()
        #expect(Self.bodies(try await connection.responses(1)) == ["slow"])
        try await connection.fire(IdleStateHandler.IdleStateEvent.read)
        #expect(!(try await connection.isActive), "the connection stayed open")
    }

    @Test func headAnswersWithTheHeadersOfGetAndNoBody() async throws {
        let connection = try await Connection()
        try await connection.send("HEAD /fast HTTP/1.1\r\nhost: t\r\n\r\n" + Self.get("/fast"))
        let text = try await connection.written()
        let responses = text.components(separatedBy: "HTTP/1.1 ").dropFirst()
        #expect(responses.count == 2)
        #expect(responses.first?.hasPrefix("200 OK") == true)
        #expect(responses.first?.contains("content-length: 4\r\n") == true)
        #expect(responses.first?.hasSuffix("\r\n\r\n") == true, "a HEAD response carried a body")
        #expect(Self.bodies(text).last == "fast")
    }

    @Test func aMethodTheRouteLacksGets405WithAllow() async throws {
        let connection = try await Connection()
        try await connection.send("DELETE /fast HTTP/1.1\r\nhost: t\r\n\r\n")
        let text = try await connection.written()
        #expect(text.hasPrefix("HTTP/1.1 405 "))
        #expect(text.contains("allow: GET, HEAD\r\n"))
        #expect(try await connection.isActive)
    }
}
