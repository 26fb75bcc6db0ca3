import ArgumentParser
import Core
import Foundation
import GSM8K
import Metrics
import Tokenize

extension GRPOLossType: ExpressibleByArgument {}
extension RewardScaling: ExpressibleByArgument {}

/// Options shared by `sft` and `grpo` for the LoRA adapter.
public struct LoRAArguments: ParsableArguments {
    @Option(name: .customLong("lora-r"), help: "LoRA rank.") public var loraR = 8
    @Option(name: .customLong("lora-alpha"), help: "LoRA alpha (scaling = alpha / r).", transform: Finite.float)
    public var loraAlpha: Float = 16
    @Option(name: .customLong("lora-dropout"), help: "Dropout on the LoRA input while training.",
            transform: Finite.float)
    public var loraDropout: Float = 0.05
    @Option(help: "Target modules, comma-separated: c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj, c_proj (both), all.")
    public var target = "c_attn"

    /// The defaults.
    public init() {}

    /// The adapter's options; a usage error for a rank, dropout or target out of range.
    public func options() throws -> LoRAOptions {
        guard loraR >= 1, loraDropout >= 0, loraDropout < 1 else {
            throw ValidationError("--lora-r must be ≥ 1 and --lora-dropout in [0, 1)")
        }
        var o = LoRAOptions()
        o.r = loraR; o.alpha = loraAlpha; o.dropout = loraDropout
        do { o.targets = try LoRATarget.parse(target) } catch let e as TrainError { throw ValidationError(e.message) }
        return o
    }
}

/// Model, tokenizer and adapter lookups shared by the training stages and the tools that use their outputs.
public enum ModelSupport {
    /// The id of <|endoftext|> in a tokenizer, if the tokenizer loads and has it.
    public static func eosId(tokenizer path: String) -> Int? {
        guard FileSystem.exists(path), let tok = try? BPETokenizer(path: path) else { return nil }
        let eos = Array("<|endoftext|>".utf8)
        return tok.tokens.firstIndex(of: eos)
    }

    /// A GPT-2 folder in transformers' layout.
    public static func loadModel(_ path: String) throws -> GPT2 {
        guard FileSystem.isDirectory(path) else { throw CoreError.notFound(path: path) }
        return try Checkpoint.load(directory: path)
    }

    /// The tokenizer for a model: `explicit`, else the model folder's own (tokenizer.json, or vocab.json +
    /// merges.txt), else <workdir>/tokenize.
    public static func tokenizerPath(explicit: String?, modelDir: String, work: Workdir) -> String {
        if let explicit { return explicit }
        return BPETokenizer.files(path: modelDir).isEmpty ? work.stageDir("tokenize") : modelDir
    }

    /// The `--model` a run passes: the base model of `[inputs]`, if any (else the pretrain stage's).
    static func baseModelArguments(_ inputs: RunInputs) -> [String] {
        inputs.baseModel.isEmpty ? [] : ["--model", inputs.baseModel]
    }
}

private func fmt(_ format: String, _ value: Double) -> String { String(format: format, value) }
private func fmt(_ format: String, _ value: Float) -> String { String(format: format, value) }

/// `pipeline pretrain`.
extension PretrainStage: Stage {
    /// The options of `pipeline pretrain` and the keys of `[pretrain]`.
    public struct Arguments: ParsableArguments {
        @Option(help: ArgumentHelp("tiny, small, gpt2, or a GPT-2 config.json.", valueName: "name|file"))
        public var config = "small"
        @Option(help: "Optimizer steps.") public var steps = 200
        @Option(help: "Sequences per micro-batch.") public var batch = 8
        @Option(help: "Tokens per sequence.") public var seq = 256
        @Option(name: .customLong("grad-accum"), help: "Micro-batches per optimizer step.") public var gradAccum = 1
        @Option(help: "Peak learning rate.", transform: Finite.float) public var lr: Float = 6e-4
        @Option(help: "Warm-up steps (default: 10% of --steps, at most 100).") public var warmup: Int?
        @Option(name: .customLong("weight-decay"), help: "AdamW weight decay (2-D weights only).",
                transform: Finite.float)
        public var weightDecay: Float = 0.1
        @Option(name: .customLong("max-grad-norm"), help: "Global gradient-norm clip (0: none).",
                transform: Finite.float)
        public var maxGradNorm: Float = 1
        @Option(help: "Random seed (initialisation and batch sampling).") public var seed: UInt64 = 1337
        @Flag(help: "Continue from the checkpoint in <workdir>/pretrain.") public var resume = false
        @Option(name: .customLong("save-every"), help: "Checkpoint every N steps.") public var saveEvery = 100
        @Option(name: .customLong("eval-every"), help: "Validation loss every N steps.") public var evalEvery = 50
        @Option(name: .customLong("eval-batches"), help: "Batches per validation.") public var evalBatches = 4
        @Option(help: ArgumentHelp("Token file (default <workdir>/tokens/tokens.bin.zst).", valueName: "file"))
        public var tokens: String?
        @Option(help: ArgumentHelp("Tokenizer for the EOS id (default <workdir>/tokenize).", valueName: "dir"))
        public var tokenizer: String?
        @Option(help: "Threads (default: all cores).") public var threads: Int?
        @Option(name: .customLong("log-every"), help: "Print a progress line every N steps.") public var logEvery = 10
        @Flag(help: ArgumentHelp("At the end, print the steps' time per phase (data, forward, backward, optimizer) "
                                 + "with the forward and backward passes' GFLOP/s.")) public var profile = false

