import Core

/// The reasoning/solution markers of the reference GRPO notebooks, shared by the `gsm8k` stage (prompts and
/// targets) and the reward functions.
public struct ReasoningMarkers: Codable, Equatable, Sendable {
    /// Opens the worked solution.
    public var reasoningStart: String
    /// Closes the worked solution.
    public var reasoningEnd: String
    /// Opens the final answer.
    public var solutionStart: String
    /// Closes the final answer.
    public var solutionEnd: String

    /// Markers, the notebooks' ones by default.
    public init(reasoningStart: String = "<start_working_out>", reasoningEnd: String = "<end_working_out>",
                solutionStart: String = "<SOLUTION>", solutionEnd: String = "</SOLUTION>") {
        self.reasoningStart = reasoningStart
        self.reasoningEnd = reasoningEnd
        self.solutionStart = solutionStart
        self.solutionEnd = solutionEnd
    }

    /// The notebooks' markers: `<start_working_out>`, `<end_working_out>`, `<SOLUTION>`, `</SOLUTION>`.
    public static let standard = ReasoningMarkers()

    /// In the notebooks' order: reasoning start, reasoning end, solution start, solution end.
    public var all: [String] { [reasoningStart, reasoningEnd, solutionStart, solutionEnd] }

    /// The markers as stage parameters (recorded in manifests).
    public var parameters: [String: String] {
        ["reasoning_start": reasoningStart, "reasoning_end": reasoningEnd,
         "solution_start": solutionStart, "solution_end": solutionEnd]
    }

    /// Markers read back from stage parameters; missing ones take the standard value.
    public init(parameters: [String: String]) {
        let d = ReasoningMarkers.standard
        self.init(reasoningStart: parameters["reasoning_start"] ?? d.reasoningStart,
                  reasoningEnd: parameters["reasoning_end"] ?? d.reasoningEnd,
                  solutionStart: parameters["solution_start"] ?? d.solutionStart,
                  solutionEnd: parameters["solution_end"] ?? d.solutionEnd)
    }

    /// Why these markers cannot be used, or nil. Markers must be non-empty (Python's `str.count("")` would
    /// count every position).
    public var problem: String? {
        for (name, value) in parameters.sorted(by: { $0.key < $1.key }) where value.isEmpty {
            return "marker \(name) must not be empty"
        }
        return nil
    }
}

/// The prompt format of the GSM8K GRPO work: the notebooks' system prompt, the chat messages, their plain-text
/// rendering for models without a chat template, and the well-formed target completion.
public enum ChatFormat {
    /// The reference notebooks' system prompt, with the given markers:
    /// "You are given a problem.\nThink about the problem and provide your working out.\nPlace it between
    /// {reasoningStart} and {reasoningEnd}.\nThen, provide your solution between {solutionStart}{solutionEnd}"
    public static func systemPrompt(_ m: ReasoningMarkers = .standard) -> String {
        "You are given a problem.\nThink about the problem and provide your working out.\n"
            + "Place it between \(m.reasoningStart) and \(m.reasoningEnd).\n"
            + "Then, provide your solution between \(m.solutionStart)\(m.solutionEnd)"
    }

    /// `[system: systemPrompt, user: question]`, as the notebooks build `prompt`.
    public static func messages(question: String, markers: ReasoningMarkers = .standard) -> [ChatMessage] {
        [ChatMessage(role: "system", content: systemPrompt(markers)), ChatMessage(role: "user", content: question)]
    }

    /// The one plain-text rendering of chat messages, for a model without a chat template (the `prompt_text`
    /// field, and what the trainer feeds its models):
    ///
    ///     for each message: Label + ":\n" + content + "\n\n"
    ///     then:             "Assistant:\n"
    ///
    /// where Label is "System", "User" or "Assistant" for the roles system, user and assistant (any other role
    /// is written with its first letter upper-cased). Contents are copied unchanged. The model's completion
    /// follows directly after the final "Assistant:\n"; a supervised example is `plainText(messages) + target`.
    public static func plainText(_ messages: [ChatMessage]) -> String {
        var out = ""
        for m in messages {
            out += label(m.role) + ":\n" + m.content + "\n\n"
        }
        out += "Assistant:\n"
        return out
    }

    /// The plain-text prompt of one question: `plainText(messages(question:markers:))`.
    public static func plainTextPrompt(question: String, markers: ReasoningMarkers = .standard) -> String {
        plainText(messages(question: question, markers: markers))
    }

    /// A well-formed completion in the reward format:
    /// `{reasoningStart}{reasoning}{reasoningEnd}{solutionStart}{answer}{solutionEnd}`.
    public static func targetText(reasoning: String, answer: String, markers: ReasoningMarkers = .standard) -> String {
        markers.reasoningStart + reasoning + markers.reasoningEnd + markers.solutionStart + answer + markers.solutionEnd
    }

    static func label(_ role: String) -> String {
        switch role {
        case "system": return "System"
        case "user": return "User"
        case "assistant": return "Assistant"
        default: return role.prefix(1).uppercased() + role.dropFirst()
        }
    }
}
