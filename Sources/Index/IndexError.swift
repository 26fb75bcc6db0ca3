import Core

/// Errors of the embedding, `index` and `search` stages: one line naming the file or row at fault.
public enum IndexError: PipelineError {
    /// A model folder file is missing or malformed.
    case model(path: String, reason: String)
    /// An SQLite call failed.
    case sqlite(path: String, reason: String)
    /// An input record is unusable.
    case badInput(path: String, line: Int, reason: String)
    /// A search was asked of an index that is not there or does not fit.
    case search(String)

    /// The one-line message naming the file or option at fault.
    public var message: String {
        switch self {
        case let .model(path, reason): return "\(path): \(reason)"
        case let .sqlite(path, reason): return "\(path): sqlite: \(reason)"
        case let .badInput(path, line, reason): return "\(path):\(line): \(reason)"
        case let .search(text): return text
        }
    }
}