        /// The defaults.
        public init() {}

        /// Rejects counts below 1 and a learning rate, weight decay or clip out of range.
        public func validate() throws {
            guard steps >= 1, batch >= 1, seq >= 1, gradAccum >= 1, saveEvery >= 1, evalEvery >= 1, evalBatches >= 1,
                  logEvery >= 1 else {
                throw ValidationError("--steps, --batch, --seq, --grad-accum, --save-every, --eval-every, "
                                      + "--eval-batches and --log-every must be ≥ 1")
            }
            guard lr > 0, weightDecay >= 0, maxGradNorm >= 0 else {
                throw ValidationError("--lr must be > 0; --weight-decay and --max-grad-norm ≥ 0")
            }
        }
    }

    public static let name = "pretrain"
    public static let abstract = "Pre-train a GPT-2 on the tokens stage's token stream (CPU, fp32, both cores)."
    public static let discussion = """
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
        itself (so `pipeline run` resumes after a kill); a finished one is up to date. Deterministic for a --seed \
        (on the same machine and thread count).
        """

    /// Not needed when `[inputs]` names a base model.
    public static func notNeeded(inputs: RunInputs) -> String? {
        inputs.baseModel.isEmpty ? nil : "base model \(inputs.baseModel)"
    }

    /// Pre-trains with these options and reports the steps and the final losses.
    public static func run(_ a: Arguments, in context: StageContext) throws -> StageResult {
        Compute.configure(threads: a.threads ?? Machine.cores)
        let work = context.workdir
        let tokensPath = a.tokens ?? work.stageDir("tokens") + "/tokens.bin.zst"
        guard FileSystem.exists(tokensPath) else { throw CoreError.notFound(path: tokensPath) }
        let vocab = try TokenFileReader(path: tokensPath).vocabSize
        let eos = ModelSupport.eosId(tokenizer: a.tokenizer ?? work.stageDir("tokenize"))
        var cfg: GPT2Config
        switch a.config {
        case "tiny": cfg = .tiny(vocabSize: vocab)
        case "small": cfg = .small(vocabSize: vocab)
        case "gpt2": cfg = .gpt2(vocabSize: vocab)
        default: cfg = try Checkpoint.readConfig(path: a.config)
        }
        if ["tiny", "small", "gpt2"].contains(a.config) {
            cfg.eosTokenId = eos ?? cfg.vocabSize - 1
            cfg.bosTokenId = cfg.eosTokenId
        }
        var o = PretrainOptions(config: cfg, configName: a.config)
        o.steps = a.steps; o.batch = a.batch; o.seq = a.seq; o.gradAccum = a.gradAccum; o.lr = a.lr
        o.warmup = a.warmup ?? min(100, a.steps / 10); o.weightDecay = a.weightDecay; o.maxGradNorm = a.maxGradNorm
        o.seed = a.seed; o.saveEvery = a.saveEvery; o.evalEvery = a.evalEvery; o.evalBatches = a.evalBatches
        try cfg.validate(path: a.config)
        let m = cfg.parameterCount ?? 0
        context.say("pretrain: GPT-2 \(cfg.nLayer)×\(cfg.nEmbd) (\(cfg.nHead) heads, \(cfg.nPositions) positions, "
                    + "vocab \(cfg.vocabSize)): \(m) parameters")
        let every = a.logEvery
        let result = try run(workdir: work, tokensPath: tokensPath, options: o, resume: a.resume,
                             force: context.force) { r in
            if r.step % every == 0 || r.val_loss != nil || r.step == 1 {
                var line = "step \(r.step)/\(o.steps) loss \(fmt("%.4f", r.train_loss)) lr \(fmt("%.2e", r.lr)) "
                    + "norm \(fmt("%.3f", r.grad_norm)) \(Int(r.tokens_per_s)) tok/s"
                if let v = r.val_loss { line += " val \(fmt("%.4f", v))" }
                context.say(line)
            }
        }
        guard let result else { return upToDate }
        let last = result.metrics.last
        return StageResult(stage: name, status: .ran, lines: [
            "pretrain: \(result.step) steps, train loss \(last.map { fmt("%.4f", $0.train_loss) } ?? "-")"
                + (last?.val_loss.map { ", val loss " + fmt("%.4f", $0) } ?? "") + " -> \(work.stageDir("pretrain"))",
        ] + (a.profile ? result.profile.lines : []))
    }
}

