import Foundation
import NIOCore
import NIOPosix

/// A response as the tests see it.
public struct TestResponse: Sendable {
    public let status: Int
    /// Header names lowercased.
    public let headers: [String: String]
    public let body: [UInt8]
    /// The head as received, for headers that repeat (`Set-Cookie`), which `headers` folds.
    public var rawHead = ""

    public var text: String { String(decoding: self.body, as: UTF8.self) }

    /// The body as a JSON object; empty when it is not one.
    public var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(self.body))) as? [String: Any] ?? [:]
    }

    public subscript(field: String) -> String? { self.json[field] as? String }

    /// Every value of a header that may repeat (`WWW-Authenticate`), from the raw head.
    public func headerValues(_ name: String) -> [String] {
        self.rawHead.components(separatedBy: "\r\n").compactMap { line in
            guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == name else { return nil }
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }
}

/// A minimal HTTP/1.1 client on NIO for talking to authd over a real socket. One connection per
/// request; the request is sent as raw bytes, so tests can also send what no proper client would.
public struct TestHTTPClient: Sendable {
    public let port: Int
    /// The local address to connect from (any of 127.0.0.0/8 works on Linux), so that a test can
    /// be several clients at different addresses; `nil`: the kernel's choice.
    public let sourceAddress: String?

    /// The server's address.
    public let host: String

    public init(port: Int, host: String = "127.0.0.1", from sourceAddress: String? = nil) {
        self.port = port
        self.host = host
        self.sourceAddress = sourceAddress
    }

    /// The same server, reached from another loopback address.
    public func from(_ address: String) -> TestHTTPClient {
        TestHTTPClient(port: self.port, host: self.host, from: address)
    }

    public func request(
        _ method: String,
        _ path: String,
        headers: [(String, String)] = [],
        body: [UInt8]? = nil
    ) async throws -> TestResponse {
        var text = "\(method) \(path) HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let body { text += "content-length: \(body.count)\r\n" }
        return try await self.raw(Array((text + "\r\n").utf8) + (body ?? []))
    }

    /// Sends `body` as JSON.
    public func json(
        _ method: String,
        _ path: String,
        _ body: [String: any Sendable],
        headers: [(String, String)] = []
    ) async throws -> TestResponse {
        let data = try JSONSerialization.data(withJSONObject: body)
        return try await self.request(
            method, path, headers: [("content-type", "application/json")] + headers, body: Array(data)
        )
    }

    /// A GET with `Authorization: Bearer <token>`.
    public func get(_ path: String, bearer token: String? = nil) async throws -> TestResponse {
        try await self.request("GET", path, headers: token.map { [("authorization", "Bearer \($0)")] } ?? [])
    }

    /// Writes the bytes as they are and reads one response: everything the server sends until it
    /// closes the connection (every request here says `connection: close`).
    public func raw(_ bytes: [UInt8]) async throws -> TestResponse {
        try Self.parse(try await self.exchange(bytes))
    }

    /// Writes the bytes as they are (several requests, say) and reads every response until the
    /// server closes the connection. Responses are framed by `content-length`; those at the indices
    /// in `bodiless` (answers to `HEAD`) have no body whatever their `content-length`. With
    /// `halfClose`, the client shuts its sending side down once the bytes are written.
    public func rawResponses(_ bytes: [UInt8], bodiless: Set<Int> = [], halfClose: Bool = false) async throws
        -> [TestResponse]
    {
        var received = try await self.exchange(bytes, halfClose: halfClose)[...]
        var responses: [TestResponse] = []
        while !received.isEmpty {
            let response = try Self.parse(Array(received))
            let headLength = try Self.headLength(Array(received))
            let bodyLength =
                bodiless.contains(responses.count) ? 0 : Int(response.headers["content-length"] ?? "0") ?? 0
            guard received.count >= headLength + bodyLength else {
                throw TestFailure("response \(responses.count) is cut short")
            }
            responses.append(
                TestResponse(
                    status: response.status, headers: response.headers,
                    body: Array(received.dropFirst(headLength).prefix(bodyLength))))
            received = received.dropFirst(headLength + bodyLength)
        }
        return responses
    }

    private func exchange(_ bytes: [UInt8], halfClose: Bool = false) async throws -> [UInt8] {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let promise = loop.makePromise(of: [UInt8].self)
        let channel: any Channel
        do {
            var bootstrap = ClientBootstrap(group: loop)
            if let source = self.sourceAddress {
                bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: source, port: 0))
            }
            channel =
                try await bootstrap
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
                    }
                }
                .connect(host: self.host, port: self.port)
                .get()
        } catch {
            promise.fail(error)
            throw error
        }
        // The server may answer and close before it has read everything (for example a 413),
        // so a failed write is not an error as long as a response arrives.
        let written = loop.makePromise(of: Void.self)
        channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: written)
        if halfClose { written.futureResult.whenSuccess { channel.close(mode: .output, promise: nil) } }
        // A server that never answers fails the test instead of hanging the run: closing ends the
        // wait with whatever arrived, which then does not parse.
        let timeout = loop.scheduleTask(in: .seconds(30)) { channel.close(promise: nil) }
        let received = try await promise.futureResult.get()
        timeout.cancel()
        return received
    }

    /// The length of the head, blank line included.
    private static func headLength(_ bytes: [UInt8]) throws -> Int {
        let separator = Array("\r\n\r\n".utf8)
        guard let end = (0..<max(0, bytes.count - 3)).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) else {
            throw TestFailure("no complete response head in \(bytes.count) bytes")
        }
        return end + 4
    }

    private static func parse(_ bytes: [UInt8]) throws -> TestResponse {
        let end = try Self.headLength(bytes) - 4
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw TestFailure("bad status line: \(lines[0])")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        var body = Array(bytes[(end + 4)...])
        if let length = headers["content-length"].flatMap({ Int($0) }), length < body.count {
            body = Array(body[..<length])
        }
        return TestResponse(
            status: status, headers: headers, body: body, rawHead: String(decoding: bytes[..<end], as: UTF8.self))
    }
}

/// Collects every byte until the server closes the connection.
private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let promise: EventLoopPromise<[UInt8]>
    private var received: [UInt8] = []

    init(promise: EventLoopPromise<[UInt8]>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.received += Self.unwrapInboundIn(data).readableBytesView
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.promise.succeed(self.received)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset after the response (the server closed with unread input) still leaves the response.
        context.close(promise: nil)
    }
}
