import Core

/// Errors of the dedup stage: one line naming the file or row at fault.
public enum DedupError: PipelineError {
    /// The ingest output is not there.
    case missingInput(path: String)
    /// An input record is unusable.
    case badRecord(path: String, line: Int, reason: String)

    /// The one-line message naming the file at fault.
    public var message: String {
        switch self {
        case let .missingInput(path): return "\(path): no such file (run `pipeline ingest` first)"
        case let .badRecord(path, line, reason): return "\(path):\(line): \(reason)"
        }
    }
}
