import Foundation
import Logging
import WireJSON

/// One JSON object per line on stderr: `ts`, `level`, `label`, `message`, then the metadata
/// (including `request_id` inside requests). Chosen with `LOG_FORMAT=json`.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let write: @Sendable (String) -> Void

    /// - Parameter write: where each line goes; standard error unless a test captures it.
    public init(
        label: String,
        metadataProvider: Logger.MetadataProvider?,
        write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
    ) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = self.metadata
        if let provided = self.metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let explicit = event.metadata { merged.merge(explicit) { _, new in new } }
        var fields = [
            ("ts", Self.timestamp()), ("level", event.level.rawValue), ("label", self.label),
            ("message", "\(event.message)"),
        ]
        for key in merged.keys.sorted() where !["ts", "level", "label", "message"].contains(key) {
            fields.append((key, "\(merged[key]!)"))
        }
        let line = "{" + fields.map { "\(Self.quote($0.0)):\(Self.quote($0.1))" }.joined(separator: ",") + "}\n"
        self.write(line)
    }

    private static func timestamp() -> String {
        Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))
    }

    /// A JSON string literal.
    static func quote(_ text: String) -> String {
        JSONString.quoted(text)
    }
}
