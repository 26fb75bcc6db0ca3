import Core
import Foundation

/// The prompt of `pipeline ask`: a template with `{context}` and `{question}` placeholders, filled with the retrieved
/// chunks as numbered context blocks (rank order) and the question, and fitted to a token budget by dropping context
/// from the lowest-ranked chunk up — never the question.
public struct AskPrompt: Sendable {
    /// The default template: the numbered context, a blank line, then `Question: …` and the answer cue.
    public static let defaultTemplate = "{context}\n\nQuestion: {question}\nAnswer:"

    /// The template text; holds `{question}` exactly once and `{context}` at most once.
    public let template: String

    /// A template with `{question}` exactly once and `{context}` at most once; nil otherwise (`problem` says why).
    public init?(template: String = AskPrompt.defaultTemplate) {
        guard AskPrompt.problem(template: template) == nil else { return nil }
        self.template = template
    }

    /// Why `template` is not a valid prompt template, or nil when it is.
    public static func problem(template: String) -> String? {
        let questions = template.components(separatedBy: "{question}").count - 1
        let contexts = template.components(separatedBy: "{context}").count - 1
        if questions != 1 { return "the template must hold {question} exactly once (it has \(questions))" }
        if contexts > 1 { return "the template may hold {context} at most once (it has \(contexts))" }
        return nil
    }

    /// One context block: `[n] (source, page P)` (`[n] (source)` without a page; the page as the index records it)
    /// on its own line, then the chunk's text.
    public static func block(number: Int, source: String, page: Int?, text: String) -> String {
        let place = page.map { "\(source), page \($0)" } ?? source
        return "[\(number)] (\(place))\n\(text)"
    }

    /// The context of `hits`: their blocks in the given (rank) order, numbered from 1, separated by blank lines.
    public static func context(_ hits: [SearchHit]) -> String {
        hits.enumerated().map { block(number: $0.offset + 1, source: $0.element.source, page: $0.element.page,
                                      text: $0.element.text) }
            .joined(separator: "\n\n")
    }

    /// The template filled with the context of `hits` and the question.
    public func render(question: String, hits: [SearchHit]) -> String {
        // Split first, so a question or chunk holding "{context}" is never substituted again.
        let parts = template.components(separatedBy: "{question}")
        func fill(_ s: String) -> String { s.replacingOccurrences(of: "{context}", with: AskPrompt.context(hits)) }
        return fill(parts[0]) + question + fill(parts[1])
    }

    /// A prompt fitted to a budget.
    public struct Fitted: Sendable {
        /// The rendered prompt.
        public var prompt: String
        /// Its token count.
        public var tokens: Int
        /// The chunks it holds, in rank order (the last one's text possibly cut short).
        public var hits: [SearchHit]
        /// Chunks dropped because they did not fit.
        public var dropped: Int
        /// Whether the last kept chunk's text was cut.
        public var truncated: Bool
    }

    /// The prompt with as many of `hits` (in rank order) as fit in `budget` tokens, counted by `count` on the whole
    /// rendered prompt: the lowest-ranked chunks are dropped first, whole; when even the best chunk alone does not
    /// fit, its text is cut to the longest prefix (in characters) that does. Throws when the question without any
    /// context does not fit.
    public func fit(question: String, hits: [SearchHit], budget: Int, count: (String) throws -> Int) throws -> Fitted {
        var kept = hits
        while true {
            let prompt = render(question: question, hits: kept)
            let n = try count(prompt)
            if n <= budget {
                return Fitted(prompt: prompt, tokens: n, hits: kept, dropped: hits.count - kept.count, truncated: false)
            }
            if kept.count <= 1 { break }
            kept.removeLast()
        }
        let bare = render(question: question, hits: [])
        let bareTokens = try count(bare)
        guard bareTokens <= budget else {
            throw IndexError.search("the prompt without context takes \(bareTokens) tokens, more than the \(budget) "
                                    + "the model leaves for it (its positions minus the new tokens)")
        }
        guard var best = hits.first else {
            return Fitted(prompt: bare, tokens: bareTokens, hits: [], dropped: 0, truncated: false)
        }
        // The longest prefix of the best chunk that fits: binary search on the character count.
        let chars = Array(best.text)
        var lo = 0, hi = chars.count  // a prefix of lo characters fits (lo = 0: checked below), hi does not
        var fitted: (String, Int)? = nil
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            best.text = String(chars[0..<mid])
            let prompt = render(question: question, hits: [best])
            let n = try count(prompt)
            if n <= budget { lo = mid; fitted = (prompt, n) } else { hi = mid }
        }
        if lo == 0 {
            return Fitted(prompt: bare, tokens: bareTokens, hits: [], dropped: hits.count, truncated: false)
        }
        best.text = String(chars[0..<lo])
        return Fitted(prompt: fitted!.0, tokens: fitted!.1, hits: [best], dropped: hits.count - 1, truncated: true)
    }
}

/// One question of `pipeline ask --file`: `{"id", "question"}` (the id a string or an integer).
public struct AskQuestion: Decodable, Sendable {
    /// The record's id, as a string.
    public var id: String
    /// The question text.
    public var question: String

    enum CodingKeys: String, CodingKey { case id, question }

    /// Decodes a record; an integer id becomes its decimal string.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let s = try? c.decode(String.self, forKey: .id) {
            id = s
        } else {
            id = String(try c.decode(Int.self, forKey: .id))
        }
        question = try c.decode(String.self, forKey: .question)
    }

    /// A question with its id.
    public init(id: String, question: String) { self.id = id; self.question = question }
}

/// A source of an answer, as `pipeline ask` reports it.
public struct AskSource: Codable, Equatable, Sendable {
    /// 1-based rank (the number of its context block).
    public var rank: Int
    /// The chunk's id.
    public var chunkId: String
    /// The document's source path.
    public var source: String
    /// The page the chunk is on, when known.
    public var page: Int?
    /// The retrieval score (see `SearchHit.score`).
    public var score: Double

    enum CodingKeys: String, CodingKey { case rank, chunkId = "chunk_id", source, page, score }

    /// The source of a kept hit.
    public init(_ hit: SearchHit) {
        rank = hit.rank; chunkId = hit.chunkId; source = hit.source; page = hit.page; score = hit.score
    }
}

/// One answer of `pipeline ask`: `pipeline score` reads `answer` as the prediction.
public struct AskAnswer: Codable, Sendable {
    /// The question's id, when the input had one.
    public var id: String?
    /// The question asked.
    public var question: String
    /// The model's answer.
    public var answer: String
    /// Tokens of the prompt given to the model.
    public var promptTokens: Int
    /// The chunks in the prompt, in rank order.
    public var sources: [AskSource]
    /// The prompt itself (`ask --json` only).
    public var prompt: String?

    enum CodingKeys: String, CodingKey {
        case id, question, answer, promptTokens = "prompt_tokens", sources, prompt
    }

    /// An answer record.
    public init(id: String?, question: String, answer: String, promptTokens: Int, sources: [AskSource],
                prompt: String? = nil) {
        self.id = id; self.question = question; self.answer = answer; self.promptTokens = promptTokens
        self.sources = sources; self.prompt = prompt
    }
}
