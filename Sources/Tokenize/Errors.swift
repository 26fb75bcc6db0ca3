import Core
import Foundation

/// Errors of the tokenize module.
public enum TokenizeError: PipelineError {
    case invalidUTF8(path: String, line: Int)
    case badTokenizer(path: String, reason: String)
    case unknownId(Int)
    case badTokenFile(path: String, reason: String)
    case invalidOption(String)
    /// A WordPiece (BERT) tokenizer file of a model folder is missing or malformed.
    case wordPiece(path: String, reason: String)

    /// The one-line message naming the file or option at fault.
    public var message: String {
        switch self {
        case let .invalidUTF8(path, line):
            return "\(path):\(line): invalid UTF-8 (training input must be UTF-8 text, as for Hugging Face tokenizers)"
        case let .badTokenizer(path, reason):
            return "\(path): not a usable tokenizer: \(reason)"
        case let .unknownId(id):
            return "token id \(id) is not in the vocabulary"
        case let .badTokenFile(path, reason):
            return "\(path): not a token file: \(reason)"
        case let .invalidOption(text):
            return text
        case let .wordPiece(path, reason):
            return "\(path): \(reason)"
        }
    }

    /// The exit status: usage for a usage error, otherwise failed.
    public var exitStatus: ExitStatus {
        if case .invalidOption = self { return .usage }
        return .failed
    }
}
