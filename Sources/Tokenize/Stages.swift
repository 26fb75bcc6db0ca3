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
                                threads: Int = max(1, Machine.cores)) throws -> TrainedBPE? {
        for f in files where !FileSystem.exists(f) { throw CoreError.notFound(path: f) }
        guard options.vocabSize > 0 else { throw TokenizeError.invalidOption("--vocab-size must be positive") }
        guard options.minFrequency >= 0 else { throw TokenizeError.invalidOption("--min-frequency must be >= 0") }
        guard let run = try StageRun.begin(workdir: workdir, stage: "tokenize", inputs: files,
                                           parameters: options.parameters, force: force) else {
            print("tokenize: up to date")
            return nil
        }
        let model = try BPETrainer.train(files: files, options: options, threads: threads) { Core.log.info("\($0)") }
        try write(model.tokenizerJSON(), to: run.output("tokenizer.json.zst"))
        try write(model.vocabJSON(), to: run.output("vocab.json.zst"))
        try write(model.mergesText(), to: run.output("merges.txt.zst"))
        run.records["vocab_size"] = model.tokens.count
        run.records["merges"] = model.serializedMerges.count
        try run.commit()
        print("tokenize: \(model.tokens.count) tokens, \(model.serializedMerges.count) merges -> \(workdir.stageDir("tokenize"))")
        return model
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
}