/// `pipeline sft`.
extension SFTStage: Stage {
    /// The options of `pipeline sft` and the keys of `[sft]`.
    public struct Arguments: ParsableArguments {
        @OptionGroup public var lora: LoRAArguments
        @Option(help: ArgumentHelp("Base model folder (default <workdir>/pretrain).", valueName: "dir"))
        public var model: String?
        @Option(help: ArgumentHelp("gsm8k records (default <workdir>/decontaminate/train when decontaminate wrote it, "
                                   + "else <workdir>/gsm8k/train).", valueName: "path"))
        public var data: String?
        @Option(help: ArgumentHelp("Tokenizer (default: model folder, else <workdir>/tokenize).", valueName: "path"))
        public var tokenizer: String?
        @Option(help: "Passes over the data.") public var epochs = 1
        @Option(name: .customLong("max-steps"), help: "Stop after N optimizer steps (overrides --epochs).")
        public var maxSteps: Int?
        @Option(help: "Examples per micro-batch.") public var batch = 4
        @Option(name: .customLong("grad-accum"), help: "Micro-batches per optimizer step.") public var gradAccum = 1
        @Option(help: "Peak learning rate.", transform: Finite.float) public var lr: Float = 2e-4
        @Option(name: .customLong("warmup-ratio"), help: "Share of the steps for linear warm-up.",
                transform: Finite.float)
        public var warmupRatio: Float = 0.03
        @Option(name: .customLong("weight-decay"), help: "AdamW weight decay.", transform: Finite.float)
        public var weightDecay: Float = 0
        @Option(name: .customLong("max-grad-norm"), help: "Gradient-norm clip (0: none).", transform: Finite.float)
        public var maxGradNorm: Float = 1
        @Option(name: .customLong("max-length"), help: "Tokens per example (prompt + completion).")
        public var maxLength = 512
        @Option(name: .customLong("max-examples"), help: "Use only the first N records.") public var maxExamples: Int?
        @Option(help: "Random seed (LoRA init, dropout, shuffling).") public var seed: UInt64 = 42
        @Option(help: "Threads (default: all cores).") public var threads: Int?
        @Option(name: .customLong("log-every"), help: "Print a progress line every N steps.") public var logEvery = 10
        @Flag(help: ArgumentHelp("At the end, print the steps' time per phase (data, forward, backward, optimizer) "
                                 + "with the forward and backward passes' GFLOP/s.")) public var profile = false

        /// The defaults.
        public init() {}

        /// Rejects counts out of range and invalid LoRA options.
        public func validate() throws {
            guard epochs >= 1, batch >= 1, gradAccum >= 1, maxLength >= 2, logEvery >= 1, (maxSteps ?? 1) >= 1,
                  (maxExamples ?? 1) >= 1 else {
                throw ValidationError("--epochs, --batch, --grad-accum, --max-steps, --max-examples, --log-every "
                                      + "must be ≥ 1; --max-length ≥ 2")
            }
            guard lr > 0, warmupRatio >= 0, warmupRatio < 1, weightDecay >= 0, maxGradNorm >= 0 else {
                throw ValidationError("--lr must be > 0, --warmup-ratio in [0, 1), --weight-decay and "
                                      + "--max-grad-norm ≥ 0")
            }
            _ = try lora.options()
        }
    }

    public static let name = "sft"
    public static let abstract =
        "Supervised LoRA warm-up on GSM8K prompt_text → target_text (loss on completion tokens only)."
    public static let discussion = """
        Reads the gsm8k stage's records (--data, default <workdir>/gsm8k/train, or decontaminate's filtered copy \
        <workdir>/decontaminate/train once that stage has written one; a .jsonl(.zst) file or a split name \
        without extension), tokenises prompt_text and target_text with --tokenizer (default: the model \
        folder's tokenizer.json, else <workdir>/tokenize) and appends the model's EOS to the completion. The \
        base model (--model, default <workdir>/pretrain) is frozen; a LoRA (--lora-r, --lora-alpha, \
        --lora-dropout, --target) is trained with AdamW (β 0.9/0.999, --weight-decay), --batch examples per \
        micro-batch, --grad-accum micro-batches per step, clipping at --max-grad-norm, linear warm-up over \
        --warmup-ratio of the steps then cosine decay, for --epochs (or --max-steps). Sequences are truncated \
        to --max-length tokens; the loss is the mean cross-entropy over completion tokens (prompt and padding \
        positions are labelled −100, as TRL's completion-only loss).

        Writes <workdir>/sft/: adapter_config.json + adapter_model.safetensors (PEFT's layout: \
        PeftModel.from_pretrained loads it; `pipeline export merged DIR` merges it), metrics.jsonl.zst (per \
        step: step, epoch, loss, learning_rate, grad_norm, num_tokens, step_time) and manifest.json.
        """
    public static let wiredArguments: Set<String> = ["model"]

