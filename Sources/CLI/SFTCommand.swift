import ArgumentParser
import Core
import Foundation
import GSM8K
import Train
import Tokenize

/// Options shared by `sft` and `grpo` for the LoRA adapter.
struct LoRAArguments: ParsableArguments {
    @Option(name: .customLong("lora-r"), help: "LoRA rank.") var loraR = 8
    @Option(name: .customLong("lora-alpha"), help: "LoRA alpha (scaling = alpha / r).", transform: Finite.float) var loraAlpha: Float = 16
    @Option(name: .customLong("lora-dropout"), help: "Dropout on the LoRA input while training.", transform: Finite.float) var loraDropout: Float = 0.05
    @Option(help: "Target modules, comma-separated: c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj, c_proj (both), all.") var target = "c_attn"

    func options() throws -> LoRAOptions {
        guard loraR >= 1, loraDropout >= 0, loraDropout < 1 else { throw ValidationError("--lora-r must be ≥ 1 and --lora-dropout in [0, 1)") }
        var o = LoRAOptions()
        o.r = loraR; o.alpha = loraAlpha; o.dropout = loraDropout
        do { o.targets = try LoRATarget.parse(target) } catch let e as TrainError { throw ValidationError(e.message) }
        return o
    }
}

extension ModelSupport {
    /// The tokenizer for a model: --tokenizer, else the model folder's own (tokenizer.json, or vocab.json +
    /// merges.txt), else <workdir>/tokenize.
    static func tokenizerPath(explicit: String?, modelDir: String, work: Workdir) -> String {
        if let explicit { return explicit }
        return BPETokenizer.files(path: modelDir).isEmpty ? work.stageDir("tokenize") : modelDir
    }
}

struct SFTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sft",
        abstract: "Supervised LoRA warm-up on GSM8K prompt_text → target_text (loss on completion tokens only).",
        discussion: """
        Reads the gsm8k stage's records (--data, default <workdir>/gsm8k/train; a .jsonl(.zst) file or a split \
        name without extension), tokenises prompt_text and target_text with --tokenizer (default: the model \
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
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var lora: LoRAArguments
    @Option(help: ArgumentHelp("Base model folder (default <workdir>/pretrain).", valueName: "dir")) var model: String?
    @Option(help: ArgumentHelp("gsm8k records (default <workdir>/gsm8k/train).", valueName: "path")) var data: String?
    @Option(help: ArgumentHelp("Tokenizer (default: model folder, else <workdir>/tokenize).", valueName: "path")) var tokenizer: String?
    @Option(help: "Passes over the data.") var epochs = 1
    @Option(name: .customLong("max-steps"), help: "Stop after N optimizer steps (overrides --epochs).") var maxSteps: Int?
    @Option(help: "Examples per micro-batch.") var batch = 4
    @Option(name: .customLong("grad-accum"), help: "Micro-batches per optimizer step.") var gradAccum = 1
    @Option(help: "Peak learning rate.", transform: Finite.float) var lr: Float = 2e-4
    @Option(name: .customLong("warmup-ratio"), help: "Share of the steps for linear warm-up.", transform: Finite.float) var warmupRatio: Float = 0.03
    @Option(name: .customLong("weight-decay"), help: "AdamW weight decay.", transform: Finite.float) var weightDecay: Float = 0
    @Option(name: .customLong("max-grad-norm"), help: "Gradient-norm clip (0: none).", transform: Finite.float) var maxGradNorm: Float = 1
    @Option(name: .customLong("max-length"), help: "Tokens per example (prompt + completion).") var maxLength = 512
    @Option(name: .customLong("max-examples"), help: "Use only the first N records.") var maxExamples: Int?
    @Option(help: "Random seed (LoRA init, dropout, shuffling).") var seed: UInt64 = 42
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(name: .customLong("log-every"), help: "Print a progress line every N steps.") var logEvery = 10

    func validate() throws {
        guard epochs >= 1, batch >= 1, gradAccum >= 1, maxLength >= 2, logEvery >= 1, (maxSteps ?? 1) >= 1, (maxExamples ?? 1) >= 1 else {
            throw ValidationError("--epochs, --batch, --grad-accum, --max-steps, --max-examples, --log-every must be ≥ 1; --max-length ≥ 2")
        }
        guard lr > 0, warmupRatio >= 0, warmupRatio < 1, weightDecay >= 0, maxGradNorm >= 0 else {
            throw ValidationError("--lr must be > 0, --warmup-ratio in [0, 1), --weight-decay and --max-grad-norm ≥ 0")
        }
        _ = try lora.options()
    }

    func run() throws {
        global.apply()
        setvbuf(stdout, nil, _IOLBF, 0)   // a progress line per step, also into a log file
        Compute.configure(threads: threads ?? Machine.cores)
        let work = global.work
        let modelDir = model ?? work.stageDir("pretrain")
        guard FileSystem.isDirectory(modelDir) else { throw CoreError.notFound(path: modelDir) }
        let dataPath = try GSM8KStage.recordsFile(data ?? work.stageDir("gsm8k") + "/train")
        var o = SFTOptions()
        o.lora = try lora.options()
        o.epochs = epochs; o.maxSteps = maxSteps; o.batch = batch; o.gradAccum = gradAccum; o.lr = lr
        o.warmupRatio = warmupRatio; o.weightDecay = weightDecay; o.maxGradNorm = maxGradNorm; o.maxLength = maxLength
        o.maxExamples = maxExamples; o.seed = seed
        let tok = ModelSupport.tokenizerPath(explicit: tokenizer, modelDir: modelDir, work: work)
        let every = logEvery
        let t = try SFTStage.run(workdir: work, modelDir: modelDir, dataPath: dataPath, tokenizerPath: tok, options: o,
                                 force: global.force) { m, total in
            if m.step % every == 0 || m.step == 1 || m.step == total {
                print("step \(m.step)/\(total) loss \(String(format: "%.4f", m.loss)) lr \(String(format: "%.2e", m.learning_rate)) norm \(String(format: "%.3f", m.grad_norm)) \(String(format: "%.2f", m.step_time)) s")
            }
        }
        guard let t else { print("sft: up to date"); return }
        let first = t.metrics.first?.loss ?? 0, last = t.metrics.last?.loss ?? 0
        print("sft: \(t.step) steps, loss \(String(format: "%.4f", first)) -> \(String(format: "%.4f", last)); LoRA \(t.lora.parameterCount) parameters -> \(work.stageDir("sft"))")
    }
}
