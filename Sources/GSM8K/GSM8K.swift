import Core
import Foundation

/// Errors of the `gsm8k` stage.
public enum GSM8KError: PipelineError {
    case emptyInput(path: String)
    case malformed(path: String, line: Int, reason: String)
    case usage(String)
    /// A `--data` path that names no records file; `splits` are the record files of a folder given instead.
    case noRecords(path: String, splits: [String])

    /// The one-line message `main` prints after `error:`.
    public var message: String {
        switch self {
        case let .emptyInput(path): return "\(path): no GSM8K rows (the input is empty)"
        case let .malformed(path, line, reason): return "\(path):\(line): \(reason)"
        case let .usage(text): return text
        case let .noRecords(path, splits) where !splits.isEmpty:
            let list = splits.map { (path.hasSuffix("/") ? path : path + "/") + $0 }.joined(separator: ", ")
            return "\(path): a folder, not a GSM8K records file (give a file, or one of its splits: \(list))"
        case let .noRecords(path, _):
            return "\(path): no GSM8K records file here (give a file, or a split such as artifacts/gsm8k/test)"
        }
    }

    /// Usage errors exit with 2, the others with 1.
    public var exitStatus: ExitStatus {
        if case .usage = self { return .usage }
        return .failed
    }
}

/// GSM8K answer parsing, as the reference notebooks do it.
public enum GSM8K {
    static let hashes: [UInt32] = [0x23, 0x23, 0x23, 0x23]

    /// The reference `extract_hash_answer`: nil without `####`, else `text.split("####")[1].strip()` (the text
    /// between the first and the second `####`, if there is a second, stripped of Python whitespace).
    public static func extractHashAnswer(_ text: String) -> String? {
        let parts = PythonText.split(PythonText.codePoints(text), separator: hashes)
        guard parts.count >= 2 else { return nil }
        return PythonText.string(PythonText.strip(parts[1]))
    }

    /// The worked solution: the text before the first `####`, calculator annotations removed, stripped
    /// (Python: `re.sub(r"<<.*?>>", "", text.split("####")[0]).strip()`).
    public static func reasoning(_ text: String) -> String {
        let parts = PythonText.split(PythonText.codePoints(text), separator: hashes)
        let cleaned = removeCalculatorAnnotations(Array(parts[0]))
        return PythonText.string(PythonText.strip(cleaned[...]))
    }

    /// Removes GSM8K's calculator annotations: each `<<` with the nearest following `>>` on the same line, and
    /// everything between (Python: `re.sub(r"<<.*?>>", "", text)`). A `<<` without a closing `>>` on its line
    /// stays.
    public static func removeCalculatorAnnotations(_ text: String) -> String {
        PythonText.string(removeCalculatorAnnotations(PythonText.codePoints(text)))
    }

    static func removeCalculatorAnnotations(_ s: [UInt32]) -> [UInt32] {
        let n = s.count
        // nextClose[j]: the first `>>` starting at or after j; nextNL[j]: the first `\n` at or after j (n: none).
        var nextClose = [Int](repeating: n, count: n + 1)
        var nextNL = [Int](repeating: n, count: n + 1)
        var j = n - 1
        while j >= 0 {
            nextClose[j] = (j + 1 < n && s[j] == 0x3E && s[j + 1] == 0x3E) ? j : nextClose[j + 1]
            nextNL[j] = s[j] == 0x0A ? j : nextNL[j + 1]
            j -= 1
        }
        var out: [UInt32] = []
        out.reserveCapacity(n)
        var i = 0
        while i < n {
            if s[i] == 0x3C, i + 1 < n, s[i + 1] == 0x3C {
                // `<<.*?>>`: the nearest `>>` from i + 2, with no `\n` before it.
                let close = nextClose[i + 2 <= n ? i + 2 : n]
                if close < n && nextNL[i + 2] >= close { i = close + 2; continue }
            }
            out.append(s[i])
            i += 1
        }
        return out
    }

    /// The answer as a number with thousands separators (commas) removed: `-?[0-9]+` is an integer (a decimal
    /// when beyond 64 bits), `-?[0-9]*\.[0-9]+` a decimal; anything else is not numeric (nil).
    public static func answerValue(_ answer: String) -> AnswerValue? {
        let bytes = Array(answer.utf8).filter { $0 != 0x2C }
        var i = 0
        if i < bytes.count && bytes[i] == 0x2D { i += 1 }
        var intDigits = 0, fracDigits = 0, dot = false
        while i < bytes.count {
            let b = bytes[i]
            if b >= 0x30 && b <= 0x39 {
                if dot { fracDigits += 1 } else { intDigits += 1 }
            } else if b == 0x2E && !dot {
                dot = true
            } else {
                return nil
            }
            i += 1
        }
        let text = String(decoding: bytes, as: UTF8.self)
        if !dot {
            guard intDigits > 0 else { return nil }
            if let v = Int64(text) { return .integer(v) }
            return Double(text).map { .decimal($0) }
        }
        guard fracDigits > 0 else { return nil }
        return Double(text).map { .decimal($0) }
    }

    /// The record of one row, or nil when its answer has no `####`.
    public static func record(id: String, question: String, answer rawAnswer: String,
                              markers: ReasoningMarkers = .standard) -> GSM8KRecord? {
        guard let answer = extractHashAnswer(rawAnswer) else { return nil }
        let reasoning = reasoning(rawAnswer)
        let prompt = ChatFormat.messages(question: question, markers: markers)
        return GSM8KRecord(id: id, question: question, answer: answer, answerValue: answerValue(answer),
                           reasoning: reasoning, rawAnswer: rawAnswer, prompt: prompt,
                           promptText: ChatFormat.plainText(prompt),
                           targetText: ChatFormat.targetText(reasoning: reasoning, answer: answer, markers: markers))
    }
}
