import Foundation

/// Exit codes shared by every command (documented in the README).
public enum ExitStatus: Int32, Sendable {
    case ok = 0
    /// The command failed: nothing new was committed.
    case failed = 1
    /// The command line was wrong.
    case usage = 2
    /// The command finished, but some inputs were skipped (reported on stderr and in the artifacts).
    case finishedWithSkips = 3
}

/// Every module's error type conforms to this: one line for the user, naming the file, row or page at fault.
public protocol PipelineError: Error, CustomStringConvertible {
    /// One line, without the `error: ` prefix.
    var message: String { get }
    var exitStatus: ExitStatus { get }
}

extension PipelineError {
    /// Failed, unless the error says otherwise.
    public var exitStatus: ExitStatus { .failed }
    /// The message.
    public var description: String { message }
}

/// Errors of the artifact store and its streams.
public enum CoreError: PipelineError {
    case io(path: String, operation: String, errno: Int32)
    case notFound(path: String)
    case corrupt(path: String, reason: String)
    case truncated(path: String)
    case badRecord(path: String, line: Int, reason: String)
    case usage(String)
    case locked(path: String)
    case notReplaceable(path: String, kind: String)
    case notADirectory(path: String)
    /// More memory (or another resource) than the machine has.
    case resources(String)

    /// The one-line message naming the file or option at fault.
    public var message: String {
        switch self {
        case let .io(path, operation, code):
            return "\(path): \(operation) failed: \(String(cString: strerror(code)))"
        case let .notFound(path):
            return "\(path): no such file or directory"
        case let .corrupt(path, reason):
            return "\(path): corrupt compressed data (\(reason))"
        case let .truncated(path):
            return "\(path): truncated compressed stream (the file ends inside a zstd frame)"
        case let .badRecord(path, line, reason):
            return "\(path):\(line): \(reason)"
        case let .usage(text):
            return text
        case let .locked(path):
            return "\(path): another pipeline run holds the lock"
        case let .resources(text):
            return text
        case let .notADirectory(path):
            return "\(path): exists and is not a directory (give a folder path)"
        case let .notReplaceable(path, kind):
            return "\(path): is \(kind), not a regular file; refusing to replace it (give a file path)"
        }
    }

    /// The exit status: usage for a usage error, otherwise failed.
    public var exitStatus: ExitStatus {
        if case .usage = self { return .usage }
        return .failed
    }
}

/// Errors of `pipeline run` / `pipeline report`: config, lock, stage failures.
public enum RunError: PipelineError {
    case config(path: String, line: Int?, reason: String)
    case locked(path: String)
    case stageFailed(stage: String, status: Int32, log: String)
    case noRun(path: String)

    /// The one-line message naming the file, line or stage at fault.
    public var message: String {
        switch self {
        case let .config(path, line, reason):
            return "\(path)\(line.map { ":\($0)" } ?? ""): \(reason)"
        case let .locked(path):
            return "\(path): another pipeline run holds the lock on this work directory (use --wait to wait for it)"
        case let .stageFailed(stage, status, log):
            return "stage \(stage) failed (exit \(status)); its log: \(log)"
        case let .noRun(path):
            return "\(path): no run found (no summary.json)"
        }
    }
    /// The exit status: usage for a config error, otherwise failed.
    public var exitStatus: ExitStatus {
        if case .config = self { return .usage }
        return .failed
    }
}