    /// The base model of `[inputs]`, if any.
    public static func runArguments(inputs: RunInputs, workdir: Workdir) -> [String] {
        ModelSupport.baseModelArguments(inputs)
    }

    /// Fine-tunes with these options and reports the steps and the first and last loss.
    public static func run(_ a: Arguments, in context: StageContext) throws -> StageResult {
        setvbuf(stdout, nil, _IOLBF, 0)   // a progress line per step, also into a log file
        Compute.configure(threads: a.threads ?? Machine.cores)
        let work = context.workdir
        let modelDir = a.model ?? work.stageDir("pretrain")
        guard FileSystem.isDirectory(modelDir) else { throw CoreError.notFound(path: modelDir) }
        let dataPath = try GSM8KStage.recordsFile(a.data ?? work.trainingRecords("train"))
        var o = SFTOptions()
        o.lora = try a.lora.options()
        o.epochs = a.epochs; o.maxSteps = a.maxSteps; o.batch = a.batch; o.gradAccum = a.gradAccum; o.lr = a.lr
        o.warmupRatio = a.warmupRatio; o.weightDecay = a.weightDecay; o.maxGradNorm = a.maxGradNorm
        o.maxLength = a.maxLength; o.maxExamples = a.maxExamples; o.seed = a.seed
        let tok = ModelSupport.tokenizerPath(explicit: a.tokenizer, modelDir: modelDir, work: work)
        let every = a.logEvery
        let t = try run(workdir: work, modelDir: modelDir, dataPath: dataPath, tokenizerPath: tok, options: o,
                        force: context.force) { m, total in
            if m.step % every == 0 || m.step == 1 || m.step == total {
                context.say("step \(m.step)/\(total) loss \(fmt("%.4f", m.loss)) lr \(fmt("%.2e", m.learning_rate)) "
                            + "norm \(fmt("%.3f", m.grad_norm)) \(fmt("%.2f", m.step_time)) s")
            }
        }
        guard let t else { return upToDate }
        let first = t.metrics.first?.loss ?? 0, last = t.metrics.last?.loss ?? 0
        return StageResult(stage: name, status: .ran, lines: [
            "sft: \(t.step) steps, loss \(fmt("%.4f", first)) -> \(fmt("%.4f", last)); "
                + "LoRA \(t.lora.parameterCount) parameters -> \(work.stageDir("sft"))",
        ] + (a.profile ? t.profile.lines : []))
    }
}

/// `pipeline grpo`.
extension GRPOStage: Stage {
    /// The options of `pipeline grpo` and the keys of `[grpo]`.
    public struct Arguments: ParsableArguments {
        @OptionGroup public var lora: LoRAArguments
        @Option(help: ArgumentHelp("Base model folder (default <workdir>/pretrain).", valueName: "dir"))
        public var model: String?
        @Option(help: ArgumentHelp("PEFT LoRA adapter to continue (e.g. <workdir>/sft).", valueName: "dir"))
        public var adapter: String?
        @Option(help: ArgumentHelp("gsm8k records (default <workdir>/decontaminate/train when decontaminate wrote it, "
                                   + "else <workdir>/gsm8k/train).", valueName: "path"))
        public var data: String?
        @Option(help: ArgumentHelp("Tokenizer (default: model folder, else <workdir>/tokenize).", valueName: "path"))
        public var tokenizer: String?
        @Option(name: .customLong("num-generations"), help: "Completions per prompt (G).") public var numGenerations = 2
        @Option(help: "Completions per micro-batch.") public var batch = 2
        @Option(name: .customLong("grad-accum"), help: "Micro-batches per optimizer step.") public var gradAccum = 4
        @Option(help: "Peak learning rate.", transform: Finite.float) public var lr: Float = 3e-5
        @Option(name: .customLong("warmup-ratio"), help: "Share of the steps for linear warm-up.",
                transform: Finite.float)
        public var warmupRatio: Float = 0.1
        @Option(name: .customLong("weight-decay"), help: "AdamW weight decay.", transform: Finite.float)
        public var weightDecay: Float = 0
        @Option(name: .customLong("max-grad-norm"), help: "Gradient-norm clip (0: none).", transform: Finite.float)
        public var maxGradNorm: Float = 1
        @Option(help: "Passes over the prompts.") public var epochs = 1
        @Option(name: .customLong("max-steps"), help: "Optimizer steps (overrides --epochs).") public var maxSteps: Int?
        @Option(name: .customLong("max-prompt-length"), help: "Prompt tokens kept (from the end).")
        public var maxPromptLength = 256
        @Option(name: .customLong("max-completion-length"), help: "Completion tokens at most.")
        public var maxCompletionLength = 200
        @Option(help: "Sampling temperature (also divides the logits of the loss, as TRL).", transform: Finite.double)
        public var temperature: Double = 1
        @Option(name: .customLong("top-p"), help: "Nucleus sampling mass.", transform: Finite.float)
        public var topP: Float = 1
        @Option(name: .customLong("top-k"), help: "Top-k sampling (0: off).") public var topK = 0
        @Option(help: "KL coefficient (0: no reference pass).", transform: Finite.double) public var beta: Double = 0.04
        @Option(help: "Clipping ε of the surrogate.", transform: Finite.double) public var epsilon: Double = 0.2
        @Option(name: .customLong("loss-type"), help: "dapo, grpo, bnpo or dr_grpo.")
        public var lossType: GRPOLossType = .dapo
        @Option(name: .customLong("scale-rewards"), help: "group, batch or none.")
        public var scaleRewards: RewardScaling = .group
        @Option(name: .customLong("reward-weights"), help: "Four comma-separated weights.")
        public var rewardWeights = "1,1,1,1"
        @Option(name: .customLong("max-examples"), help: "Use only the first N records.") public var maxExamples: Int?
        @Option(name: .customLong("save-every"), help: "Checkpoint every N steps.") public var saveEvery = 50
        @Option(name: .customLong("sample-every"), help: "Log a group of completions every N steps (0: never).")
        public var sampleEvery = 10
        @Option(name: .customLong("eval-every"),
                help: ArgumentHelp("Greedy accuracy on held-out questions before step 1, every N steps and at the "
                                   + "end (default: never)."))
        public var evalEvery: Int?
        @Option(name: .customLong("eval-limit"), help: "Held-out questions of --eval-every (the first N).")
        public var evalLimit = 100
        @Option(name: .customLong("eval-data"),
                help: ArgumentHelp("Held-out records of --eval-every (default <workdir>/gsm8k/test).",
                                   valueName: "path"))
        public var evalData: String?
        @Option(help: "Random seed.") public var seed: UInt64 = 42
        @Flag(help: "Continue from the checkpoint in <workdir>/grpo.") public var resume = false
        @Option(help: "Threads (default: all cores).") public var threads: Int?

