import CoreMetrics
import Synchronization

/// Metric handles made once per label set and then reused.
///
/// Asking the metrics factory for a handle on every event costs more than recording it: a
/// registry lookup under a lock and a check of the name and labels each time (about 3% of a
/// verify's CPU for the router's two metrics). A handle made before `MetricsSystem.bootstrap`
/// records nowhere, so one made then is used once and never kept.
///
/// Inlinable, so that each caller's use is specialized for its key and handle types: unspecialized,
/// every lookup went through the runtime's generic metadata.
public final class MetricHandles<Key: Hashable & Sendable, Handle: Sendable>: Sendable {
    @usableFromInline let handles = Mutex<[Key: Handle]>([:])

    @inlinable public init() {}

    /// The handle for `key`, made by `make` the first time.
    @inlinable public func callAsFunction(_ key: Key, make: () -> Handle) -> Handle {
        self.handles.withLock { handles in
            if let handle = handles[key] { return handle }
            let handle = make()
            if !(MetricsSystem.factory is NOOPMetricsHandler) { handles[key] = handle }
            return handle
        }
    }
}
