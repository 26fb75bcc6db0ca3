import Core
import Foundation
import GSM8K

/// Errors of `pipeline decontaminate`, each naming the file (and line) at fault.
public enum DecontaminateError: PipelineError {
    /// A row of the `--eval` file that is not a JSON object with the text field.
    case badEvalRow(path: String, line: Int, reason: String)
    /// Neither a corpus nor a GSM8K training split to check.
    case noTrainingText(looked: [String])

    /// The one-line message.
    public var message: String {
        switch self {
        case let .badEvalRow(path, line, reason): return "\(path):\(line): \(reason)"
        case let .noTrainingText(looked):
            return "decontaminate: no training text to check (looked for \(looked.joined(separator: ", ")))"
        }
    }
}

/// The `decontaminate` stage: the evaluation set's n-grams against every training text of the run, the corpus
/// (`<text stage>/pages.jsonl.zst`, by document) and every GSM8K split but the evaluation split (by record).
/// A training text sharing an n-gram with an evaluation item is listed in `overlaps.jsonl.zst` and left out of
/// the filtered copies the training stages read: `corpus.txt.zst` (as ingest writes it, for `bpe-train` and
/// `tokenize`) and `<split>.jsonl.zst` (the kept lines of each GSM8K training split unchanged, for `sft` and
/// `grpo`). With `reportOnly` only the overlaps are written and the training stages read the unfiltered text.
public enum DecontaminateStage {
    /// The command, the config section and the folder.
    public static let name = "decontaminate"
    /// Bumped when the outputs change for the same inputs and parameters.
    public static let formatVersion = "1"

    /// What to check, and how.
    public struct Options: Sendable {
        /// The n-gram length in words.
        public var n = 13
        /// A JSON Lines file (plain or zstd) of evaluation items instead of the GSM8K split.
        public var evalFile: String?
        /// The text field of each `evalFile` row.
        public var field: String?
        /// The GSM8K split that is the evaluation set (when no `evalFile`) and is never training text.
        public var evalSplit = "test"
        /// List the overlaps only; write no filtered copies.
        public var reportOnly = false
        /// Run even when up to date.
        public var force = false
        /// Options of the defaults.
        public init() {}
    }

    /// What a run found.
    public struct Outcome: Sendable {
        /// False when the stage was up to date.
        public var ran = false
        /// The evaluation set, for the summary (`GSM8K test`, or the file and its field).
        public var evalName = ""
        /// Evaluation items read, and their distinct n-grams (whole items for the short ones).
        public var evalItems = 0
        public var evalNgrams = 0
        /// Training texts checked: corpus documents, GSM8K training records.
        public var documents = 0
        public var records = 0
        /// (training text, evaluation item) pairs sharing an n-gram.
        public var overlaps = 0
        /// Training texts sharing an n-gram with an evaluation item, and the evaluation items concerned.
        public var contaminatedDocuments = 0
        public var contaminatedRecords = 0
        public var contaminatedEvalItems = 0
        /// Training texts left out of the filtered copies (0 with `reportOnly`).
        public var removed = 0
        /// The stage's folder.
        public var outputDir = ""
    }

    /// The GSM8K training splits of the work directory: every `gsm8k/<split>.jsonl.zst` but the evaluation
    /// split and the rejects, in name order.
    static func trainingSplits(_ workdir: Workdir, evalSplit: String) -> [String] {
        FileSystem.listFiles(workdir.stageDir("gsm8k")).filter {
            !$0.contains("/") && $0.hasSuffix(".jsonl.zst") && $0 != "rejects.jsonl.zst"
                && $0 != evalSplit + ".jsonl.zst"
        }.sorted()
    }