        /// The defaults.
        public init() {}

        /// The trainer's options; a usage error for values out of range.
        public func options() throws -> GRPOOptions {
            var o = GRPOOptions()
            if adapter == nil { o.lora = try lora.options() }
            o.adapter = adapter
            let weights = rewardWeights.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard weights.count == 4, weights.allSatisfy({ $0?.isFinite == true }) else {
                throw ValidationError("--reward-weights needs four finite numbers, not \(rewardWeights)")
            }
            guard numGenerations >= 2, batch >= 1, gradAccum >= 1, (batch * gradAccum) % numGenerations == 0 else {
                throw ValidationError("--num-generations must be ≥ 2 and divide --batch × --grad-accum")
            }
            guard epochs >= 1, (maxSteps ?? 1) >= 1, maxPromptLength >= 1, maxCompletionLength >= 1, saveEvery >= 1,
                  sampleEvery >= 0, (maxExamples ?? 1) >= 1, (evalEvery ?? 1) >= 1, evalLimit >= 1 else {
                throw ValidationError("--epochs, --max-steps, --max-prompt-length, --max-completion-length, "
                                      + "--save-every, --max-examples, --eval-every, --eval-limit must be ≥ 1")
            }
            guard lr > 0, temperature > 0, topP > 0, topP <= 1, topK >= 0, beta >= 0, epsilon >= 0, warmupRatio >= 0,
                  warmupRatio < 1 else {
                throw ValidationError("--lr and --temperature must be > 0, --top-p in (0, 1], --top-k, --beta, "
                                      + "--epsilon ≥ 0, --warmup-ratio in [0, 1)")
            }
            o.loss.lossType = lossType; o.loss.beta = beta; o.loss.temperature = temperature
            o.loss.epsilonLow = epsilon; o.loss.epsilonHigh = epsilon; o.loss.maxCompletionLength = maxCompletionLength
            o.numGenerations = numGenerations; o.batch = batch; o.gradAccum = gradAccum; o.lr = lr
            o.warmupRatio = warmupRatio; o.weightDecay = weightDecay; o.maxGradNorm = maxGradNorm; o.epochs = epochs
            o.maxSteps = maxSteps; o.maxPromptLength = maxPromptLength; o.topP = topP; o.topK = topK
            o.scaleRewards = scaleRewards; o.rewardWeights = weights.map { $0! }; o.maxExamples = maxExamples
            o.saveEvery = saveEvery; o.sampleEvery = sampleEvery; o.seed = seed
            if let evalEvery { o.evalEvery = evalEvery; o.evalLimit = evalLimit }
            return o
        }

        /// Rejects the options `options()` rejects.
        public func validate() throws { _ = try options() }
    }

