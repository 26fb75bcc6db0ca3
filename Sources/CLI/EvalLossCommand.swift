import ArgumentParser
import Core
import Foundation
import Tokenize
import Train

/// The options `score perplexity` and its alias `eval-loss` share.
struct PerplexityOptions: ParsableArguments {
    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Model folder (default <workdir>/pretrain).", valueName: "dir")) var model: String?
    @Option(help: ArgumentHelp("PEFT LoRA adapter applied to the model (ours or PEFT's).", valueName: "dir"))
    var adapter: String?
    @Option(help: ArgumentHelp("Token file (default <workdir>/tokens/tokens.bin.zst).", valueName: "file"))
    var tokens: String?
    @Option(help: ArgumentHelp("A text file to encode with --tokenizer and score instead of --tokens.",
                               valueName: "file"))
    var text: String?
    @Option(help: ArgumentHelp("Tokenizer for --text (default <workdir>/tokenize).", valueName: "path"))
    var tokenizer: String?
    @Option(help: "Tokens the window advances by.") var stride: Int?
    @Option(help: "Windows per forward pass.") var batch = 8
    @Option(name: .customLong("max-tokens"), help: "Evaluate at most this many predictions.") var maxTokens: Int?
    @Flag(help: "Print one JSON object.") var json = false
    @Option(help: ArgumentHelp("Also write {\"perplexity\": {…}} to <workdir>/score/<name>.json.", valueName: "name"))
    var name: String?
    @Option(help: "Threads (default: all cores).") var threads: Int?

    func validate() throws {
        guard batch >= 1, (stride ?? 1) >= 1, (maxTokens ?? 1) >= 1 else {
            throw ValidationError("--batch, --stride and --max-tokens must be ≥ 1")
        }
        if tokens != nil, text != nil { throw ValidationError("give --tokens or --text, not both") }
        if let name, name.isEmpty || name.contains("/") || name.hasPrefix(".") {
            throw ValidationError("--name must be a plain file name (no '/', not starting with '.')")
        }
    }

    /// Loads the model, evaluates windows of `window(model)` tokens advancing by --stride (default
    /// `defaultStride(window)`) and prints the result.
    func run(window: (GPT2) -> Int, defaultStride: (Int) -> Int) throws {
        global.apply()
        Compute.configure(threads: threads ?? Machine.cores)
        let work = global.work
        let m = try ModelSupport.loadModel(model ?? work.stageDir("pretrain"))
        if let adapter { try LoRA.load(directory: adapter, into: m) }
        let w = window(m), s = stride ?? defaultStride(w)
        guard w >= 2, w - 1 <= m.config.nPositions else {
            throw ValidationError("the window must be 2…\(m.config.nPositions) tokens (the model's positions)")
        }
        guard s <= w else { throw ValidationError("--stride \(s) is longer than the window (\(w) tokens)") }
        let r: LossReport
        if let text {
            let tok = try BPETokenizer(path: tokenizer ?? work.stageDir("tokenize"))
            let ids = tok.encode(String(decoding: try ByteReader(path: text).readAll(), as: UTF8.self))
            r = try EvalLoss.run(model: m, ids: ids, name: text, window: w, stride: s, batch: batch,
                                 maxTokens: maxTokens)
        } else {
            let path = tokens ?? work.stageDir("tokens") + "/tokens.bin.zst"
            r = try EvalLoss.run(model: m, tokensPath: path, window: w, stride: s, batch: batch, maxTokens: maxTokens)
        }
        struct Out: Encodable {
            let loss: Double, perplexity: Double
            let tokens: Int, windows: Int, window: Int, stride: Int
        }
        let out = Out(loss: r.loss, perplexity: r.perplexity, tokens: r.tokens, windows: r.windows, window: w,
                      stride: s)
        if json {
            print(String(decoding: try JSON.encode(out), as: UTF8.self))
        }
        if let name {
            struct Named: Encodable { let perplexity: Out }
            let dir = work.stageDir("score")
            try FileSystem.makeDirectory(dir)
            try FileSystem.atomicWrite(try JSON.encode(Named(perplexity: out)) + [0x0A], to: dir + "/\(name).json")
        }
        if !json {
            print("loss: \(String(format: "%.6f", r.loss))")
            print("perplexity: \(String(format: "%.4f", r.perplexity))")
            print("tokens: \(r.tokens)")
            print("windows: \(r.windows) of \(w) tokens, stride \(s)")
        }
    }
}

struct ScorePerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Mean token cross-entropy and perplexity of a GPT-2 with a sliding window.",
        discussion: """
        As the transformers guide "Perplexity of fixed-length models" computes it: windows of --window tokens \
        (default: the model's positions) starting every --stride tokens (default: half the window); each window \
        scores only the tokens after the previous window's end, the rest of it is context (the first window \
        scores all but its first token), until a window reaches the end. loss = the sum of every scored token's \
        cross-entropy (nats) over their count (the guide weights each window's mean by its count minus one, a \
        slightly different mean); perplexity = e^loss. --stride equal to the window gives non-overlapping windows. \
        Input: --tokens (a PTOK token file, default <workdir>/tokens/tokens.bin.zst) or --text FILE encoded with \
        --tokenizer. `pipeline eval-loss` is the same code with non-overlapping windows by default.
        """)

    @OptionGroup var options: PerplexityOptions
    @Option(help: "Tokens per window (default: the model's positions).") var window: Int?

    func validate() throws {
        if let window, window < 2 { throw ValidationError("--window must be ≥ 2") }
    }

    func run() throws {
        try options.run(window: { window ?? $0.config.nPositions }, defaultStride: { max(1, $0 / 2) })
    }
}

struct EvalLossCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-loss",
        abstract: "Mean next-token loss and perplexity of a GPT-2 model on a token file (score perplexity).",
        discussion: """
        An alias of `pipeline score perplexity` with its old defaults: windows of --seq predictions (seq + 1 \
        tokens; default: the model's positions, at most 512) advancing by --stride (default --seq), so \
        consecutive non-overlapping windows, each predicting every token after its first (the last token of a \
        window starts the next). Prints loss (mean cross-entropy in nats over all predicted tokens), perplexity \
        (e^loss), tokens and windows; --json prints them as one JSON object.
        """)

    @OptionGroup var options: PerplexityOptions
    @Option(help: "Predictions per window (default: the model's positions, at most 512).") var seq: Int?

    func validate() throws {
        if let seq, seq < 1 { throw ValidationError("--seq must be ≥ 1") }
    }

    func run() throws {
        try options.run(window: { min(seq ?? 512, $0.config.nPositions) + 1 }, defaultStride: { $0 - 1 })
    }
}
