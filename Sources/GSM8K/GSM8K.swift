import Core
import Foundation

/// Errors of the `gsm8k` stage.
public enum GSM8KError: PipelineError {
    case emptyInput(path: String)
    case malformed(path: String, line: Int, reason: String)
    case usage(String)

    public var message: String {
        switch self {
        case let .emptyInput(path): return "\(path): no GSM8K rows (the input is empty)"
        case let .malformed(path, line, reason): return "\(path):\(line): \(reason)"
        case let .usage(text): return text
        }
    }

    public var exitStatus: ExitStatus {
        if case .usage = self { return .usage }
        return .failed
    }
}

/// The numeric value of an answer: an integer when it is one, else a decimal.
public enum AnswerValue: Codable, Equatable, Sendable {
    case integer(Int64)
    case decimal(Double)

    public var doubleValue: Double {
        switch self {
        case .integer(let i): return Double(i)
        case .decimal(let d): return d
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int64.self) { self = .integer(i) } else { self = .decimal(try c.decode(Double.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .integer(let i): try c.encode(i)
        case .decimal(let d): try c.encode(d)
        }
    }
}

/// One record of `gsm8k/<split>.jsonl.zst`.
public struct GSM8KRecord: Codable, Equatable, Sendable {
    /// `<split>-<row>`, the row being the 0-based position of the row in its input file.
    public var id: String
    public var question: String
    /// What the reference `extract_hash_answer` returns: the text after the first `####`, stripped.
    public var answer: String
    /// `answer` as a number, commas removed; nil (JSON null) when not numeric.
    public var answerValue: AnswerValue?
    /// The worked solution before the first `####`, calculator annotations `<<…>>` removed, stripped.
    public var reasoning: String
    /// The row's `answer` field unchanged.
    public var rawAnswer: String
    /// `[system: the notebooks' system prompt, user: question]`.
    public var prompt: [ChatMessage]
    /// `ChatFormat.plainText(prompt)`.
    public var promptText: String
    /// `ChatFormat.targetText(reasoning:answer:)`: a completion in the reward format.
    public var targetText: String

    enum CodingKeys: String, CodingKey {
        case id, question, answer, reasoning, prompt
        case answerValue = "answer_value"
        case rawAnswer = "raw_answer"
        case promptText = "prompt_text"
        case targetText = "target_text"
    }

    public init(id: String, question: String, answer: String, answerValue: AnswerValue?, reasoning: String,
                rawAnswer: String, prompt: [ChatMessage], promptText: String, targetText: String) {
        self.id = id; self.question = question; self.answer = answer; self.answerValue = answerValue
        self.reasoning = reasoning; self.rawAnswer = rawAnswer; self.prompt = prompt
        self.promptText = promptText; self.targetText = targetText
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        question = try c.decode(String.self, forKey: .question)
        answer = try c.decode(String.self, forKey: .answer)
        answerValue = try c.decodeIfPresent(AnswerValue.self, forKey: .answerValue)
        reasoning = try c.decode(String.self, forKey: .reasoning)
        rawAnswer = try c.decode(String.self, forKey: .rawAnswer)
        prompt = try c.decode([ChatMessage].self, forKey: .prompt)
        promptText = try c.decode(String.self, forKey: .promptText)
        targetText = try c.decode(String.self, forKey: .targetText)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(question, forKey: .question)
        try c.encode(answer, forKey: .answer)
        try c.encode(answerValue, forKey: .answerValue) // null when not numeric
        try c.encode(reasoning, forKey: .reasoning)
        try c.encode(rawAnswer, forKey: .rawAnswer)
        try c.encode(prompt, forKey: .prompt)
        try c.encode(promptText, forKey: .promptText)
        try c.encode(targetText, forKey: .targetText)
    }
}

extension GSM8KRecord {
    /// The record as one JSON line (with its `\n`), byte for byte what Python's
    /// `json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))` writes.
    public func jsonLine() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(question.utf8.count * 3 + rawAnswer.utf8.count * 3 + 600)
        func key(_ k: String, first: Bool = false) {
            if !first { out.append(0x2C) }
            PythonText.appendJSONString(k, to: &out)
            out.append(0x3A)
        }
        out.append(0x7B)
        key("answer", first: true); PythonText.appendJSONString(answer, to: &out)
        key("answer_value")
        switch answerValue {
        case nil: out.append(contentsOf: Array("null".utf8))
        case .integer(let i)?: out.append(contentsOf: Array(String(i).utf8))
        case .decimal(let d)?: out.append(contentsOf: Array(PythonText.floatRepr(d).utf8))
        }
        key("id"); PythonText.appendJSONString(id, to: &out)
        key("prompt")
        out.append(0x5B)
        for (i, m) in prompt.enumerated() {
            if i > 0 { out.append(0x2C) }
            out.append(0x7B)
            key("content", first: true); PythonText.appendJSONString(m.content, to: &out)
            key("role"); PythonText.appendJSONString(m.role, to: &out)
            out.append(0x7D)
        }
        out.append(0x5D)
        key("prompt_text"); PythonText.appendJSONString(promptText, to: &out)
        key("question"); PythonText.appendJSONString(question, to: &out)
        key("raw_answer"); PythonText.appendJSONString(rawAnswer, to: &out)
        key("reasoning"); PythonText.appendJSONString(reasoning, to: &out)
        key("target_text"); PythonText.appendJSONString(targetText, to: &out)
        out.append(0x7D)
        out.append(0x0A)
        return out
    }
}

/// One skipped row, in `gsm8k/rejects.jsonl.zst`.
public struct GSM8KReject: Codable, Equatable, Sendable {
    /// The input file as given.
    public var file: String
    public var split: String
    /// 1-based line of the row in the file (its first line, in a JSON array file).
    public var line: Int
    /// 0-based row position (the number its id would have had).
    public var row: Int
    public var reason: String
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