    public static let name = "grpo"
    public static let abstract =
        "GRPO on GSM8K prompts with a LoRA and the four reward functions (TRL GRPOTrainer semantics, CPU)."
    public static let discussion = """
        Reads the gsm8k stage's records (--data, default <workdir>/gsm8k/train, or decontaminate's filtered copy \
        <workdir>/decontaminate/train once that stage has written one: prompt_text and answer), the \
        base model --model (default <workdir>/pretrain) and either a fresh LoRA (--lora-r, --lora-alpha, \
        --lora-dropout, --target) or a PEFT adapter to continue (--adapter, e.g. <workdir>/sft). Each optimizer \
        step samples --batch × --grad-accum completions: that many / --num-generations prompts (shuffled per \
        epoch, left-truncated to --max-prompt-length tokens), each --num-generations times, with the KV cache \
        (--temperature, --top-k, --top-p, at most --max-completion-length tokens, kept up to and including the \
        first EOS). Rewards are the weighted (--reward-weights, NaN-aware) sum of match_format_exactly, \
        match_format_approximately, check_answer and check_numbers; advantages (r − group mean) / (std + 1e-4) \
        with the Bessel std of the group or batch (--scale-rewards group|batch|none). The generation batch is \
        shuffled and split into --grad-accum micro-batches of --batch completions. Loss per token \
        −min(ρA, clip(ρ, 1−ε, 1+ε)A) + β·ρ·k3 (ε 0.2; k3 = e^(ref−logp) − (ref−logp) − 1 \
        against the base \
        model with the adapter disabled, or against a frozen copy of --adapter as TRL 1.x does; --beta 0 skips \
        the reference pass), log-probabilities of logits/temperature, normalised per --loss-type \
        (dapo|grpo|bnpo|dr_grpo). AdamW (β 0.9/0.999, --weight-decay), clipping at --max-grad-norm, linear \
        warm-up over --warmup-ratio of the steps then linear decay.

        Writes <workdir>/grpo/ (replaced atomically every --save-every steps and at the end): \
        adapter_config.json + adapter_model.safetensors (PEFT layout), metrics.jsonl.zst (per step, TRL's \
        names: step, epoch, loss, grad_norm, learning_rate, reward, reward_std, rewards/<func>/mean|std, \
        completions/mean_length, completions/clipped_ratio, kl (β ≠ 0), entropy, frac_reward_zero_std, \
        step_time, generation_time), samples.jsonl.zst (every --sample-every steps: the first group's prompt, \
        answer, completions, rewards, advantages), optimizer.safetensors.zst and trainer_state.json (generator \
        states and data position: --resume continues exactly).

        --eval-every N decodes greedy answers to the first --eval-limit held-out records (--eval-data, default \
        <workdir>/gsm8k/test) before the first step, every N steps and after the last, and scores them with the \
        four rewards: evals.jsonl.zst (step, questions, accuracy, format_exact, reward and the first questions' \
        answers) and eval/accuracy, eval/format_exact in that step's metrics. It uses no randomness, so the \
        training itself is the same as without it.
        """
    public static let wiredArguments: Set<String> = ["model", "adapter"]

    /// The base model, and the SFT adapter when there is one (GRPO continues it).
    public static func runArguments(inputs: RunInputs, workdir: Workdir) -> [String] {
        ModelSupport.baseModelArguments(inputs)
            + (inputs.willExist("sft", "adapter_config.json", in: workdir) ? ["--adapter", workdir.stageDir("sft")] : [])
    }

    /// Trains with these options and reports the steps and the mean reward of the first and last steps.
    public static func run(_ a: Arguments, in context: StageContext) throws -> StageResult {
        setvbuf(stdout, nil, _IOLBF, 0)   // a progress line per step, also into a log file
        Compute.configure(threads: a.threads ?? Machine.cores)
        let work = context.workdir
        let modelDir = a.model ?? work.stageDir("pretrain")
        guard FileSystem.isDirectory(modelDir) else { throw CoreError.notFound(path: modelDir) }
        if let adapter = a.adapter, !FileSystem.isDirectory(adapter) { throw CoreError.notFound(path: adapter) }
        let dataPath = try GSM8KStage.recordsFile(a.data ?? work.trainingRecords("train"))
        let o = try a.options()
        let tok = ModelSupport.tokenizerPath(explicit: a.tokenizer, modelDir: modelDir, work: work)
        let evalData = try o.evalEvery.map { _ in
            try GSM8KStage.recordsFile(a.evalData ?? work.stageDir("gsm8k") + "/test")
        }
        let t = try run(workdir: work, modelDir: modelDir, dataPath: dataPath, tokenizerPath: tok, options: o,
                        evalData: evalData, resume: a.resume, force: context.force) { tr, m in
            let s = Int(m["step"] ?? 0)
            context.say("step \(s)/\(tr.totalSteps) reward \(fmt("%.3f", m["reward"] ?? .nan)) ± "
                        + "\(fmt("%.3f", m["reward_std"] ?? 0)) loss \(fmt("%.4f", m["loss"] ?? 0)) "
                        + "kl \(fmt("%.4f", m["kl"] ?? 0)) len \(fmt("%.1f", m["completions/mean_length"] ?? 0)) "
                        + "\(fmt("%.1f", m["step_time"] ?? 0)) s (gen \(fmt("%.1f", m["generation_time"] ?? 0)) s)"
                        + (m.evalAccuracy.map { " eval accuracy \(fmt("%.1f", $0 * 100))%" } ?? ""))
        }
        guard let t else { return upToDate }
        let r = t.metrics.compactMap { $0["reward"] }
        let k = min(20, max(1, r.count / 2))
        let n = Double(max(1, min(k, r.count)))
        let first = r.prefix(k).reduce(0, +) / n, last = r.suffix(k).reduce(0, +) / n
        let evals = t.evals.first.flatMap { a in t.evals.last.map { b in
            ["  greedy accuracy on \(b.questions) held-out questions: \(fmt("%.1f", a.accuracy * 100))% at step "
             + "\(a.step), \(fmt("%.1f", b.accuracy * 100))% at step \(b.step)"]
        } } ?? []
        return StageResult(stage: name, status: .ran, lines: [
            "grpo: \(t.step) steps; mean reward first \(k) steps \(fmt("%.3f", first)), last \(k) steps "
                + "\(fmt("%.3f", last)) -> \(work.stageDir("grpo"))",
        ] + evals)
    }
}

