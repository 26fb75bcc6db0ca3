import ArgumentParser
import Core
import Foundation
import GSM8K

/// The reasoning/solution marker options shared by `gsm8k` and `reward`.
struct MarkerOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Marker opening the worked solution (default <start_working_out>).", valueName: "text"))
    var reasoningStart: String?

    @Option(name: .long, help: ArgumentHelp("Marker closing the worked solution (default <end_working_out>).", valueName: "text"))
    var reasoningEnd: String?

    @Option(name: .long, help: ArgumentHelp("Marker opening the final answer (default <SOLUTION>).", valueName: "text"))
    var solutionStart: String?

    @Option(name: .long, help: ArgumentHelp("Marker closing the final answer (default </SOLUTION>).", valueName: "text"))
    var solutionEnd: String?

    func validate() throws { _ = try markers() }

    var isEmpty: Bool { reasoningStart == nil && reasoningEnd == nil && solutionStart == nil && solutionEnd == nil }

    /// The given markers over `base`.
    func markers(over base: ReasoningMarkers = .standard) throws -> ReasoningMarkers {
        let m = ReasoningMarkers(reasoningStart: reasoningStart ?? base.reasoningStart,
                                 reasoningEnd: reasoningEnd ?? base.reasoningEnd,
                                 solutionStart: solutionStart ?? base.solutionStart,
                                 solutionEnd: solutionEnd ?? base.solutionEnd)
        if let problem = m.problem { throw ValidationError(problem) }
        return m
    }

    /// Warns when a marker holds regular-expression metacharacters: the notebook pastes the markers into its
    /// regexes unescaped, so its functions would read them as patterns; ours match them literally.
    func warnAboutMetacharacters(_ m: ReasoningMarkers) {
        let meta = Set(".^$*+?{}[]\\|()")
        for marker in m.all where marker.contains(where: { meta.contains($0) }) {
            log.warning("marker \(marker) holds regular-expression metacharacters; the rewards match it literally, where the notebook's regexes would read it as a pattern")
        }
    }
}

struct GSM8KCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gsm8k",
        abstract: "Extract GSM8K rows into prompts, answers and targets for GRPO and supervised warm-up.",
        discussion: """
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
        """)

    @Argument(help: ArgumentHelp("GSM8K files (.jsonl, .jsonl.zst or .json).", valueName: "file"))
    var files: [String]

    @Option(name: .long, help: ArgumentHelp("Name of the output split (only with one input file).", valueName: "name"))
    var split: String?

    @OptionGroup var markerOptions: MarkerOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if split != nil && files.count != 1 {
            throw ValidationError("--split names the output of one input file; \(files.count) were given")
        }
    }

    func run() throws {
        global.apply()
        let markers = try markerOptions.markers()
        let outcome = try GSM8KStage.run(workdir: global.work, files: files, split: split, markers: markers,
                                         force: global.force)
        guard outcome.ran else {
            print("gsm8k: up to date")
            return
        }
        for s in outcome.splits {
            print("gsm8k: \(s.input): \(s.records) records → \(outcome.outputDir)/\(s.name).jsonl.zst")
            if s.skipped > 0 {
                let more = s.skipped > s.skippedLines.count ? ", …" : ""
                log.warning("\(s.input): \(s.skipped) row(s) skipped (line \(s.skippedLines.map(String.init).joined(separator: ", "))\(more)); details in \(outcome.outputDir)/rejects.jsonl.zst")
            }
        }
        if outcome.skipped > 0 { throw StageExit(status: .finishedWithSkips) }
    }
}
