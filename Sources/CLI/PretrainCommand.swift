import ArgumentParser
import Core
import Foundation
import Tokenize
import Train

struct PretrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "Pre-train a GPT-2 on the tokens stage's token stream (CPU, fp32, both cores).",
        discussion: """
        Reads <workdir>/tokens/tokens.bin.zst (or --tokens) and holds out its last 5% for validation. The model \
        is --config tiny (4 layers, 128 wide, 4 heads, 256 positions: the demo's smoke-test model), small \
        (6 layers, 384 wide, 6 heads, 512 positions), gpt2 (124M: 12 layers, \
        768 wide, 12 heads, 1024 positions), or a transformers GPT-2 config.json; the vocabulary size is the \
        token file's, the EOS id that of <|endoftext|> in the tokenize stage's tokenizer (else the last id). \
        Training: random windows of --seq tokens, --batch windows per micro-batch, --grad-accum micro-batches \
        per step; AdamW (β 0.9/0.95, weight decay --weight-decay on 2-D weights only), gradient clipping to \
        --max-grad-norm, linear warm-up over --warmup steps then cosine decay to 0 at --steps. No dropout.

        Writes <workdir>/pretrain/: config.json + model.safetensors.zst (transformers' GPT-2 layout; \
        `pipeline export model DIR` writes the plain folder), metrics.jsonl.zst (one record per step: step, \
        train_loss, val_loss every --eval-every steps and at the end, lr, grad_norm), \
        optimizer.safetensors.zst and trainer_state.json (for --resume). The folder is replaced atomically \
        every --save-every steps and at the end, so a killed run loses at most the steps since the last save; \
        --resume continues from it exactly as an uninterrupted run (same options required, --steps included \
        for the same schedule). Re-running with the same tokens and options continues an interrupted run by \
        itself (so `pipeline run` resumes after a kill); a finished one is up to date. Deterministic for a --seed (on the same machine and thread count).
        """)

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("tiny, small, gpt2, or a GPT-2 config.json.", valueName: "name|file")) var config = "small"
    @Option(help: "Optimizer steps.") var steps = 200
    @Option(help: "Sequences per micro-batch.") var batch = 8
    @Option(help: "Tokens per sequence.") var seq = 256
    @Option(name: .customLong("grad-accum"), help: "Micro-batches per optimizer step.") var gradAccum = 1
    @Option(help: "Peak learning rate.", transform: Finite.float) var lr: Float = 6e-4
    @Option(help: "Warm-up steps (default: 10% of --steps, at most 100).") var warmup: Int?
    @Option(name: .customLong("weight-decay"), help: "AdamW weight decay (2-D weights only).", transform: Finite.float) var weightDecay: Float = 0.1
    @Option(name: .customLong("max-grad-norm"), help: "Global gradient-norm clip (0: none).", transform: Finite.float) var maxGradNorm: Float = 1
    @Option(help: "Random seed (initialisation and batch sampling).") var seed: UInt64 = 1337
    @Flag(help: "Continue from the checkpoint in <workdir>/pretrain.") var resume = false
    @Option(name: .customLong("save-every"), help: "Checkpoint every N steps.") var saveEvery = 100
    @Option(name: .customLong("eval-every"), help: "Validation loss every N steps.") var evalEvery = 50
    @Option(name: .customLong("eval-batches"), help: "Batches per validation.") var evalBatches = 4
    @Option(help: ArgumentHelp("Token file (default <workdir>/tokens/tokens.bin.zst).", valueName: "file")) var tokens: String?
    @Option(help: ArgumentHelp("Tokenizer for the EOS id (default <workdir>/tokenize).", valueName: "dir")) var tokenizer: String?
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(name: .customLong("log-every"), help: "Print a progress line every N steps.") var logEvery = 10

    func validate() throws {
        guard steps >= 1, batch >= 1, seq >= 1, gradAccum >= 1, saveEvery >= 1, evalEvery >= 1, evalBatches >= 1, logEvery >= 1 else {
            throw ValidationError("--steps, --batch, --seq, --grad-accum, --save-every, --eval-every, --eval-batches and --log-every must be ≥ 1")
        }
        guard lr > 0, weightDecay >= 0, maxGradNorm >= 0 else { throw ValidationError("--lr must be > 0; --weight-decay and --max-grad-norm ≥ 0") }
    }

    func run() throws {
        global.apply()
        Compute.configure(threads: threads ?? Machine.cores)
        let work = global.work
        let tokensPath = tokens ?? work.stageDir("tokens") + "/tokens.bin.zst"
        guard FileSystem.exists(tokensPath) else { throw CoreError.notFound(path: tokensPath) }
        let vocab = try TokenFileReader(path: tokensPath).vocabSize
        let eos = ModelSupport.eosId(tokenizer: tokenizer ?? work.stageDir("tokenize"))
        var cfg: GPT2Config
        switch config {
        case "tiny": cfg = .tiny(vocabSize: vocab)
        case "small": cfg = .small(vocabSize: vocab)
        case "gpt2": cfg = .gpt2(vocabSize: vocab)
        default: cfg = try Checkpoint.readConfig(path: config)
        }
        if ["tiny", "small", "gpt2"].contains(config) {
            cfg.eosTokenId = eos ?? cfg.vocabSize - 1
            cfg.bosTokenId = cfg.eosTokenId
        }
        var o = PretrainOptions(config: cfg, configName: config)
        o.steps = steps; o.batch = batch; o.seq = seq; o.gradAccum = gradAccum; o.lr = lr
        o.warmup = warmup ?? min(100, steps / 10); o.weightDecay = weightDecay; o.maxGradNorm = maxGradNorm
        o.seed = seed; o.saveEvery = saveEvery; o.evalEvery = evalEvery; o.evalBatches = evalBatches
        try cfg.validate(path: config)
        let m = cfg.parameterCount ?? 0
        print("pretrain: GPT-2 \(cfg.nLayer)×\(cfg.nEmbd) (\(cfg.nHead) heads, \(cfg.nPositions) positions, vocab \(cfg.vocabSize)): \(m) parameters")
        let every = logEvery
        let result = try PretrainStage.run(workdir: work, tokensPath: tokensPath, options: o, resume: resume, force: global.force) { r in
            if r.step % every == 0 || r.val_loss != nil || r.step == 1 {
                var line = "step \(r.step)/\(o.steps) loss \(String(format: "%.4f", r.train_loss)) lr \(String(format: "%.2e", r.lr)) norm \(String(format: "%.3f", r.grad_norm)) \(Int(r.tokens_per_s)) tok/s"
                if let v = r.val_loss { line += " val \(String(format: "%.4f", v))" }
                print(line)
            }
        }
        guard let result else { print("pretrain: up to date"); return }
        let last = result.metrics.last
        print("pretrain: \(result.step) steps, train loss \(last.map { String(format: "%.4f", $0.train_loss) } ?? "-")"
              + (last?.val_loss.map { ", val loss " + String(format: "%.4f", $0) } ?? "") + " -> \(work.stageDir("pretrain"))")
    }
}

enum ModelSupport {
    /// The id of <|endoftext|> in a tokenizer, if the tokenizer loads and has it.
    static func eosId(tokenizer path: String) -> Int? {
        guard FileSystem.exists(path), let tok = try? BPETokenizer(path: path) else { return nil }
        let eos = Array("<|endoftext|>".utf8)
        return tok.tokens.firstIndex(of: eos)
    }

    static func loadModel(_ path: String) throws -> GPT2 {
        guard FileSystem.isDirectory(path) else { throw CoreError.notFound(path: path) }
        return try Checkpoint.load(directory: path)
    }
}
