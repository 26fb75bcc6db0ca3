import Foundation

// The records of GSM8K's artifacts: the dataset's rows (`GSM8KRow`: what `gsm8k` reads, what `synth-gsm8k`
// writes), `gsm8k/<split>.jsonl.zst` (one `GSM8KRecord` per row) and `gsm8k/rejects.jsonl.zst` (one `GSM8KReject`
// per skipped row). Every writer and reader uses these types.

/// One row of a GSM8K file (`{"question": …, "answer": …}`, the answer ending in `#### N`).
public struct GSM8KRow: Codable, Equatable, Sendable {
    /// The word problem.
    public var question: String
    /// The worked solution with its calculator annotations, then `#### ` and the final answer.
    public var answer: String

    /// A row of `question` and its worked `answer`.
    public init(question: String, answer: String) {
        self.question = question
        self.answer = answer
    }
}

/// The numeric value of an answer: an integer when it is one, else a decimal.
public enum AnswerValue: Codable, Equatable, Sendable {
    case integer(Int64)
    case decimal(Double)

    /// The value as a `Double`.
    public var doubleValue: Double {
        switch self {
        case .integer(let i): return Double(i)
        case .decimal(let d): return d
        }
    }

    /// Decodes an integer when the JSON number is one, else a decimal.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int64.self) { self = .integer(i) } else { self = .decimal(try c.decode(Double.self)) }
    }

    /// Encodes the number (an integer without a fractional part).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .integer(let i): try c.encode(i)
        case .decimal(let d): try c.encode(d)
        }
    }
}

/// One chat message, as in the `prompt` field of GSM8K records (`{"role": …, "content": …}`).
public struct ChatMessage: Codable, Equatable, Sendable {
    /// `system`, `user` or `assistant`.
    public var role: String
    /// The message's text.
    public var content: String

    /// A message of `role` (`system`, `user`, `assistant`) with `content`.
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// One record of `gsm8k/<split>.jsonl.zst`.
public struct GSM8KRecord: Codable, Equatable, Sendable {
    /// `<split>-<row>`, the row being the 0-based position of the row in its input file.
    public var id: String
    /// The row's question unchanged.
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

    /// The fields; the raw values are the JSON keys.
    public enum CodingKeys: String, CodingKey, CaseIterable, Sendable {
        case id, question, answer, reasoning, prompt
        case answerValue = "answer_value"
        case rawAnswer = "raw_answer"
        case promptText = "prompt_text"
        case targetText = "target_text"
    }

    /// A record with every field given.
    public init(id: String, question: String, answer: String, answerValue: AnswerValue?, reasoning: String,
                rawAnswer: String, prompt: [ChatMessage], promptText: String, targetText: String) {
        self.id = id; self.question = question; self.answer = answer; self.answerValue = answerValue
        self.reasoning = reasoning; self.rawAnswer = rawAnswer; self.prompt = prompt
        self.promptText = promptText; self.targetText = targetText
    }

    /// Decodes a record. With a plain decoder every field but `answer_value` must be present; with one from
    /// `decoder(requiring:missingID:)`, only the required ones.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let partial = decoder.userInfo[Self.partialKey] as? Partial
        func field<T: Decodable>(_ key: CodingKeys, empty: T) throws -> T {
            guard let partial, !partial.required.contains(key) else { return try c.decode(T.self, forKey: key) }
            return (try? c.decodeIfPresent(T.self, forKey: key)) ?? empty
        }
        id = try field(.id, empty: partial?.missingID ?? "")
        question = try field(.question, empty: "")
        answer = try field(.answer, empty: "")
        if let partial, !partial.required.contains(.answerValue) {
            answerValue = (try? c.decodeIfPresent(AnswerValue.self, forKey: .answerValue)) ?? nil
        } else {
            answerValue = try c.decodeIfPresent(AnswerValue.self, forKey: .answerValue)
        }
        reasoning = try field(.reasoning, empty: "")
        rawAnswer = try field(.rawAnswer, empty: "")
        prompt = try field(.prompt, empty: [])
        promptText = try field(.promptText, empty: "")
        targetText = try field(.targetText, empty: "")
    }

    /// Encodes every field (`answer_value` as null when not numeric); `jsonLine()` writes the artifact's bytes.
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

    /// What a reader of some fields needs (in a decoder's `userInfo`).
    struct Partial {
        let required: Set<CodingKeys>
        let missingID: String
    }

    static let partialKey = CodingUserInfoKey(rawValue: "pipeline.GSM8KRecord.partial")!

    /// A decoder for a reader that uses only some fields of the records (a hand-written file may hold only
    /// those): each of `required` must be present with its type, as in any record; every other field is read
    /// when present with its type, else left empty (`id`: `missingID`, `answer_value`: nil, `prompt`: []).
    public static func decoder(requiring required: Set<CodingKeys>, missingID: String = "") -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.userInfo[partialKey] = Partial(required: required, missingID: missingID)
        return decoder
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
        func field(_ k: CodingKeys, first: Bool = false) { key(k.rawValue, first: first) }
        out.append(0x7B)
        field(.answer, first: true); PythonText.appendJSONString(answer, to: &out)
        field(.answerValue)
        switch answerValue {
        case nil: out.append(contentsOf: Array("null".utf8))
        case .integer(let i)?: out.append(contentsOf: Array(String(i).utf8))
        case .decimal(let d)?: out.append(contentsOf: Array(PythonText.floatRepr(d).utf8))
        }
        field(.id); PythonText.appendJSONString(id, to: &out)
        field(.prompt)
        out.append(0x5B)
        for (i, m) in prompt.enumerated() {
            if i > 0 { out.append(0x2C) }
            out.append(0x7B)
            key("content", first: true); PythonText.appendJSONString(m.content, to: &out)
            key("role"); PythonText.appendJSONString(m.role, to: &out)
            out.append(0x7D)
        }
        out.append(0x5D)
        field(.promptText); PythonText.appendJSONString(promptText, to: &out)
        field(.question); PythonText.appendJSONString(question, to: &out)
        field(.rawAnswer); PythonText.appendJSONString(rawAnswer, to: &out)
        field(.reasoning); PythonText.appendJSONString(reasoning, to: &out)
        field(.targetText); PythonText.appendJSONString(targetText, to: &out)
        out.append(0x7D)
        out.append(0x0A)
        return out
    }
}

/// One skipped row, in `gsm8k/rejects.jsonl.zst`.
public struct GSM8KReject: Codable, Equatable, Sendable {
    /// The input file as given.
    public var file: String
    /// The split the file was read for.
    public var split: String
    /// 1-based line of the row in the file (its first line, in a JSON array file).
    public var line: Int
    /// 0-based row position (the number its id would have had).
    public var row: Int
    /// Why the row was skipped (`no '####' in the answer`, `invalid JSON`, `missing field 'answer'`, …).
    public var reason: String

    /// The reject of row `row` (at `line`) of `file`, read for `split`, with the reason it was skipped.
    public init(file: String, split: String, line: Int, row: Int, reason: String) {
        self.file = file; self.split = split; self.line = line; self.row = row; self.reason = reason
    }
}
