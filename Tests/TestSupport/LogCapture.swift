import Logging
import NIOConcurrencyHelpers

/// A logger whose messages the test can read: for verdicts that rest on what authd itself says
/// happened (a race that ran, a reconnect), rather than on timing.
public final class LogCapture: Sendable {
    private let messages = NIOLockedValueBox<[String]>([])
    private let lines = NIOLockedValueBox<[String]>([])

    /// Every message so far with its metadata, as one text: for checks that something never appears.
    public var text: String { self.lines.withLockedValue { $0.joined(separator: "\n") } }

    private let level: Logger.Level

    /// - Parameter level: the least level captured (`info` unless given).
    public init(level: Logger.Level = .info) {
        self.level = level
    }

    /// Every message at `info` and above goes to this capture.
    public var logger: Logger {
        var logger = Logger(label: "authd") { _ in Handler(capture: self, logLevel: self.level) }
        logger.logLevel = self.level
        return logger
    }

    /// How many messages so far contain `text`.
    public func count(_ text: String) -> Int {
        self.messages.withLockedValue { $0.count { $0.contains(text) } }
    }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { self.metadata[key] }
            set { self.metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            self.capture.messages.withLockedValue { $0.append(event.message.description) }
            let metadata = self.metadata.merging(event.metadata ?? [:]) { $1 }
            self.capture.lines.withLockedValue { $0.append("\(event.message) \(metadata)") }
        }
    }
}
