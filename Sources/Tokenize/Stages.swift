import Core
import Foundation

/// The stage entry points behind the CLI commands.
public enum TokenizeStages {
    /// Default training input: the corpus of the text stage (`Workdir.textSource`: dedup, else ingest).
    public static func defaultCorpus(_ workdir: Workdir) -> String {
        workdir.stageDir(workdir.textSource) + "/corpus.txt.zst"
    }

    /// `bpe-train`: trains on `files` and writes `tokenizer.json.zst`, `vocab.json.zst`, `merges.txt.zst`
    /// to the `tokenize` stage folder. Returns nil when up to date.
    @discardableResult
    public static func bpeTrain(workdir: Workdir, files: [String], options: TrainerOptions, force: Bool,
                                threads: Int = max(1, Machine.cores)) throws -> TrainSummary? {
        try checkTraining(files: files, options: options)
        guard let run = try StageRun.begin(workdir: workdir, stage: "tokenize", inputs: files,
                                           parameters: options.parameters, force: force) else {
            return nil
        }
        let counter = try BPETrainer.count(files: files, options: options, threads: threads)
        return try train(run, counter: counter, options: options)
    }

    /// The map of a sharded `bpe-train`: shard `shard` counts the words of its blocks (1 MB of whole lines, numbered
    /// across the files) into `tokenize/shards/I-of-N/counts.bin.zst`. Returns the distinct words, nil when up to
    /// date.
    @discardableResult
    public static func countShard(workdir: Workdir, files: [String], options: TrainerOptions, shard: Shard,
                                  force: Bool, threads: Int = max(1, Machine.cores),
                                  blockSize: Int = 1 << 20) throws -> Int? {
        try checkTraining(files: files, options: options)
        var parameters = options.parameters
        parameters["shard"] = shard.description
        guard let run = try StageRun.begin(workdir: workdir, stage: Workdir.shardStage("tokenize", shard),
                                           inputs: files, parameters: parameters, force: force) else {
            return nil
        }
        let counter = try BPETrainer.count(files: files, options: options, threads: threads, blockSize: blockSize) {
            shard.owns(block: $0)
        }
        let counts = counter.serializedCounts()
        try write(counts, to: run.output("counts.bin.zst"))
        run.records["lines"] = counter.lines
        try run.commit()
        return counts.count
    }

    /// The reduce of a sharded `bpe-train`: the shards' counts summed, then the merges — the same tokenizer files,
    /// byte for byte, as `bpeTrain` on the same files. Nil when up to date.
    @discardableResult
    public static func mergeBPE(workdir: Workdir, files: [String], options: TrainerOptions, shards: Int,
                                force: Bool) throws -> TrainSummary? {
        try checkTraining(files: files, options: options)
        let dirs = try ShardMerge.checkShards(workdir: workdir, folder: "tokenize", shards: shards, inputs: files,
                                              parameters: options.parameters)
        guard let run = try StageRun.begin(workdir: workdir, stage: "tokenize", inputs: files,
                                           parameters: options.parameters, force: force) else {
            return nil
        }
        let counter = WordCounter(addPrefixSpace: options.addPrefixSpace, threads: 1)
        for dir in dirs {
            let path = dir + "/counts.bin.zst"
            try counter.addCounts(try ByteReader(path: path).readAll(), path: path)
        }
        return try train(run, counter: counter, options: options)
    }

    static func checkTraining(files: [String], options: TrainerOptions) throws {
        for f in files where !FileSystem.exists(f) { throw CoreError.notFound(path: f) }
        guard options.vocabSize > 0 else { throw TokenizeError.invalidOption("--vocab-size must be positive") }
        guard options.minFrequency >= 0 else { throw TokenizeError.invalidOption("--min-frequency must be >= 0") }
        guard !options.specialTokens.contains("") else {
            throw TokenizeError.invalidOption("special tokens must not be empty")
        }
    }

