import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// TLS to Redis (`rediss://`): the server's certificate is verified against a CA file (or the
/// system's trust store) and its host name or IP address checked; TLS 1.2 at least; optionally a
/// client certificate for mutual TLS. The files are read once, when this is made, so a missing or
/// malformed file stops start-up instead of failing every connect.
public struct RedisTLS: Sendable {
    /// PEM file of the CAs that may sign the server's certificate; nil: the system's trust store.
    public let caFile: String?
    /// PEM files of the client certificate and its key, for servers that ask for one.
    public let certificateFile: String?
    public let keyFile: String?
    /// The name the server's certificate must carry, when it is not the host connected to (Sentinel
    /// gives addresses, not names). Nil: the host, or its IP address.
    public let serverName: String?
    let context: NIOSSLContext
    /// For ``diagnose``: takes any certificate into a callback that reads it and fails the
    /// handshake. It needs no trust roots: the callback replaces all of BoringSSL's verification.
    private let diagnosticContext: NIOSSLContext

    public init(
        caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, serverName: String? = nil
    ) throws(RedisClientError) {
        guard (certificateFile == nil) == (keyFile == nil) else {
            throw .invalidConfiguration("a client certificate needs its key, and a key its certificate")
        }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        do {
            if let caFile {
                let authorities = try Self.load(caFile, "CA file") { try NIOSSLCertificate.fromPEMFile($0) }
                guard !authorities.isEmpty else {
                    throw RedisClientError.invalidConfiguration("\(caFile): no certificate")
                }
                configuration.trustRoots = .certificates(authorities)
            } else {
                configuration.trustRoots = .default
            }
            if let certificateFile, let keyFile {
                let chain = try Self.load(certificateFile, "client certificate") {
                    try NIOSSLCertificate.fromPEMFile($0)
                }
                configuration.certificateChain = chain.map { .certificate($0) }
                configuration.privateKey = .privateKey(
                    try Self.load(keyFile, "client key") { try NIOSSLPrivateKey(file: $0, format: .pem) })
            }
            self.context = try NIOSSLContext(configuration: configuration)
            var diagnostic = TLSConfiguration.makeClientConfiguration()
            diagnostic.minimumTLSVersion = .tlsv12
            diagnostic.trustRoots = .certificates([])
            self.diagnosticContext = try NIOSSLContext(configuration: diagnostic)
        } catch let error as RedisClientError {
            throw error
        } catch {
            throw .invalidConfiguration("TLS: \(error)")
        }
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.serverName = serverName
    }

    /// For the start-up log: what is checked, never a key.
    public var summary: String {
        var parts = ["ca=\(self.caFile ?? "system")"]
        if let certificateFile { parts.append("client_certificate=\(certificateFile)") }
        if let serverName { parts.append("server_name=\(serverName)") }
        return parts.joined(separator: " ")
    }

    private static func load<T>(_ path: String, _ what: String, _ read: (String) throws -> T) throws -> T {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw RedisClientError.invalidConfiguration("cannot read the \(what) \(path)")
        }
        do {
            return try read(path)
        } catch {
            throw RedisClientError.invalidConfiguration("the \(what) \(path) is not PEM")
        }
    }

    /// The handlers that put TLS in front of a connection to `host`.
    func handlers(host: String, on eventLoop: any EventLoop) throws -> (NIOSSLClientHandler, TLSHandshake) {
        // SNI takes names only; for an IP address NIOSSL checks the certificate's IP entries.
        let name = self.serverName ?? (Self.isIPAddress(host) ? nil : host)
        return (
            try NIOSSLClientHandler(context: self.context, serverHostname: name),
            TLSHandshake(promise: eventLoop.makePromise())
        )
    }

    static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }

    static let notTLS = "the server does not speak TLS on this port (is it the server's tls-port?)"

    /// What went wrong in TLS terms, or nil for an error that is not TLS's.
    static func failure(_ error: any Error) -> String? {
        switch error {
        case let error as NIOSSLExtraError where error == .failedToValidateHostname:
            return
                "the server's certificate is not for this host name (\(error)); REDIS_TLS_SERVER_NAME sets the name to check"
        case is NIOSSLError, is BoringSSLError:
            let text = "\(error)"
            if text.contains("CERTIFICATE_REQUIRED") || text.contains("HANDSHAKE_FAILURE") && text.contains("ALERT") {
                return "the server asks for a client certificate (REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE)"
            }
            if text.contains("BAD_CERTIFICATE") || text.contains("UNKNOWN_CA") || text.contains("DECRYPT_ERROR") {
                return "the server refused the client certificate (\(text))"
            }
            if text.contains("WRONG_VERSION_NUMBER") || text.contains("UNEXPECTED_RECORD") {
                return Self.notTLS
            }
            return "\(text)"
        default:
            return nil
        }
    }

    /// Why the server's certificate failed verification: asked on a second connection that takes
    /// the certificate without trusting it, only to read its dates, then closes. The first
    /// connection's error says only "certificate verify failed".
    func diagnose(host: String, port: Int, on eventLoop: any EventLoop, timeout: TimeAmount) -> EventLoopFuture<String>
    {
        let leaf = NIOLoopBoundBox<NIOSSLCertificate?>(nil, eventLoop: eventLoop)
        let generic = "its certificate is not signed by a CA in \(self.caFile ?? "the system's trust store")"
        let context = self.diagnosticContext
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = try NIOSSLClientHandler(
                        context: context, serverHostname: nil,
                        customVerificationCallback: { certificates, promise in
                            leaf.value = certificates.first
                            promise.succeed(.failed)
                        })
                    try channel.pipeline.syncOperations.addHandlers(
                        handler, TLSHandshake(promise: channel.eventLoop.makePromise()))
                }
            }
            .connect(host: host, port: port)
            .flatMap { channel in
                TLSHandshake.wait(on: channel, deadline: .now() + timeout)
                    .always { _ in channel.close(promise: nil) }
            }
            .recover { _ in }
            .map {
                guard let certificate = leaf.value else { return generic }
                let now = time(nil)
                let format = { (seconds: time_t) in
                    ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
                }
                if certificate.notValidAfter < now {
                    return "its certificate expired at \(format(certificate.notValidAfter))"
                }
                if certificate.notValidBefore > now {
                    return "its certificate is not valid before \(format(certificate.notValidBefore))"
                }
                return generic
            }
    }
}

/// Completes when the TLS handshake has, or fails with its error.
final class TLSHandshake: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private var promise: EventLoopPromise<Void>?
    let completed: EventLoopFuture<Void>

    init(promise: EventLoopPromise<Void>) {
        self.promise = promise
        self.completed = promise.futureResult
    }

    /// Waits for the handshake of `channel`'s TLSHandshake handler (at once when it has none),
    /// closing the channel if it has not completed by `deadline`.
    static func wait(on channel: any Channel, deadline: NIODeadline) -> EventLoopFuture<Void> {
        guard let handshake = try? channel.pipeline.syncOperations.handler(type: TLSHandshake.self) else {
            return channel.eventLoop.makeSucceededVoidFuture()
        }
        let timeout = channel.eventLoop.scheduleTask(deadline: deadline) { channel.close(promise: nil) }
        return handshake.completed.always { _ in timeout.cancel() }
    }

    private func complete(_ result: Result<Void, any Error>) {
        self.promise?.completeWith(result)
        self.promise = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event { self.complete(.success(())) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.complete(.failure(error))
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.complete(.failure(RedisClientError.connectionClosed))
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.complete(.failure(RedisClientError.connectionClosed))
    }
}
