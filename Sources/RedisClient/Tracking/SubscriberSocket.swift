import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The invalidation connection's socket, opened here rather than by NIO so that its descriptor is
/// known: before a cached reply is used, the socket is checked for bytes not yet read (an
/// invalidation that has arrived but not been handled). Such a reply is not used; the read goes
/// to Redis. This closes the window in which another instance's revocation, already answered, is
/// announced in this instance's socket buffer while a request here reads the cache first.
enum SubscriberSocket {
    /// Opens a connected stream socket to `endpoint` on a thread of NIO's pool (name lookup and a
    /// blocking connect, bounded by `timeout`).
    static func open(_ endpoint: RedisConfiguration.Endpoint, timeout: TimeAmount, on loop: any EventLoop)
        -> EventLoopFuture<CInt>
    {
        NIOThreadPool.singleton.runIfActive(eventLoop: loop) {
            try Self.open(endpoint, timeout: timeout)
        }
    }

    private static func open(_ endpoint: RedisConfiguration.Endpoint, timeout: TimeAmount) throws -> CInt {
        switch endpoint {
        case .tcp(let host, let port):
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            #if canImport(Glibc)
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            #else
                hints.ai_socktype = SOCK_STREAM
            #endif
            var list: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
                throw RedisClientError.connectFailed("cannot resolve \(host)")
            }
            defer { freeaddrinfo(first) }
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            var failure = "no address for \(host)"
            while let info = cursor {
                let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
                if fd >= 0 {
                    if Self.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen, timeout: timeout) {
                        var one: CInt = 1
                        _ = setsockopt(fd, CInt(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<CInt>.size))
                        return fd
                    }
                    failure = String(cString: strerror(errno))
                    close(fd)
                }
                cursor = info.pointee.ai_next
            }
            throw RedisClientError.connectFailed("\(host):\(port): \(failure)")
        case .unixSocket(let path):
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let capacity = MemoryLayout.size(ofValue: address.sun_path)
            guard path.utf8.count < capacity else { throw RedisClientError.connectFailed("socket path too long") }
            withUnsafeMutableBytes(of: &address.sun_path) { bytes in
                bytes.copyBytes(from: path.utf8)
                bytes[path.utf8.count] = 0
            }
            #if canImport(Glibc)
                let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            #else
                let fd = socket(AF_UNIX, SOCK_STREAM, 0)
            #endif
            guard fd >= 0 else { throw RedisClientError.connectFailed(String(cString: strerror(errno))) }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Self.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size), timeout: timeout)
                }
            }
            guard connected else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw RedisClientError.connectFailed("\(path): \(reason)")
            }
            return fd
        }
    }

    /// A blocking connect bounded by `timeout` (the send timeout bounds `connect` on Linux).
    private static func connect(
        _ fd: CInt, _ address: UnsafePointer<sockaddr>, _ length: socklen_t, timeout: TimeAmount
    ) -> Bool {
        let microseconds = max(1, timeout.nanoseconds / 1000)
        var limit = timeval(tv_sec: Int(microseconds / 1_000_000), tv_usec: .init(microseconds % 1_000_000))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        #if canImport(Glibc)
            let connected = Glibc.connect(fd, address, length) == 0
        #else
            let connected = Darwin.connect(fd, address, length) == 0
        #endif
        var none = timeval()
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, socklen_t(MemoryLayout<timeval>.size))
        return connected
    }

    /// Whether bytes wait in the socket's receive buffer (or it is closing, or cannot be asked):
    /// a peek that reads nothing out.
    static func hasUnreadBytes(_ fd: CInt) -> Bool {
        var byte: UInt8 = 0
        let count = recv(fd, &byte, 1, CInt(MSG_PEEK | MSG_DONTWAIT))
        if count > 0 || count == 0 { return true }
        return errno != EAGAIN && errno != EWOULDBLOCK
    }
}

/// Set while the subscriber's pipeline handles bytes it has read: from the first handler's
/// `channelRead` to `channelReadComplete`, when every invalidation among them has been applied.
final class ReadActivity: Sendable {
    private let reading = Atomic<Bool>(false)

    var isReading: Bool { self.reading.load(ordering: .acquiring) }

    func set(_ value: Bool) { self.reading.store(value, ordering: .releasing) }
}

/// The first handler of the subscriber's pipeline: marks its reads for ``ReadActivity``.
final class ReadActivityHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let activity: ReadActivity

    init(_ activity: ReadActivity) {
        self.activity = activity
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.activity.set(true)
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
        self.activity.set(false)
    }
}