    /// Runs the stage into `<workdir>/decontaminate` (unless up to date).
    public static func run(workdir: Workdir, options o: Options) throws -> Outcome {
        let evalPath = try o.evalFile ?? GSM8KStage.recordsFile(workdir.stageDir("gsm8k") + "/" + o.evalSplit)
        let text = workdir.textSource
        let pages = workdir.stageDir(text) + "/pages.jsonl.zst"
        let hasPages = FileSystem.exists(pages)
        let splits = trainingSplits(workdir, evalSplit: o.evalSplit)
        guard hasPages || !splits.isEmpty else {
            throw DecontaminateError.noTrainingText(looked: [pages, workdir.stageDir("gsm8k") + "/<split>.jsonl.zst"])
        }
        let splitPaths = splits.map { workdir.stageDir("gsm8k") + "/" + $0 }
        let evalName = o.evalFile.map { "\($0) (\(o.field ?? ""))" } ?? "GSM8K \(o.evalSplit)"
        let parameters = [
            "ngram": String(o.n), "eval": o.evalFile == nil ? "gsm8k:" + o.evalSplit : "file:" + (o.field ?? ""),
            "eval_split": o.evalSplit, "report_only": String(o.reportOnly), "text": text,
            "format_version": formatVersion,
        ]
        var outcome = Outcome(evalName: evalName, outputDir: workdir.stageDir(name))
        guard let run = try StageRun.begin(workdir: workdir, stage: name,
                                           inputs: [evalPath] + (hasPages ? [pages] : []) + splitPaths,
                                           parameters: parameters, force: o.force) else { return outcome }
        outcome.ran = true
        let index = try o.evalFile.map { try readEvalFile($0, field: o.field ?? "", n: o.n) }
            ?? readGSM8KEval(evalPath, n: o.n)
        outcome.evalItems = index.itemIDs.count
        outcome.evalNgrams = index.count
        if index.emptyItems > 0 {
            log.warning("\(evalPath): \(index.emptyItems) item(s) without any word, not checked")
        }

        let overlapsOut = try JSONLWriter<OverlapRecord>(path: run.output("overlaps.jsonl.zst"))
        var dirtyItems = Set<Int32>()
        var words = NormalizedWords()
        /// Looks one training text up; writes its overlaps; true when it is contaminated.
        func check(id: String, source: String) throws -> Bool {
            let found = index.overlaps(in: words)
            for f in found {
                dirtyItems.insert(f.item)
                try overlapsOut.write(OverlapRecord(trainID: id, trainSource: source,
                                                    evalID: index.itemIDs[Int(f.item)], ngram: f.ngram,
                                                    sharedNgrams: f.shared, removed: !o.reportOnly))
            }
            outcome.overlaps += found.count
            if !found.isEmpty && !o.reportOnly { outcome.removed += 1 }
            return !found.isEmpty
        }

        if hasPages {
            let corpus = o.reportOnly ? nil : try ZstdWriter(path: run.output("corpus.txt.zst"))
            var kept = 0
            try forEachDocument(pages) { doc, texts in
                outcome.documents += 1
                words.removeAll()
                for t in texts { words.append(t) }
                if try check(id: doc.docID, source: doc.source) {
                    outcome.contaminatedDocuments += 1
                    let fate = o.reportOnly ? "listed (report only)" : "left out of the training corpus"
                    log.notice("\(doc.source): shares a \(o.n)-gram with the evaluation set; \(fate)")
                } else if let corpus {
                    try corpus.write(CorpusLayout.entry(texts, index: kept))
                    kept += 1
                }
            }
            try corpus?.close()
        }

        let decoder = GSM8KRecord.decoder(requiring: [.id, .question, .rawAnswer])
        for (split, path) in zip(splits, splitPaths) {
            let out = o.reportOnly ? nil : try ZstdWriter(path: run.output(split))
            try ByteReader(path: path).forEachLine(keepNewline: true) { line, number in
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A }) { return }
                let r: GSM8KRecord
                do { r = try decoder.decode(GSM8KRecord.self, from: Data(buffer: line)) } catch {
                    throw CoreError.badRecord(path: path, line: number,
                                              reason: "invalid record: \(JSONLReader.describe(error))")
                }
                outcome.records += 1
                words.removeAll()
                words.append(r.question)
                words.append(r.rawAnswer)
                if try check(id: r.id, source: split) {
                    outcome.contaminatedRecords += 1
                } else if let out {
                    try out.write(UnsafeRawBufferPointer(line))
                    if line.last != 0x0A { try out.write([0x0A]) }
                }
            }
            try out?.close()
        }
        try overlapsOut.close()
        outcome.contaminatedEvalItems = dirtyItems.count
        run.records = [
            "eval_items": outcome.evalItems, "eval_ngrams": outcome.evalNgrams, "documents": outcome.documents,
            "records": outcome.records, "overlaps": outcome.overlaps,
            "contaminated_documents": outcome.contaminatedDocuments,
            "contaminated_records": outcome.contaminatedRecords,
            "contaminated_eval_items": outcome.contaminatedEvalItems, "removed": outcome.removed,
        ]
        try run.commit()
        return outcome
    }

    /// The evaluation items of a GSM8K records file: each record's question and worked answer (`raw_answer`).
    static func readGSM8KEval(_ path: String, n: Int) throws -> EvalNGrams {
        var index = EvalNGrams(n: n)
        let decoder = GSM8KRecord.decoder(requiring: [.id, .question, .rawAnswer])
        try JSONLReader.forEach(GSM8KRecord.self, path: path, decoder: decoder) { r, _ in
            var words = NormalizedWords(r.question)
            words.append(r.rawAnswer)
            index.add(id: r.id, words: words)
        }
        return index
    }

    /// The evaluation items of a JSON Lines file: the string `field` of each row; the id is the row's `id` (a
    /// string or an integer) when it has one, else `<file name>-<row>` (row counted from 0, as GSM8K's ids).
    static func readEvalFile(_ path: String, field: String, n: Int) throws -> EvalNGrams {
        var index = EvalNGrams(n: n)
        let stem = GSM8KStage.splitName(for: path)
        var row = 0
        try ByteReader(path: path).forEachLine { line, number in
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }
            guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: line)) else {
                throw DecontaminateError.badEvalRow(path: path, line: number, reason: "not valid JSON")
            }
            guard let dict = object as? [String: Any] else {
                throw DecontaminateError.badEvalRow(path: path, line: number, reason: "not a JSON object")
            }
            guard let text = dict[field] as? String else {
                let reason = dict[field] == nil ? "no field '\(field)'" : "field '\(field)' is not a string"
                throw DecontaminateError.badEvalRow(path: path, line: number, reason: reason)
            }
            let id: String
            if let s = dict["id"] as? String { id = s } else if let i = dict["id"] as? Int { id = String(i) } else {
                id = "\(stem)-\(row)"
            }
            index.add(id: id, words: NormalizedWords(text))
            row += 1
        }
        return index
    }

    /// Calls `body(first page, texts)` for each document of a pages file (its pages are consecutive).
    static func forEachDocument(_ path: String, _ body: (PageRecord, [String]) throws -> Void) throws {
        var first: PageRecord?
        var texts: [String] = []
        try JSONLReader.forEach(PageRecord.self, path: path) { page, _ in
            if let f = first, f.docID != page.docID || f.source != page.source {
                try body(f, texts)
                texts.removeAll(keepingCapacity: true)
                first = nil
            }
            if first == nil { first = page }
            texts.append(page.text)
        }
        if let f = first { try body(f, texts) }
    }
}
