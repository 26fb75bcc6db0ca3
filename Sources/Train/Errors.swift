import Core
import Foundation

/// Errors of the Train module: one line naming the file or option at fault.
public enum TrainError: PipelineError {
    case badCheckpoint(path: String, reason: String)
    case badConfig(path: String, reason: String)
    case badTokens(path: String, reason: String)
    case usage(String)
    /// The loss or the gradient norm stopped being a number: training cannot recover, the last checkpoint stays.
    case nonFinite(stage: String, step: Int, what: String)

    /// The one-line message naming the file or option at fault.
    public var message: String {
        switch self {
        case let .badCheckpoint(path, reason): return "\(path): \(reason)"
        case let .badConfig(path, reason): return "\(path): \(reason)"
        case let .badTokens(path, reason): return "\(path): \(reason)"
        case let .usage(text): return text
        case let .nonFinite(stage, step, what):
            return "\(stage): \(what) at step \(step); stopped (lower --lr, or check the data); "
                + "the last checkpoint is kept"
        }
    }

    /// The exit status: usage for a usage error, otherwise failed.
    public var exitStatus: ExitStatus {
        if case .usage = self { return .usage }
        return .failed
    }
}

extension TrainError {
    /// Throws `nonFinite` naming the first of `values` that is NaN or infinite.
    static func checkFinite(stage: String, step: Int, _ values: KeyValuePairs<String, Float>) throws {
        for (name, v) in values where !v.isFinite {
            throw TrainError.nonFinite(stage: stage, step: step, what: "the \(name) is \(v)")
        }
    }
}
