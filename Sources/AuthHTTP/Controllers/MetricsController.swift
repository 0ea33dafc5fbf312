import NIOCore

/// `GET /metrics`: the Prometheus text format. Unauthenticated, like `/healthz`: expose the port to
/// your monitoring network only.
public struct MetricsController: Sendable {
    /// The exposition, rendered by whoever owns the registry.
    let render: @Sendable () -> [UInt8]

    public init(render: @escaping @Sendable () -> [UInt8]) {
        self.render = render
    }

    public func register(in router: inout Router) {
        router.add(.GET, "/metrics") { _ in
            HTTPResponse(
                status: .ok, headers: ["content-type": "text/plain; version=0.0.4; charset=utf-8"],
                body: ByteBuffer(bytes: self.render())
            )
        }
    }
}