/// `pipeline eval`.
extension EvalStage: ShardedStage {
    /// The options of `pipeline eval` and the keys of `[eval]`.
    public struct Arguments: ParsableArguments {
        @Option(help: ArgumentHelp("Model folder (default <workdir>/pretrain).", valueName: "dir"))
        public var model: String?
        @Option(help: ArgumentHelp("PEFT LoRA adapter applied to the model (e.g. <workdir>/sft or <workdir>/grpo).",
                                   valueName: "dir"))
        public var adapter: String?
        @Option(help: ArgumentHelp("Tokenizer folder or file (default: the model folder's, else <workdir>/tokenize).",
                                   valueName: "path"))
        public var tokenizer: String?
        @Option(help: ArgumentHelp("GSM8K records: a file, or a split such as artifacts/gsm8k/test "
                                   + "(default <workdir>/gsm8k/test).", valueName: "path"))
        public var data: String?
        @Option(help: "Questions to evaluate, in file order (0: all).") public var limit = 200
        @Option(name: .customLong("max-new-tokens"), help: "Tokens to generate per answer at most.")
        public var maxNewTokens = 128
        @Option(help: "Questions decoded together.") public var batch = 8
        @Option(help: ArgumentHelp("Also score the answers against each record's reference reasoning with these "
                                   + "text metrics (bleu, chrf, rouge, qa; as `pipeline score`) into metrics.json.",
                                   valueName: "list"))
        public var metrics = ""
        @Option(help: "Threads (default: all cores).") public var threads: Int?

        /// The defaults.
        public init() {}

        /// Rejects a negative limit and counts below 1.
        public func validate() throws {
            if !metrics.isEmpty {
                let names: [MetricName]
                do { names = try MetricName.parse(metrics) } catch let e as MetricsError { throw ValidationError(e.message) }
                if names.contains(.semsim) {
                    throw ValidationError("--metrics: semsim needs the embedder; score eval/completions.jsonl.zst "
                                          + "with `pipeline score --metrics semsim`")
                }
            }
            guard limit >= 0 else { throw ValidationError("--limit must be ≥ 0") }
            guard maxNewTokens >= 1, batch >= 1 else {
                throw ValidationError("--max-new-tokens and --batch must be ≥ 1")
            }
        }
    }

    public static let name = "eval"
    public static let abstract =
        "Score a model's greedy answers to held-out GSM8K questions with the four reward functions."
    public static let discussion = """
        Reads the gsm8k stage's records (--data, default <workdir>/gsm8k/test), takes the first --limit questions \
        (0: all), encodes each record's prompt_text (left-truncated to leave room for the answer), decodes greedily \
        up to --max-new-tokens or the model's EOS, and scores the text with match_format_exactly, \
        match_format_approximately, check_answer and check_numbers (as `pipeline reward`; markers from the gsm8k \
        manifest). The model is --model (default <workdir>/pretrain: a GPT-2 folder in transformers' layout), \
        with the PEFT LoRA adapter --adapter applied when given (`pipeline sft`/`grpo` write one); \
        the tokenizer is the model folder's own when it has tokenizer.json, else --tokenizer (default \
        <workdir>/tokenize).

        Writes <workdir>/eval/: completions.jsonl.zst (id, completion, tokens, rewards per function, reward: \
        their sum), summary.json (questions, reward and reward_std, accuracy = share of check_answer 3.0, \
        format_exact = share matching the format exactly, rewards/<name>/mean, mean_completion_tokens) and the \
        manifest (records questions, exact_answers, format_exact, reward_milli). Greedy decoding makes it \
        deterministic; up to date while the data, model and options are unchanged.
        """
    public static let wiredArguments: Set<String> = ["model", "adapter"]

