import Core
import Foundation

/// Errors of the Train module: one line naming the file or option at fault.
public enum TrainError: PipelineError {
    case badCheckpoint(path: String, reason: String)
    case badConfig(path: String, reason: String)
    case badTokens(path: String, reason: String)
    case usage(String)

    public var message: String {
        switch self {
        case let .badCheckpoint(path, reason): return "\(path): \(reason)"
        case let .badConfig(path, reason): return "\(path): \(reason)"
        case let .badTokens(path, reason): return "\(path): \(reason)"
        case let .usage(text): return text
        }
    }

    public var exitStatus: ExitStatus {
        if case .usage = self { return .usage }
        return .failed
    }
}
