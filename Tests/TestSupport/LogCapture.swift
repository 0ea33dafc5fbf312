import Logging
import NIOConcurrencyHelpers

/// A logger whose messages the test can read: for verdicts that rest on what authd itself says
/// happened (a race that ran, a reconnect), rather than on timing.
public final class LogCapture: Sendable {
    private let messages = NIOLockedValueBox<[String]>([])

    public init() {}

    /// Every message at `info` and above goes to this capture.
    public var logger: Logger {
        var logger = Logger(label: "authd") { _ in Handler(capture: self) }
        logger.logLevel = .info
        return logger
    }

    /// How many messages so far contain `text`.
    public func count(_ text: String) -> Int {
        self.messages.withLockedValue { $0.count { $0.contains(text) } }
    }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { self.metadata[key] }
            set { self.metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            self.capture.messages.withLockedValue { $0.append(event.message.description) }
        }
    }
}
