import NIOCore
import NIOHTTP1
import NIOPosix

// The floor for authd's benchmarks: a bare NIOHTTP1 server answering every request with the same
// static 200, on the same event loop group setup as authd. Its body looks like a login response,
// so the shared bench driver's preparation (POST /login) succeeds against it. Under /forward-auth
// the 200 has no body, as a forward-auth answer: the floor of a gateway's check
// (Benchmarks/gateway.sh; nginx keeps its connection to the check only when no body comes back).
//   bare-nio-server PORT

let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1])! : 8099
let body = #"{"accessToken":"static","refreshToken":"static","tokenType":"Bearer","expiresIn":900}"#

final class StaticHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private var keepAlive = true
    private var bodiless = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            self.keepAlive = head.isKeepAlive
            self.bodiless = head.uri.hasPrefix("/forward-auth")
        case .body:
            break
        case .end:
            var headers = HTTPHeaders([
                ("content-type", "application/json"), ("content-length", self.bodiless ? "0" : String(body.utf8.count)),
            ])
            if !self.keepAlive { headers.add(name: "connection", value: "close") }
            context.write(
                Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))),
                promise: nil)
            if !self.bodiless {
                context.write(Self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            }
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true)
            try channel.pipeline.syncOperations.addHandler(StaticHandler())
        }
    }
    .bind(host: "127.0.0.1", port: port)
    .get()
print("bare NIO server on 127.0.0.1:\(port)")
try await channel.closeFuture.get()
