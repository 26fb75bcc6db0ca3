import ArgumentParser
import Core
import Foundation
import GSM8K
import Train

struct GRPOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grpo",
        abstract: "GRPO on GSM8K prompts with a LoRA and the four reward functions (TRL GRPOTrainer semantics, CPU).",
        discussion: """
        Reads the gsm8k stage's records (--data, default <workdir>/gsm8k/train: prompt_text and answer), the \
        base model --model (default <workdir>/pretrain) and either a fresh LoRA (--lora-r, --lora-alpha, \
        --lora-dropout, --target) or a PEFT adapter to continue (--adapter, e.g. <workdir>/sft). Each optimizer \
        step samples --batch × --grad-accum completions: that many / --num-generations prompts (shuffled per \
        epoch, left-truncated to --max-prompt-length tokens), each --num-generations times, with the KV cache \
        (--temperature, --top-k, --top-p, at most --max-completion-length tokens, kept up to and including the \
        first EOS). Rewards are the weighted (--reward-weights, NaN-aware) sum of match_format_exactly, \
        match_format_approximately, check_answer and check_numbers; advantages (r − group mean) / (std + 1e-4) \
        with the Bessel std of the group or batch (--scale-rewards group|batch|none). The generation batch is \
        shuffled and split into --grad-accum micro-batches of --batch completions. Loss per token \
        −min(ρA, clip(ρ, 1−ε, 1+ε)A) + β·ρ·k3 (ε 0.2; k3 = e^(ref−logp) − (ref−logp) − 1 against the base \
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
        """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var lora: LoRAArguments
    @Option(help: ArgumentHelp("Base model folder (default <workdir>/pretrain).", valueName: "dir")) var model: String?
    @Option(help: ArgumentHelp("PEFT LoRA adapter to continue (e.g. <workdir>/sft).", valueName: "dir")) var adapter: String?
    @Option(help: ArgumentHelp("gsm8k records (default <workdir>/gsm8k/train).", valueName: "path")) var data: String?
    @Option(help: ArgumentHelp("Tokenizer (default: model folder, else <workdir>/tokenize).", valueName: "path")) var tokenizer: String?
    @Option(name: .customLong("num-generations"), help: "Completions per prompt (G).") var numGenerations = 2
    @Option(help: "Completions per micro-batch.") var batch = 2
    @Option(name: .customLong("grad-accum"), help: "Micro-batches per optimizer step.") var gradAccum = 4
    @Option(help: "Peak learning rate.", transform: Finite.float) var lr: Float = 3e-5
    @Option(name: .customLong("warmup-ratio"), help: "Share of the steps for linear warm-up.", transform: Finite.float) var warmupRatio: Float = 0.1
    @Option(name: .customLong("weight-decay"), help: "AdamW weight decay.", transform: Finite.float) var weightDecay: Float = 0
    @Option(name: .customLong("max-grad-norm"), help: "Gradient-norm clip (0: none).", transform: Finite.float) var maxGradNorm: Float = 1
    @Option(help: "Passes over the prompts.") var epochs = 1
    @Option(name: .customLong("max-steps"), help: "Optimizer steps (overrides --epochs).") var maxSteps: Int?
    @Option(name: .customLong("max-prompt-length"), help: "Prompt tokens kept (from the end).") var maxPromptLength = 256
    @Option(name: .customLong("max-completion-length"), help: "Completion tokens at most.") var maxCompletionLength = 200
    @Option(help: "Sampling temperature (also divides the logits of the loss, as TRL).", transform: Finite.double) var temperature: Double = 1
    @Option(name: .customLong("top-p"), help: "Nucleus sampling mass.", transform: Finite.float) var topP: Float = 1
    @Option(name: .customLong("top-k"), help: "Top-k sampling (0: off).") var topK = 0
    @Option(help: "KL coefficient (0: no reference pass).", transform: Finite.double) var beta: Double = 0.04
    @Option(help: "Clipping ε of the surrogate.", transform: Finite.double) var epsilon: Double = 0.2
    @Option(name: .customLong("loss-type"), help: "dapo, grpo, bnpo or dr_grpo.") var lossType = "dapo"
    @Option(name: .customLong("scale-rewards"), help: "group, batch or none.") var scaleRewards = "group"
    @Option(name: .customLong("reward-weights"), help: "Four comma-separated weights.") var rewardWeights = "1,1,1,1"
    @Option(name: .customLong("max-examples"), help: "Use only the first N records.") var maxExamples: Int?
    @Option(name: .customLong("save-every"), help: "Checkpoint every N steps.") var saveEvery = 50
    @Option(name: .customLong("sample-every"), help: "Log a group of completions every N steps (0: never).") var sampleEvery = 10
    @Option(help: "Random seed.") var seed: UInt64 = 42
    @Flag(help: "Continue from the checkpoint in <workdir>/grpo.") var resume = false
    @Option(help: "Threads (default: all cores).") var threads: Int?

    func options() throws -> GRPOOptions {
        var o = GRPOOptions()
        if adapter == nil { o.lora = try lora.options() }
        o.adapter = adapter
        guard let lt = GRPOLossType(rawValue: lossType) else { throw ValidationError("--loss-type must be dapo, grpo, bnpo or dr_grpo") }
        guard let sr = RewardScaling(rawValue: scaleRewards) else { throw ValidationError("--scale-rewards must be group, batch or none") }
        let weights = rewardWeights.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard weights.count == 4, weights.allSatisfy({ $0?.isFinite == true }) else {
            throw ValidationError("--reward-weights needs four finite numbers, not \(rewardWeights)")
        }
        guard numGenerations >= 2, batch >= 1, gradAccum >= 1, (batch * gradAccum) % numGenerations == 0 else {
            throw ValidationError("--num-generations must be ≥ 2 and divide --batch × --grad-accum")
        }
        guard epochs >= 1, (maxSteps ?? 1) >= 1, maxPromptLength >= 1, maxCompletionLength >= 1, saveEvery >= 1, sampleEvery >= 0,
              (maxExamples ?? 1) >= 1 else {
            throw ValidationError("--epochs, --max-steps, --max-prompt-length, --max-completion-length, --save-every, --max-examples must be ≥ 1")
        }
        guard lr > 0, temperature > 0, topP > 0, topP <= 1, topK >= 0, beta >= 0, epsilon >= 0, warmupRatio >= 0, warmupRatio < 1 else {
            throw ValidationError("--lr and --temperature must be > 0, --top-p in (0, 1], --top-k, --beta, --epsilon ≥ 0, --warmup-ratio in [0, 1)")
        }
        o.loss.lossType = lt; o.loss.beta = beta; o.loss.temperature = temperature
        o.loss.epsilonLow = epsilon; o.loss.epsilonHigh = epsilon; o.loss.maxCompletionLength = maxCompletionLength
        o.numGenerations = numGenerations; o.batch = batch; o.gradAccum = gradAccum; o.lr = lr; o.warmupRatio = warmupRatio
        o.weightDecay = weightDecay; o.maxGradNorm = maxGradNorm; o.epochs = epochs; o.maxSteps = maxSteps
        o.maxPromptLength = maxPromptLength; o.topP = topP; o.topK = topK; o.scaleRewards = sr
        o.rewardWeights = weights.map { $0! }; o.maxExamples = maxExamples; o.saveEvery = saveEvery
        o.sampleEvery = sampleEvery; o.seed = seed
        return o
    }

    func validate() throws { _ = try options() }

    func run() throws {
        global.apply()
        setvbuf(stdout, nil, _IOLBF, 0)   // a progress line per step, also into a log file
        Compute.configure(threads: threads ?? Machine.cores)
        let work = global.work
        let modelDir = model ?? work.stageDir("pretrain")
        guard FileSystem.isDirectory(modelDir) else { throw CoreError.notFound(path: modelDir) }
        if let adapter, !FileSystem.isDirectory(adapter) { throw CoreError.notFound(path: adapter) }
        let dataPath = try GSM8KStage.recordsFile(data ?? work.stageDir("gsm8k") + "/train")
        let o = try options()
        let tok = ModelSupport.tokenizerPath(explicit: tokenizer, modelDir: modelDir, work: work)
        let t = try GRPOStage.run(workdir: work, modelDir: modelDir, dataPath: dataPath, tokenizerPath: tok, options: o,
                                  resume: resume, force: global.force) { tr, m in
            let s = Int(m["step"] ?? 0)
            print("step \(s)/\(tr.totalSteps) reward \(String(format: "%.3f", m["reward"] ?? .nan)) ± \(String(format: "%.3f", m["reward_std"] ?? 0)) loss \(String(format: "%.4f", m["loss"] ?? 0)) kl \(String(format: "%.4f", m["kl"] ?? 0)) len \(String(format: "%.1f", m["completions/mean_length"] ?? 0)) \(String(format: "%.1f", m["step_time"] ?? 0)) s (gen \(String(format: "%.1f", m["generation_time"] ?? 0)) s)")
        }
        guard let t else { print("grpo: up to date"); return }
        let r = t.metrics.compactMap { $0["reward"] }
        let k = min(20, max(1, r.count / 2))
        let first = r.prefix(k).reduce(0, +) / Double(max(1, min(k, r.count))), last = r.suffix(k).reduce(0, +) / Double(max(1, min(k, r.count)))
        print("grpo: \(t.step) steps; mean reward first \(k) steps \(String(format: "%.3f", first)), last \(k) steps \(String(format: "%.3f", last)) -> \(work.stageDir("grpo"))")
    }
}