    /// The base model, and the newest adapter: GRPO's, else SFT's, else none.
    public static func runArguments(inputs: RunInputs, workdir: Workdir) -> [String] {
        let adapter = ["grpo", "sft"].first { inputs.willExist($0, "adapter_config.json", in: workdir) }
        return ModelSupport.baseModelArguments(inputs) + (adapter.map { ["--adapter", workdir.stageDir($0)] } ?? [])
    }

    /// Evaluates the model and reports its scores.
    public static func run(_ a: Arguments, in context: StageContext) throws -> StageResult {
        let (source, o) = try prepare(a, context)
        guard let s = try execute(source, options: o, shard: nil, force: context.force)?.summary else {
            return upToDate
        }
        return summaryResult(s, o, data: source.data, context)
    }

    /// Shard I/N answers the questions of its blocks (whole decoding batches); `merge` scores them all.
    public static func runShard(_ a: Arguments, shard: Shard, in context: StageContext) throws -> StageResult {
        let (source, o) = try prepare(a, context)
        let what = "eval shard \(shard)"
        guard let r = try execute(source, options: o, shard: shard, force: context.force) else {
            return StageResult(stage: what, status: .upToDate)
        }
        let dir = context.workdir.stageDir(Workdir.shardStage(folder, shard))
        return StageResult(stage: what, status: .ran, lines: ["\(what): \(r.answers) answers -> \(dir)"])
    }

    public static func merge(_ a: Arguments, shards: Int, in context: StageContext) throws -> StageResult {
        let (source, o) = try prepare(a, context)
        guard let s = try merge(source, options: o, shards: shards, force: context.force) else { return upToDate }
        return summaryResult(s, o, data: source.data, context)
    }

    static func summaryResult(_ s: Summary, _ o: Options, data: String, _ context: StageContext) -> StageResult {
        let dir = context.workdir.stageDir("eval")
        return StageResult(stage: name, status: .ran, lines: [
            "eval: \(s.questions) questions, reward \(fmt("%.3f", s.reward)) ± \(fmt("%.3f", s.rewardStd)), "
                + "accuracy \(fmt("%.1f", s.accuracy * 100))%, format exact \(fmt("%.1f", s.formatExact * 100))%, "
                + "\(fmt("%.1f", s.meanCompletionTokens)) tokens per answer -> \(dir)",
        ] + RewardFunction.allCases.map { f in "  \(f.logKey): \(fmt("%.4f", s.means[f.logKey] ?? 0))" }
          + (o.metrics.isEmpty ? [] : ["  text metrics against the reference reasoning: \(dir)/metrics.json"])
          + ["  questions " + context.workdir.decontaminationStatement(evalData: data)])
    }

    /// The model (loaded only when the stage is not up to date), tokenizer, questions and options of a run.
    static func prepare(_ a: Arguments, _ context: StageContext) throws -> (Source, Options) {
        Compute.configure(threads: a.threads ?? Machine.cores)
        let work = context.workdir
        let modelDir = a.model ?? work.stageDir("pretrain")
        guard FileSystem.isDirectory(modelDir) else { throw CoreError.notFound(path: modelDir) }
        if let adapter = a.adapter, !FileSystem.isDirectory(adapter) { throw CoreError.notFound(path: adapter) }
        let load = { () throws -> GPT2 in
            let net = try ModelSupport.loadModel(modelDir)
            if let adapter = a.adapter { try LoRA.load(directory: adapter, into: net) }
            return net
        }
        let dataPath = try GSM8KStage.recordsFile(a.data ?? work.stageDir("gsm8k") + "/test")
        let tokPath = ModelSupport.tokenizerPath(explicit: a.tokenizer, modelDir: modelDir, work: work)
        let tok = try BPETokenizer(path: tokPath)
        var o = Options()
        o.limit = a.limit; o.maxNewTokens = a.maxNewTokens; o.batch = a.batch
        o.metrics = a.metrics.isEmpty ? [] : try MetricName.parse(a.metrics)
        o.markers = RewardScoring.markers(forData: dataPath) ?? .standard
        // Named portably: a model inside the work directory is recorded as <workdir>/…, so moving the work
        // directory changes neither the outputs nor the stage's freshness.
        func portable(_ p: String) -> String {
            p.hasPrefix(work.path + "/") ? "<workdir>" + p.dropFirst(work.path.count) : p
        }
        let adapterFiles = a.adapter.map { d in
            ["adapter_config.json", "adapter_model.safetensors"].map { d + "/" + $0 }
        } ?? []
        let source = Source(workdir: work, loadModel: load, modelName: portable(modelDir),
                            adapterName: a.adapter.map(portable),
                            modelInputs: Checkpoint.modelFiles(modelDir) + adapterFiles, tokenizer: tok,
                            tokenizerInputs: BPETokenizer.files(path: tokPath), data: dataPath)
        return (source, o)
    }
}
