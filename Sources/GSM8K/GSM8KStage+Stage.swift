import ArgumentParser
import Core
import Foundation

/// The reasoning/solution marker options shared by `gsm8k` and `reward`.
public struct MarkerOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Marker opening the worked solution (default <start_working_out>).",
                                             valueName: "text"))
    public var reasoningStart: String?

    @Option(name: .long, help: ArgumentHelp("Marker closing the worked solution (default <end_working_out>).",
                                             valueName: "text"))
    public var reasoningEnd: String?

    @Option(name: .long, help: ArgumentHelp("Marker opening the final answer (default <SOLUTION>).",
                                             valueName: "text"))
    public var solutionStart: String?

    @Option(name: .long, help: ArgumentHelp("Marker closing the final answer (default </SOLUTION>).",
                                             valueName: "text"))
    public var solutionEnd: String?

    /// The defaults: no marker given.
    public init() {}

    /// Rejects markers that cannot be used (see `ReasoningMarkers.problem`).
    public func validate() throws { _ = try markers() }

    /// No marker given.
    public var isEmpty: Bool {
        reasoningStart == nil && reasoningEnd == nil && solutionStart == nil && solutionEnd == nil
    }

    /// The given markers over `base`.
    public func markers(over base: ReasoningMarkers = .standard) throws -> ReasoningMarkers {
        let m = ReasoningMarkers(reasoningStart: reasoningStart ?? base.reasoningStart,
                                 reasoningEnd: reasoningEnd ?? base.reasoningEnd,
                                 solutionStart: solutionStart ?? base.solutionStart,
                                 solutionEnd: solutionEnd ?? base.solutionEnd)
        if let problem = m.problem { throw ValidationError(problem) }
        return m
    }
}

/// `pipeline gsm8k`.
extension GSM8KStage: Stage {
    /// The options of `pipeline gsm8k` and the keys of `[gsm8k]`.
    public struct Arguments: ParsableArguments {
        @Argument(help: ArgumentHelp("GSM8K files (.jsonl, .jsonl.zst or .json).", valueName: "file"))
        public var files: [String]

        @Option(name: .long, help: ArgumentHelp("Name of the output split (only with one input file).",
                                                 valueName: "name"))
        public var split: String?

        /// The reasoning and solution markers.
        @OptionGroup public var markers: MarkerOptions

        /// The defaults.
        public init() {}

        /// Rejects `--split` with more than one input file.
        public func validate() throws {
            if split != nil && files.count != 1 {
                throw ValidationError("--split names the output of one input file; \(files.count) were given")
            }
        }
    }

    public static let abstract =
        "Extract GSM8K rows into prompts, answers and targets for GRPO and supervised warm-up."
    public static let discussion = """
        Reads GSM8K files ({"question": …, "answer": …} per row) as JSON Lines, plain or zstd-compressed, or as \
        one JSON array, and writes <workdir>/gsm8k/<split>.jsonl.zst for each file; the split is the file's name \
        without .zst and .jsonl/.json (train.jsonl → train), or --split NAME when one file is given.

        Each record: id ("<split>-<row>", row = 0-based position in the file), question (unchanged), answer (the \
        text after the first ####, stripped, exactly as the reference extract_hash_answer returns it), \
        answer_value (answer as a number, commas removed; null if not numeric), reasoning (the solution before \
        ####, calculator annotations <<…>> removed), raw_answer (the answer field unchanged), prompt (system and \
        user chat messages; the system prompt names the markers), prompt_text (the same as plain text: \
        "System:\\n…\\n\\nUser:\\n…\\n\\nAssistant:\\n"), target_text \
        (<start_working_out>reasoning<end_working_out><SOLUTION>answer</SOLUTION>).

        Rows that are not valid JSON, lack a field or have no #### in the answer are skipped: a summary goes to \
        stderr, each one (file, line, row, reason) to <workdir>/gsm8k/rejects.jsonl.zst, and the command exits \
        with status 3 after writing everything else. An input without any row is an error (status 1).
        """
    public static let wiredArguments: Set<String> = ["files"]

    /// The GSM8K files of `[inputs]`.
    public static func runArguments(inputs: RunInputs, workdir: Workdir) -> [String] { inputs.gsm8k }

    /// Not needed when `[inputs]` lists no GSM8K files.
    public static func notNeeded(inputs: RunInputs) -> String? {
        inputs.gsm8k.isEmpty ? "no GSM8K files in [inputs] gsm8k" : nil
    }

    /// Extracts the records and reports what was written and skipped.
    public static func run(_ a: Arguments, in context: StageContext) throws -> StageResult {
        let outcome = try run(workdir: context.workdir, files: a.files, split: a.split,
                              markers: try a.markers.markers(), force: context.force)
        guard outcome.ran else { return upToDate }
        var lines: [String] = []
        var skipped: [StageResult.SkippedInput] = []
        for s in outcome.splits {
            lines.append("gsm8k: \(s.input): \(s.records) records → \(outcome.outputDir)/\(s.name).jsonl.zst")
            if s.skipped > 0 {
                let more = s.skipped > s.skippedLines.count ? ", …" : ""
                let where_ = s.skippedLines.map(String.init).joined(separator: ", ")
                let details = "details in \(outcome.outputDir)/rejects.jsonl.zst"
                log.warning("\(s.input): \(s.skipped) row(s) skipped (line \(where_)\(more)); \(details)")
                skipped.append(.init(input: s.input, reason: "\(s.skipped) row(s) skipped (line \(where_)\(more))"))
            }
        }
        return StageResult(stage: name, status: outcome.skipped > 0 ? .ranWithSkips : .ran, lines: lines,
                           skipped: skipped)
    }
}
