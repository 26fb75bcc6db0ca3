import Core
import Foundation

/// Errors of `pipeline score`: one line naming the file, line or ids at fault.
public enum MetricsError: PipelineError {
    /// A record or line of an input file is unusable.
    case badInput(path: String, line: Int, reason: String)
    /// The two files do not pair up.
    case join(String)
    /// A wrong option value.
    case usage(String)

    /// The one-line message naming the file or option at fault.
    public var message: String {
        switch self {
        case let .badInput(path, line, reason): return "\(path):\(line): \(reason)"
        case let .join(text): return text
        case let .usage(text): return text
        }
    }

    /// The exit status: usage for a usage error, otherwise failed.
    public var exitStatus: ExitStatus {
        if case .usage = self { return .usage }
        return .failed
    }
}

/// One prediction with its references (at least one).
public struct ScoreItem: Equatable, Sendable {
    /// The item's id.
    public var id: String
    /// The text scored.
    public var prediction: String
    /// The texts it is scored against.
    public var references: [String]

    /// An item; `references` must not be empty.
    public init(id: String, prediction: String, references: [String]) {
        self.id = id
        self.prediction = prediction
        self.references = references
    }
}

/// Reads the predictions and references of `pipeline score` and pairs them.
///
/// A file named `*.jsonl`, `*.ndjson` or `*.json` (optionally `.zst`) is JSON Lines: predictions are
/// `{"id", "prediction"}` records (`"completion"` or `"answer"` are taken too, so `eval` and `ask` outputs score
/// as they are), references `{"id", "reference"}` or `{"id", "references": [...]}`; ids are strings or integers,
/// and the two files are joined by id. Any other file is plain text (optionally zstd), one item per line (a
/// trailing "\r" dropped); when either file is plain text the two are paired line by line.
public enum ScoreInput {
    /// Whether `path` is read as JSON Lines (by its name).
    public static func isJSONLines(_ path: String) -> Bool {
        var name = path.lowercased()
        if name.hasSuffix(".zst") { name.removeLast(4) }
        return name.hasSuffix(".jsonl") || name.hasSuffix(".ndjson") || name.hasSuffix(".json")
    }

    /// The paired items, in the order of the predictions file.
    public static func load(predictions: String, references: String) throws -> [ScoreItem] {
        let byId = isJSONLines(predictions) && isJSONLines(references)
        let preds = try isJSONLines(predictions) ? readRecords(predictions, kind: .prediction)
                                                 : readLines(predictions).map { ($0.0, [$0.1]) }
        let refs = try isJSONLines(references) ? readRecords(references, kind: .reference)
                                               : readLines(references).map { ($0.0, [$0.1]) }
        if !byId {
            guard preds.count == refs.count else {
                throw MetricsError.join("\(predictions) has \(preds.count) items and \(references) has "
                                        + "\(refs.count); paired by line, they must have the same number")
            }
            return zip(preds, refs).map { ScoreItem(id: $0.0.0, prediction: $0.0.1[0], references: $0.1.1) }
        }
        return try join(predictions: preds, references: refs, predictionsPath: predictions,
                        referencesPath: references)
    }

    /// Pairs records by id; an id on one side only is an error naming the first few.
    public static func join(predictions: [(String, [String])], references: [(String, [String])],
                            predictionsPath: String, referencesPath: String) throws -> [ScoreItem] {
        var refById: [String: [String]] = [:]
        for (id, r) in references { refById[id] = r }
        let predIds = Set(predictions.map(\.0))
        let missing = predictions.map(\.0).filter { refById[$0] == nil }
        let extra = references.map(\.0).filter { !predIds.contains($0) }
        if !missing.isEmpty || !extra.isEmpty {
            var parts: [String] = []
            if !missing.isEmpty {
                parts.append("\(missing.count) id(s) of \(predictionsPath) have no reference in \(referencesPath): "
                             + listed(missing))
            }
            if !extra.isEmpty {
                parts.append("\(extra.count) id(s) of \(referencesPath) have no prediction in \(predictionsPath): "
                             + listed(extra))
            }
            throw MetricsError.join(parts.joined(separator: "; "))
        }
        return predictions.map { ScoreItem(id: $0.0, prediction: $0.1[0], references: refById[$0.0]!) }
    }

