import ArgumentParser
import Core
import Foundation

/// `pipeline bpe-train`: the tokenizer, written to the `tokenize` folder.
public enum BPETrainStage: ShardedStage {
    /// The options of `pipeline bpe-train` and the keys of `[bpe-train]`.
    public struct Arguments: ParsableArguments {
        @Argument(help: ArgumentHelp("Text files (plain or zstd).", valueName: "file"))
        public var files: [String] = []

        @Option(name: .long, help: "Largest vocabulary, special tokens and alphabet included.")
        public var vocabSize = 50257

        @Option(name: .long, help: "Smallest pair count that still produces a merge.")
        public var minFrequency: Int64 = 50

        @Option(name: .long, help: ArgumentHelp("Comma-separated special tokens, ids 0.. in this order (empty: none).",
                                                 valueName: "list"))
        public var specialTokens = "<pad>,<unk>,<s>"

        @Flag(name: .long,
              help: "Add a space before each line that does not start with one (ByteLevel add_prefix_space).")
        public var addPrefixSpace = false

        @Flag(name: .long, help: "Do not force all 256 byte symbols into the vocabulary; only bytes seen.")
        public var noInitialAlphabet = false

        @Option(name: .long, help: "Worker threads for counting (default: all cores).")
        public var threads: Int?

        /// The defaults.
        public init() {}

        /// Rejects a non-positive vocabulary size, a negative frequency, an empty special token and no threads.
        public func validate() throws {
            if vocabSize <= 0 { throw ValidationError("--vocab-size must be positive") }
            if minFrequency < 0 { throw ValidationError("--min-frequency must be >= 0") }
            if !specialTokens.isEmpty
                && specialTokens.split(separator: ",", omittingEmptySubsequences: false).contains("") {
                throw ValidationError("--special-tokens: empty token in \"\(specialTokens)\"")
            }
            if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
        }
    }

    public static let name = "bpe-train"
    public static let folder = "tokenize"
    public static let abstract = "Train a byte-level BPE tokenizer, identical to Hugging Face tokenizers' BpeTrainer."
    public static let discussion = """
        Reads text files (plain or .zst; default: <workdir>/decontaminate/corpus.txt.zst when the decontaminate \
        stage wrote it, else the corpus.txt.zst of dedup when it ran, else of ingest) line by line as \
        tokenizers' train(files) does, pre-tokenizes each line with GPT-2's ByteLevel pattern and learns merges. \
        The result equals, merge for merge and id for id, Tokenizer(BPE()) with ByteLevel pre-tokenizer and \
        decoder trained by BpeTrainer(vocab_size, min_frequency, special_tokens, \
        initial_alphabet=ByteLevel.alphabet()).

        Ids: special tokens first (in the given order), then the byte alphabet sorted by symbol, then merges. \
        Training stops at --vocab-size tokens, when no pair is left, or when the best pair occurs fewer than \
        --min-frequency times.

        Outputs in <workdir>/tokenize/: tokenizer.json.zst (byte-identical to tokenizer.save()), \
        vocab.json.zst and merges.txt.zst (as model.save()); `pipeline export tokenizer DIR` writes them plain.
        """

    /// Trains the tokenizer and reports its vocabulary and merges.
    public static func run(_ a: Arguments, in context: StageContext) throws -> StageResult {
        let (inputs, o) = try prepare(a, context)
        guard let s = try TokenizeStages.bpeTrain(workdir: context.workdir, files: inputs, options: o,
                                                  force: context.force, threads: max(1, a.threads ?? Machine.cores))
        else { return upToDate }
        return trained(s, context)
    }

    /// Shard I/N counts the words of its blocks (the map); `merge` sums the counts and trains (the reduce).
    public static func runShard(_ a: Arguments, shard: Shard, in context: StageContext) throws -> StageResult {
        let (inputs, o) = try prepare(a, context)
        let what = "bpe-train shard \(shard)"
        guard let bytes = try TokenizeStages.countShard(workdir: context.workdir, files: inputs, options: o,
                                                        shard: shard, force: context.force,
                                                        threads: max(1, a.threads ?? Machine.cores)) else {
            return StageResult(stage: what, status: .upToDate)
        }
        let dir = context.workdir.stageDir(Workdir.shardStage(folder, shard))
        return StageResult(stage: what, status: .ran, lines: ["\(what): word counts (\(bytes) bytes) -> \(dir)"])
    }

    public static func merge(_ a: Arguments, shards: Int, in context: StageContext) throws -> StageResult {
        let (inputs, o) = try prepare(a, context)
        guard let s = try TokenizeStages.mergeBPE(workdir: context.workdir, files: inputs, options: o, shards: shards,
                                                  force: context.force) else { return upToDate }
        return trained(s, context)
    }

    static func trained(_ s: TokenizeStages.TrainSummary, _ context: StageContext) -> StageResult {
        StageResult(stage: name, status: .ran, lines: [
            "tokenize: \(s.tokens) tokens, \(s.merges) merges -> \(context.workdir.stageDir("tokenize"))",
        ])
    }

