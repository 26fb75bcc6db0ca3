import Core
import Foundation

/// The stage entry points behind the CLI commands.
public enum TokenizeStages {
    /// Default training input: the ingest stage's corpus.
    public static func defaultCorpus(_ workdir: Workdir) -> String {
        workdir.stageDir("ingest") + "/corpus.txt.zst"
    }

    /// `bpe-train`: trains on `files` and writes `tokenizer.json.zst`, `vocab.json.zst`, `merges.txt.zst`
    /// to the `tokenize` stage folder. Returns nil when up to date.
    @discardableResult
    public static func bpeTrain(workdir: Workdir, files: [String], options: TrainerOptions, force: Bool,
                                threads: Int = max(1, Machine.cores)) throws -> TrainSummary? {
        for f in files where !FileSystem.exists(f) { throw CoreError.notFound(path: f) }
        guard options.vocabSize > 0 else { throw TokenizeError.invalidOption("--vocab-size must be positive") }
        guard options.minFrequency >= 0 else { throw TokenizeError.invalidOption("--min-frequency must be >= 0") }
        guard !options.specialTokens.contains("") else { throw TokenizeError.invalidOption("special tokens must not be empty") }
        guard let run = try StageRun.begin(workdir: workdir, stage: "tokenize", inputs: files,
                                           parameters: options.parameters, force: force) else {
            return nil
        }
        keepHeapTrimmed()
        Core.log.debug("stage begun: rss \(residentMB()) MB")
        // The model lives only in this scope: its memory is returned before the commit.
        let summary: TrainSummary = try {
            let model = try BPETrainer.train(files: files, options: options, threads: threads) { Core.log.info("\($0)") }
            releaseFreeMemory()
            Core.log.debug("trained: rss \(residentMB()) MB")
            try write(model.tokenizerJSON(), to: run.output("tokenizer.json.zst"))
            Core.log.debug("tokenizer.json written: rss \(residentMB()) MB")
            try write(model.vocabJSON(), to: run.output("vocab.json.zst"))
            try write(model.mergesText(), to: run.output("merges.txt.zst"))
            return TrainSummary(tokens: model.tokens.count, merges: model.serializedMerges.count)
        }()
        releaseFreeMemory()
        Core.log.debug("outputs written: rss \(residentMB()) MB")
        run.records["vocab_size"] = summary.tokens
        run.records["merges"] = summary.merges
        try run.commit()
        Core.log.debug("committed: rss \(residentMB()) MB")
        return summary
    }

    /// What `bpeTrain` produced.
    public struct TrainSummary: Sendable {
        /// Vocabulary size actually reached.
        public var tokens: Int
        /// Merges in merges.txt.
        public var merges: Int
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        let w = try ZstdWriter(path: path)
        try w.write(bytes)
        try w.close()
    }

    /// `export tokenizer DIR`: the stage's files, decompressed, as a Hugging Face user expects them.
    public static func exportTokenizer(workdir: Workdir, to dir: String) throws {
        let stage = workdir.stageDir("tokenize")
        try FileSystem.makeDirectory(dir)
        for name in ["tokenizer.json", "vocab.json", "merges.txt"] {
            let src = stage + "/" + name + ".zst"
            guard FileSystem.exists(src) else {
                throw TokenizeError.badTokenizer(path: stage, reason: "no \(name).zst (run `pipeline bpe-train` first)")
            }
            try FileSystem.atomicWrite(try ByteReader(path: src).readAll(), to: dir + "/" + name)
        }
        print("wrote tokenizer.json, vocab.json, merges.txt to \(dir)")
    }

    /// `tokenize`: encodes the corpus line by line (as training reads it) into `tokens/tokens.bin.zst`.
    /// Returns (tokens written, lines whose invalid UTF-8 was replaced, text bytes read), or nil when up to date.
    @discardableResult
    public static func tokenize(workdir: Workdir, corpus: String?, tokenizer: String?, force: Bool,
                                threads: Int = max(1, Machine.cores)) throws
        -> (tokens: Int64, replaced: Int, bytes: Int64)? {
        let input = corpus ?? defaultCorpus(workdir)
        let tokPath = tokenizer ?? workdir.stageDir("tokenize")
        guard FileSystem.exists(input) else { throw CoreError.notFound(path: input) }
        let tokenizerFiles = BPETokenizer.files(path: tokPath)
        let tok = try BPETokenizer(path: tokPath)
        guard let run = try StageRun.begin(workdir: workdir, stage: "tokens", inputs: [input] + tokenizerFiles,
                                           parameters: ["segmentation": "lines", "format": "PTOK1"], force: force) else {
            return nil
        }
        let writer = try BackgroundTokenWriter(path: run.output("tokens.bin.zst"), vocabSize: tok.vocabSize)
        let enc = ParallelEncoder(tokenizer: tok, threads: threads)
        let progress = Core.Progress("tokenize", unit: "bytes")
        try enc.encodeLines(file: input, progress: progress) { try writer.append($0) }
        progress.finish()
        try writer.close()
        run.records["tokens"] = Int(writer.count)
        run.records["lines"] = enc.lines
        run.records["vocab_size"] = tok.vocabSize
        run.records["bytes_per_token"] = writer.bytesPerToken
        run.records["text_bytes"] = Int(enc.bytes)
        run.records["lines_with_invalid_utf8"] = enc.replacedLines
        try run.commit()
        if enc.replacedLines > 0 {
            Core.log.warning("\(input): \(enc.replacedLines) lines held invalid UTF-8 (replaced by U+FFFD before encoding)")
        }
        return (writer.count, enc.replacedLines, enc.bytes)
    }
}