    /// Trains on `counter`'s counts and commits the tokenizer files of `run`.
    static func train(_ run: StageRun, counter: WordCounter, options: TrainerOptions) throws -> TrainSummary {
        keepHeapTrimmed()
        Core.log.debug("stage begun: rss \(residentMB()) MB")
        // The model lives only in this scope: its memory is returned before the commit.
        let summary: TrainSummary = try {
            let model = try BPETrainer.train(counter: counter, options: options) { Core.log.info("\($0)") }
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
                                threads: Int = max(1, Machine.cores), shard: Shard? = nil,
                                blockSize: Int = 4 << 20) throws -> (tokens: Int64, replaced: Int, bytes: Int64)? {
        let input = corpus ?? defaultCorpus(workdir)
        let tokPath = tokenizer ?? workdir.stageDir("tokenize")
        guard FileSystem.exists(input) else { throw CoreError.notFound(path: input) }
        let tokenizerFiles = BPETokenizer.files(path: tokPath)
        let tok = try BPETokenizer(path: tokPath)
        var parameters = tokensParameters
        if let shard { parameters["shard"] = shard.description }
        let stage = shard.map { Workdir.shardStage("tokens", $0) } ?? "tokens"
        guard let run = try StageRun.begin(workdir: workdir, stage: stage, inputs: [input] + tokenizerFiles,
                                           parameters: parameters, force: force) else {
            return nil
        }
        let writer = try BackgroundTokenWriter(path: run.output("tokens.bin.zst"), vocabSize: tok.vocabSize)
        let enc = ParallelEncoder(tokenizer: tok, threads: threads)
        let progress = Core.Progress("tokenize", unit: "bytes")
        var blocks = shard.map { ShardBlocks(shard: $0) }
        try enc.encodeLines(file: input, progress: progress, blockSize: blockSize,
                            owns: shard.map { s in { s.owns(block: $0) } },
                            block: { blocks?.add(block: $0, lines: $1) }) { try writer.append($0) }
        progress.finish()
        try writer.close()
        if let blocks { try FileSystem.atomicWrite(try JSON.encode(blocks), to: run.output("blocks.json")) }
        run.records = tokensRecords(tokens: Int(writer.count), lines: enc.lines, vocabSize: tok.vocabSize,
                                    bytesPerToken: writer.bytesPerToken, textBytes: Int(enc.bytes),
                                    invalid: enc.replacedLines)
        try run.commit()
        if enc.replacedLines > 0 {
            Core.log.warning("\(input): \(enc.replacedLines) lines held invalid UTF-8 (replaced by U+FFFD before encoding)")
        }
        return (writer.count, enc.replacedLines, enc.bytes)
    }

    static let tokensParameters = ["segmentation": "lines", "format": "PTOK1"]

    static func tokensRecords(tokens: Int, lines: Int, vocabSize: Int, bytesPerToken: Int, textBytes: Int,
                              invalid: Int) -> [String: Int] {
        ["tokens": tokens, "lines": lines, "vocab_size": vocabSize, "bytes_per_token": bytesPerToken,
         "text_bytes": textBytes, "lines_with_invalid_utf8": invalid]
    }

    /// `tokens/tokens.bin.zst` from the `shards` shards of `tokenize`, byte-identical to `tokenize`'s; nil when up
    /// to date. The shards' token files are read back block by block in order into one writer.
    @discardableResult
    public static func mergeTokens(workdir: Workdir, corpus: String?, tokenizer: String?, shards: Int,
                                   force: Bool) throws -> (tokens: Int64, replaced: Int, bytes: Int64)? {
        let input = corpus ?? defaultCorpus(workdir)
        let tokPath = tokenizer ?? workdir.stageDir("tokenize")
        guard FileSystem.exists(input) else { throw CoreError.notFound(path: input) }
        let inputs = [input] + BPETokenizer.files(path: tokPath)
        let dirs = try ShardMerge.checkShards(workdir: workdir, folder: "tokens", shards: shards, inputs: inputs,
                                              parameters: tokensParameters)
        guard let run = try StageRun.begin(workdir: workdir, stage: "tokens", inputs: inputs,
                                           parameters: tokensParameters, force: force) else {
            return nil
        }
        let manifests = dirs.map { try? Manifest.load(path: $0 + "/manifest.json") }
        func sum(_ key: String) -> Int { manifests.reduce(0) { $0 + ($1?.records[key] ?? 0) } }
        let vocabSize = manifests.first??.records["vocab_size"] ?? 0
        let writer = try BackgroundTokenWriter(path: run.output("tokens.bin.zst"), vocabSize: vocabSize)
        let readers = try dirs.map { try TokenFileReader(path: $0 + "/tokens.bin.zst") }
        try ShardMerge.forEachBlock(shardDirs: dirs) { shard, count in
            var left = count
            while left > 0 {
                let ids = try readers[shard].read(max: min(left, 1 << 20))
                guard !ids.isEmpty else { throw CoreError.truncated(path: dirs[shard] + "/tokens.bin.zst") }
                try writer.append(ids)
                left -= ids.count
            }
        }
        try writer.close()
        run.records = tokensRecords(tokens: Int(writer.count), lines: sum("lines"), vocabSize: vocabSize,
                                    bytesPerToken: writer.bytesPerToken, textBytes: sum("text_bytes"),
                                    invalid: sum("lines_with_invalid_utf8"))
        try run.commit()
        return (writer.count, sum("lines_with_invalid_utf8"), Int64(sum("text_bytes")))
    }
}