    /// The input files (pipes copied once) and the trainer's options.
    static func prepare(_ a: Arguments, _ context: StageContext) throws -> ([String], TrainerOptions) {
        let work = context.workdir
        var o = TrainerOptions()
        o.vocabSize = a.vocabSize
        o.minFrequency = a.minFrequency
        o.specialTokens = a.specialTokens.isEmpty
            ? [] : a.specialTokens.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        o.addPrefixSpace = a.addPrefixSpace
        o.initialAlphabet = !a.noInitialAlphabet
        // Pipes and process substitution are copied once (the stage hashes its inputs, then reads them).
        let inputs = try (a.files.isEmpty ? [TokenizeStages.defaultCorpus(work)] : a.files).map {
            try Spool.readable($0, in: work.path)
        }
        return (inputs, o)
    }
}

/// `pipeline tokenize`: the corpus as token ids, written to the `tokens` folder.
public enum TokenizeStage: ShardedStage {
    /// The options of `pipeline tokenize` and the keys of `[tokenize]`.
    public struct Arguments: ParsableArguments {
        @Option(name: .long, help: ArgumentHelp("Corpus file (plain or zstd).", valueName: "file"))
        public var corpus: String?

        @Option(name: .long, help: ArgumentHelp("Tokenizer folder or tokenizer.json.", valueName: "path"))
        public var tokenizer: String?

        @Option(name: .long, help: "Worker threads (default: all cores).")
        public var threads: Int?

        @Flag(name: .long, help: ArgumentHelp("Encode the tokenizer's added tokens (e.g. <|endoftext|> or reasoning "
                                              + "markers given to bpe-train --special-tokens) as their single ids."))
        public var special = false

        /// The defaults.
        public init() {}
    }

    public static let name = "tokenize"
    public static let folder = "tokens"
    public static let abstract = "Encode the ingested corpus with the trained tokenizer into tokens.bin.zst."
    public static let discussion = """
        Reads <workdir>/decontaminate/corpus.txt.zst when the decontaminate stage wrote it, else the \
        corpus.txt.zst of dedup when it ran, else of ingest (or --corpus), and encodes it line by line, each \
        line (with its \\n) on its own, exactly as bpe-train pre-tokenizes it; documents stay separated by their blank line \
        ("\\n\\n"), which becomes newline tokens. Uses the tokenize stage (or --tokenizer).

        Output <workdir>/tokens/tokens.bin.zst: a 16-byte header (ASCII "PTOK", UInt32 LE version 1, UInt32 \
        LE bytes per token: 2 when the vocabulary has at most 65,536 ids else 4, UInt32 LE vocabulary size), \
        then the ids little-endian; zstd-compressed. Lines with invalid UTF-8 are encoded after U+FFFD \
        replacement and counted in the manifest (lines_with_invalid_utf8). With --special, occurrences of the \
        tokenizer's added tokens become their ids (as tokenizers' encode does; without it every character is plain \
        text, as tiktoken's encode_ordinary), so a marker given to bpe-train --special-tokens is one token.
        """

    /// Encodes the corpus and reports the tokens written.
    public static func run(_ a: Arguments, in context: StageContext) throws -> StageResult {
        try execute(a, shard: nil, in: context)
    }

    public static func runShard(_ a: Arguments, shard: Shard, in context: StageContext) throws -> StageResult {
        try execute(a, shard: shard, in: context)
    }

    static func execute(_ a: Arguments, shard: Shard?, in context: StageContext) throws -> StageResult {
        let work = context.workdir
        let corpus = try a.corpus.map { try Spool.readable($0, in: work.path) }
        let what = shard.map { "tokenize shard \($0)" } ?? name
        guard let r = try TokenizeStages.tokenize(workdir: work, corpus: corpus, tokenizer: a.tokenizer,
                                                  force: context.force, threads: max(1, a.threads ?? Machine.cores),
                                                  shard: shard, special: a.special) else {
            return StageResult(stage: what, status: .upToDate)
        }
        let dir = work.stageDir(shard.map { Workdir.shardStage(folder, $0) } ?? folder)
        return StageResult(stage: what, status: .ran, lines: [
            (shard == nil ? "tokens" : what) + ": \(r.tokens) tokens from \(r.bytes) bytes -> \(dir)/tokens.bin.zst",
        ])
    }

    public static func merge(_ a: Arguments, shards: Int, in context: StageContext) throws -> StageResult {
        let work = context.workdir
        let corpus = try a.corpus.map { try Spool.readable($0, in: work.path) }
        guard let r = try TokenizeStages.mergeTokens(workdir: work, corpus: corpus, tokenizer: a.tokenizer,
                                                     shards: shards, force: context.force,
                                                     special: a.special) else {
            return upToDate
        }
        return StageResult(stage: name, status: .ran, lines: [
            "tokens: \(r.tokens) tokens from \(r.bytes) bytes -> \(work.stageDir(folder))/tokens.bin.zst",
        ])
    }
}
