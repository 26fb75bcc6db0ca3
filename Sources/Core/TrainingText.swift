import Foundation

/// Where the training stages find their text: the decontaminate stage's filtered copies when it wrote them,
/// otherwise the stages that made the text. Reading through these keeps a leaked evaluation question out of
/// training whenever `pipeline decontaminate` has run (without `--report-only`).
extension Workdir {
    /// The pretraining corpus (`bpe-train`, `tokenize`): `decontaminate/corpus.txt.zst` when the decontaminate
    /// stage wrote one, else the text stage's `corpus.txt.zst`.
    public var trainingCorpus: String {
        let filtered = stageDir("decontaminate") + "/corpus.txt.zst"
        if FileSystem.exists(manifestPath("decontaminate")) && FileSystem.exists(filtered) { return filtered }
        return stageDir(textSource) + "/corpus.txt.zst"
    }

    /// A GSM8K training split for `sft` and `grpo` (a split path as `GSM8KStage.recordsFile` takes it):
    /// `decontaminate/<split>` when the decontaminate stage wrote a filtered copy of it, else `gsm8k/<split>`.
    public func trainingRecords(_ split: String) -> String {
        let filtered = stageDir("decontaminate") + "/" + split
        if FileSystem.exists(manifestPath("decontaminate")) && FileSystem.exists(filtered + ".jsonl.zst") {
            return filtered
        }
        return stageDir("gsm8k") + "/" + split
    }
}

extension Workdir {
    /// Whether the evaluation questions in `data` were decontaminated against the training data, from the
    /// decontaminate stage's manifest (its first input is the evaluation set it checked): one line for the eval
    /// stage's summary and the report.
    public func decontaminationStatement(evalData data: String) -> String {
        guard let m = manifest("decontaminate"), let checked = m.inputs.first else {
            return "not decontaminated: pipeline decontaminate has not run in this work directory"
        }
        guard let sha = try? Hashing.sha256(path: data), sha == checked.sha256 else {
            return "not decontaminated: decontaminate checked \(checked.path), not these questions"
        }
        let n = m.parameters["ngram"] ?? "13"
        let texts = (m.records["contaminated_documents"] ?? 0) + (m.records["contaminated_records"] ?? 0)
        let items = m.records["contaminated_eval_items"] ?? 0
        if m.parameters["report_only"] == "true" {
            return "not decontaminated (report only): \(texts) training texts share a \(n)-gram with \(items) of "
                + "these questions and were kept"
        }
        return "decontaminated: the training data was checked for \(n)-grams of these questions; \(texts) training "
            + "texts sharing one with \(items) of them were removed"
    }
}
