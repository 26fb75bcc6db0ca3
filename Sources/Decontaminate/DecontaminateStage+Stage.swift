import ArgumentParser
import Core
import Foundation
import GSM8K

/// `pipeline decontaminate`: evaluation items' 13-grams against the run's training texts.
extension DecontaminateStage: Stage {
    /// The options of `pipeline decontaminate` and the keys of `[decontaminate]`.
    public struct Arguments: ParsableArguments {
        @Option(name: .long, help: ArgumentHelp("N-gram length in normalised words (GPT-3: 13).", valueName: "n"))
        public var ngram = 13

        @Option(name: .long, help: ArgumentHelp("Evaluation items from this JSON Lines file (plain or zstd) "
                                                 + "instead of the GSM8K split (needs --field).", valueName: "file"))
        public var eval: String?

        @Option(name: .long, help: ArgumentHelp("The text field of each --eval row.", valueName: "name"))
        public var field: String?

        @Option(name: .long, help: ArgumentHelp("GSM8K split that is the evaluation set and never training text.",
                                                 valueName: "split"))
        public var evalSplit = "test"

        @Flag(name: .long, help: "Only list the overlaps; write no filtered copies (training reads everything).")
        public var reportOnly = false

        /// The defaults.
        public init() {}

        /// Rejects an n-gram length below 1, and --eval without --field or --field without --eval.
        public func validate() throws {
            if ngram < 1 { throw ValidationError("--ngram must be at least 1") }
            if (eval == nil) != (field == nil) { throw ValidationError("--eval FILE and --field NAME go together") }
            if evalSplit.isEmpty || evalSplit.contains("/") { throw ValidationError("--eval-split: not a split name") }
        }
    }

    public static let abstract =
        "Remove training texts that share a 13-gram with an evaluation item (the GPT-3 paper's contamination rule)."
    public static let discussion = """
        The evaluation set is the GSM8K split --eval-split (default <workdir>/gsm8k/test.jsonl.zst: each record's \
        question and raw_answer as one item), or the string field --field of each row of --eval FILE (JSON \
        Lines, plain or zstd; id: the row's "id", else <file name>-<row>). The training texts are the corpus's \
        documents (<workdir>/ingest/pages.jsonl.zst, or dedup's once that stage has run; a document's pages \
        together) and every record of every other GSM8K split (train, and a synth-gsm8k split given as an \
        input; question and raw_answer).

        Text is normalised as lm-evaluation-harness's Janitor does: ASCII letters lower-cased, ASCII \
        punctuation deleted, split on whitespace. A training text is contaminated when it contains one of an \
        item's --ngram-word n-grams, or the whole item when the item has fewer words (GPT-3, section 4).

        Writes <workdir>/decontaminate/: overlaps.jsonl.zst (one record per contaminated training text and \
        evaluation item: train_id, train_source, eval_id, ngram = the first shared n-gram, shared_ngrams, \
        removed) and, unless --report-only, the filtered copies the training stages then read instead: \
        corpus.txt.zst (ingest's layout, for bpe-train and tokenize) and <split>.jsonl.zst (the kept lines \
        unchanged, for sft and grpo). The manifest records the counts.
        """

    /// Not needed when no GSM8K input is the evaluation split (the default evaluation set).
    public static func notNeeded(inputs: RunInputs) -> String? {
        inputs.gsm8k.contains { GSM8KStage.splitName(for: $0) == "test" }
            ? nil : "no GSM8K test split in [inputs] gsm8k (the evaluation set)"
    }

    /// Checks the training texts and reports what was found and removed.
    public static func run(_ a: Arguments, in context: StageContext) throws -> StageResult {
        var o = Options()
        o.n = a.ngram; o.evalFile = a.eval; o.field = a.field; o.evalSplit = a.evalSplit
        o.reportOnly = a.reportOnly; o.force = context.force
        let r = try run(workdir: context.workdir, options: o)
        guard r.ran else { return upToDate }
        return StageResult(stage: name, status: .ran, lines: summary(r, n: a.ngram, reportOnly: a.reportOnly))
    }

    /// The outcome lines.
    static func summary(_ r: Outcome, n: Int, reportOnly: Bool) -> [String] {
        let what = reportOnly ? "listed (report only: training reads them)" : "removed from the training copies"
        return [
            "decontaminate: \(r.evalItems) eval items (\(r.evalName), \(r.evalNgrams) \(n)-grams) against "
                + "\(r.documents) documents and \(r.records) GSM8K training records -> \(r.outputDir)",
            "  \(r.contaminatedDocuments) documents and \(r.contaminatedRecords) records share a \(n)-gram with "
                + "\(r.contaminatedEvalItems) eval items (\(r.overlaps) overlaps): \(what)",
        ]
    }
}
