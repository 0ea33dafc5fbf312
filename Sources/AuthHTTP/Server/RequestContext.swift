import AuthCore
import Logging

/// What is known of the request the current task is handling.
public enum RequestContext {
    /// Set while a request is handled (as part of ``EventOrigin/current``, which the domain's
    /// events read too), so that every log line written on its behalf, in any module, carries it.
    public static var requestID: String? { EventOrigin.current?.requestID }
}

extension Logger.MetadataProvider {
    /// Adds `request_id` to every log line written while a request is handled. authd bootstraps
    /// its logging with it.
    public static let requestID = Logger.MetadataProvider {
        guard let id = RequestContext.requestID else { return [:] }
        return ["request_id": "\(id)"]
    }
}