    private static func listed(_ ids: [String]) -> String {
        let shown = ids.prefix(5).map { "\"\($0)\"" }.joined(separator: ", ")
        return ids.count > 5 ? shown + ", …" : shown
    }

    enum Kind { case prediction, reference }

    /// The (id, texts) of each record: one text for a prediction, the references for a reference record.
    static func readRecords(_ path: String, kind: Kind) throws -> [(String, [String])] {
        guard FileSystem.exists(path) else { throw CoreError.notFound(path: path) }
        var lines: [(number: Int, bytes: [UInt8])] = []
        try ByteReader(path: path).forEachLine { line, number in
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }
            lines.append((number, Array(line)))
        }
        // Decoding is most of the reading: done on all cores, the first bad line (in file order) reported.
        let decoded: [Result<ScoreRecord, MetricsError>] = Parallel.map(lines.indices) { k in
            let (number, bytes) = lines[k]
            func bad(_ reason: String) -> MetricsError { .badInput(path: path, line: number, reason: reason) }
            do {
                return .success(try JSONDecoder().decode(ScoreRecord.self, from: Data(bytes)))
            } catch let problem as ScoreRecord.Problem {
                return .failure(bad(problem.text))
            } catch DecodingError.typeMismatch(_, let ctx) where ctx.codingPath.isEmpty {
                return .failure(bad("not a JSON object"))
            } catch {
                return .failure(bad(JSONLReader.describe(error)))
            }
        }
        var out: [(String, [String])] = []
        out.reserveCapacity(lines.count)
        var seen: [String: Int] = [:]
        for (k, result) in decoded.enumerated() {
            let number = lines[k].number
            func bad(_ reason: String) -> MetricsError { .badInput(path: path, line: number, reason: reason) }
            let record = try result.get()
            if let first = seen[record.id] { throw bad("id \"\(record.id)\" already on line \(first)") }
            seen[record.id] = number
            switch kind {
            case .prediction:
                guard let text = record.prediction else { throw bad("missing field 'prediction'") }
                out.append((record.id, [text]))
            case .reference:
                guard let texts = record.references else {
                    throw bad("missing field 'reference' (or 'references')")
                }
                guard !texts.isEmpty else { throw bad("'references' is empty") }
                out.append((record.id, texts))
            }
        }
        return out
    }

    /// Plain text: (line number, line) for every line.
    static func readLines(_ path: String) throws -> [(String, String)] {
        guard FileSystem.exists(path) else { throw CoreError.notFound(path: path) }
        var out: [(String, String)] = []
        try ByteReader(path: path).forEachLine { line, number in
            var end = line.count
            if end > 0 && line[end - 1] == 0x0D { end -= 1 }
            guard let text = String(validating: UnsafeBufferPointer(rebasing: line[0..<end]), as: UTF8.self) else {
                throw MetricsError.badInput(path: path, line: number, reason: "not valid UTF-8")
            }
            out.append((String(number), text))
        }
        return out
    }
}

/// One JSON Lines record of either file: its id (a string or an integer), the prediction (`prediction`, else
/// `completion`, else `answer`), and the references (`references`, else `reference`).
struct ScoreRecord: Decodable {
    /// A record that is JSON but not usable, in words.
    struct Problem: Error { let text: String }

    let id: String
    let prediction: String?
    let references: [String]?

    enum Key: String, CodingKey { case id, prediction, completion, answer, reference, references }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        guard c.contains(.id) else { throw Problem(text: "missing field 'id'") }
        if let s = try? c.decode(String.self, forKey: .id) {
            id = s
        } else if let n = try? c.decode(Int.self, forKey: .id) {
            id = String(n)
        } else {
            throw Problem(text: "'id' must be a string or an integer")
        }
        var prediction: String?
        for key in [Key.prediction, .completion, .answer] where c.contains(key) {
            guard let text = try? c.decode(String.self, forKey: key) else {
                throw Problem(text: "'\(key.rawValue)' must be a string")
            }
            prediction = text
            break
        }
        self.prediction = prediction
        if c.contains(.references) {
            guard let list = try? c.decode([String].self, forKey: .references) else {
                throw Problem(text: "'references' must be a list of strings")
            }
            references = list
        } else if c.contains(.reference) {
            guard let text = try? c.decode(String.self, forKey: .reference) else {
                throw Problem(text: "'reference' must be a string")
            }
            references = [text]
        } else {
            references = nil
        }
    }
}
