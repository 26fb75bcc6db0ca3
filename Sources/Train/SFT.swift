import Core
import Foundation
import Tokenize

/// LoRA hyper-parameters shared by `sft` and `grpo`.
public struct LoRAOptions: Codable, Equatable, Sendable {
    /// LoRA rank.
    public var r = 8
    /// LoRA alpha (scaling = alpha / r).
    public var alpha: Float = 16
    /// Dropout on the LoRA input while training.
    public var dropout: Float = 0.05
    /// The modules that get an adapter.
    public var targets: [LoRATarget] = [.cAttn]
    /// The defaults.
    public init() {}
    /// The options as the manifest's string parameters.
    public var parameters: [String: String] {
        ["lora_r": "\(r)", "lora_alpha": "\(alpha)", "lora_dropout": "\(dropout)",
         "lora_targets": targets.map(\.rawValue).joined(separator: ",")]
    }
}

/// Options of `pipeline sft`.
public struct SFTOptions: Codable, Equatable, Sendable {
    /// The adapter's options.
    public var lora = LoRAOptions()
    /// Passes over the data.
    public var epochs = 1
    /// Stop after this many optimizer steps (overrides `epochs`).
    public var maxSteps: Int?
    /// Examples per micro-batch.
    public var batch = 4
    /// Micro-batches per optimizer step.
    public var gradAccum = 1
    /// Peak learning rate.
    public var lr: Float = 2e-4
    /// Share of the steps for linear warm-up.
    public var warmupRatio: Float = 0.03
    /// AdamW weight decay.
    public var weightDecay: Float = 0
    /// Global gradient-norm clip (0: none).
    public var maxGradNorm: Float = 1
    /// Tokens per example (prompt + completion + EOS), truncated on the right as TRL's `max_length`.
    public var maxLength = 512
    /// Use only the first N records.
    public var maxExamples: Int?
    /// Random seed (LoRA init, dropout, shuffling).
    public var seed: UInt64 = 42
    /// The defaults.
    public init() {}

    /// The options as the manifest's string parameters.
    public var parameters: [String: String] {
        var p = lora.parameters
        p["epochs"] = "\(epochs)"; p["max_steps"] = maxSteps.map(String.init) ?? "-"; p["batch"] = "\(batch)"
        p["grad_accum"] = "\(gradAccum)"; p["lr"] = "\(lr)"; p["warmup_ratio"] = "\(warmupRatio)"
        p["weight_decay"] = "\(weightDecay)"; p["max_grad_norm"] = "\(maxGradNorm)"; p["max_length"] = "\(maxLength)"
        p["max_examples"] = maxExamples.map(String.init) ?? "-"; p["seed"] = "\(seed)"
        return p
    }
}

/// One prompt → completion pair as token ids (the completion already ends with EOS).
public struct SFTExample: Equatable, Sendable {
    /// Prompt token ids (no loss).
    public var prompt: [Int]
    /// Completion token ids, ending with EOS (the loss).
    public var completion: [Int]
    /// A pair of token-id sequences.
    public init(prompt: [Int], completion: [Int]) { self.prompt = prompt; self.completion = completion }
}

/// A padded batch of causal-LM sequences: inputs, shifted targets (−100 where no loss) and the shape.
struct PackedBatch {
    var tokens: [Int32]
    var targets: [Int32]
    var b: Int
    var t: Int
}

/// TrainContexts by shape (batches are padded to a multiple of 16 tokens, so few shapes occur).
final class ContextPool {
    let model: GPT2
    var pool: [Int: TrainContext] = [:]
    init(model: GPT2) { self.model = model }
    func context(b: Int, t: Int) -> TrainContext {
        let key = b * 1_000_003 + t
        if let c = pool[key] { return c }
        if pool.count >= 4 { pool.removeAll() }
        let c = TrainContext(model: model, batch: b, seq: t)
        pool[key] = c
        return c
    }
    static func paddedLength(_ n: Int, max m: Int) -> Int { min(m, (n + 15) / 16 * 16) }
}

/// Supervised fine-tuning of a LoRA on prompt → completion pairs with the loss on completion tokens only
/// (TRL's SFTTrainer with `completion_only_loss`): the targets of every position whose next token belongs to
/// the prompt are −100, as are the padding positions.
public final class SFTTrainer {
    /// The options the trainer was made with.
    public let options: SFTOptions
    /// The model (base weights frozen).
    public let model: GPT2
    /// The trained adapter.
    public let lora: LoRA
    /// The optimizer over the adapter's parameters.
    public let optimizer: AdamW
    /// The time of this process's steps per phase.
    public var profile = StepProfile()
    /// Optimizer steps done so far.
    public private(set) var step = 0
    /// One metrics record per step done.
    public private(set) var metrics: [SFTMetrics] = []
    /// Optimizer steps the run will take.
    public let totalSteps: Int
    let examples: [SFTExample]
    let pool: ContextPool
    var order: [Int] = []
    var position = 0
    var epoch = 0
    var rng: Xoshiro256

    /// A trainer with a fresh adapter on `model`; a usage error for no examples or invalid options.
    public init(model: GPT2, examples: [SFTExample], options o: SFTOptions, baseModelName: String = "") throws {
        guard !examples.isEmpty else { throw TrainError.usage("sft: no training examples") }
        guard o.batch >= 1, o.gradAccum >= 1, o.epochs >= 1, o.maxLength >= 2 else {
            throw TrainError.usage("sft: --batch, --grad-accum, --epochs must be ≥ 1 and --max-length ≥ 2")
        }
        var o = o
        if o.batch > examples.count {  // as a data loader would: one batch holds every example
            log.warning("""
                sft: --batch \(o.batch) is larger than the \(examples.count) training examples; \
                using \(examples.count)
                """)
            o.batch = examples.count
        }
        try TrainContext.checkMemory(model.config, batch: o.batch, seq: min(o.maxLength, model.config.nPositions),
                                     trainable: 0, stage: "sft")
        options = o
        self.model = model
        self.examples = examples
        lora = try LoRA.attach(to: model, r: o.lora.r, alpha: o.lora.alpha, dropout: o.lora.dropout,
                               targets: o.lora.targets, seed: o.seed, baseModelName: baseModelName)
        lora.training = true
        optimizer = AdamW(parameters: lora.parameters, weightDecay: o.weightDecay)
        let perEpoch = (examples.count + o.batch * o.gradAccum - 1) / (o.batch * o.gradAccum)
        totalSteps = o.maxSteps ?? perEpoch * o.epochs
        rng = Xoshiro256(seed: o.seed &+ 0x5F7)
        pool = ContextPool(model: model)
        reshuffle()
    }

    func reshuffle() {
        order = Array(0..<examples.count)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.below(i + 1)) }
        position = 0
    }

    func nextExamples(_ n: Int) -> [SFTExample] {
        var out: [SFTExample] = []
        while out.count < n {
            if position >= order.count { epoch += 1; reshuffle() }
            out.append(examples[order[position]])
            position += 1
        }
        return out
    }

    /// Inputs and targets of a batch: each row is prompt + completion (truncated to maxLength), padded with
    /// `pad`; target[t] = token[t+1] when token t+1 is a completion token, else −100.
    static func pack(_ batch: [SFTExample], maxLength: Int, positions: Int, pad: Int) -> PackedBatch {
        let cap = min(maxLength, positions)
        let longest = batch.map { min(cap, $0.prompt.count + $0.completion.count) }.max() ?? 1
        let T = ContextPool.paddedLength(max(longest, 1), max: positions)
        var tokens = [Int32](repeating: Int32(pad), count: batch.count * T)
        var targets = [Int32](repeating: -100, count: batch.count * T)
        for (b, ex) in batch.enumerated() {
            let seq = Array((ex.prompt + ex.completion).prefix(cap))
            for (t, id) in seq.enumerated() { tokens[b * T + t] = Int32(id) }
            if seq.count >= 2 {
                for t in 0..<(seq.count - 1) where t + 1 >= ex.prompt.count { targets[b * T + t] = Int32(seq[t + 1]) }
            }
        }
        return PackedBatch(tokens: tokens, targets: targets, b: batch.count, t: T)
    }

    /// One optimizer step over `gradAccum` micro-batches.
    public func trainStep() -> SFTMetrics {
        let start = Date()
        var mark = StepProfile.now()
        model.zeroGrad()
        var loss: Double = 0
        var counted = 0
        let warmup = Int((Float(totalSteps) * options.warmupRatio).rounded(.up))
        let shape = model.config.shape
        for _ in 0..<options.gradAccum {
            let pb = Self.pack(nextExamples(options.batch), maxLength: options.maxLength,
                               positions: model.config.nPositions, pad: model.config.eosTokenId)
            let ctx = pool.context(b: pb.b, t: pb.t)
            let runs = TrainContext.targetRuns(pb.targets)
            profile.lap(\.data, &mark)
            loss += Double(ctx.forward(tokens: pb.tokens, targets: pb.targets, headRows: runs))
            profile.lap(\.forward, &mark)
            counted += ctx.count
            ctx.backward(lossScale: 1 / Float(options.gradAccum))
            profile.lap(\.backward, &mark)
            let head = runs.reduce(0) { $0 + $1.count }
            let f = Cost.forward(shape, tokens: pb.b * pb.t, context: pb.t, headTokens: head)
            profile.forwardFLOPs += f
            profile.backwardFLOPs += Cost.loraStep(shape, batch: pb.b, seq: pb.t, rank: lora.r,
                                                   adaptedPerLayer: lora.adaptedPerLayer(model.config), headTokens: head) - f
        }
        let norm = clipGradNorm(lora.parameters, maxNorm: options.maxGradNorm)
        let lr = cosineSchedule(step: step, baseLR: options.lr, warmup: warmup, total: totalSteps)
        optimizer.update(lr: lr)
        profile.lap(\.optimizer, &mark)
        profile.steps += 1
        step += 1
        let done = Double(epoch) + Double(position) / Double(examples.count)
        let m = SFTMetrics(step: step, epoch: done, loss: Float(loss / Double(options.gradAccum)), learning_rate: lr,
                           grad_norm: norm, num_tokens: counted, step_time: Date().timeIntervalSince(start))
        metrics.append(m)
        return m
    }
}

/// Reading `gsm8k` stage records and tokenising them for SFT / GRPO.
public enum GSM8KData {
    /// A record as the trainers read it: `prompt_text` is required; `id` (default: the line number),
    /// `target_text` and `answer` (default empty) are used when present.
    public typealias Item = GSM8KRecord

    /// The records of a `gsm8k` records file (the first `limit`, when given), in file order.
    public static func read(path: String, limit: Int? = nil) throws -> [Item] {
        var out: [Item] = []
        try ByteReader(path: path).forEachLine(keepNewline: false) { line, n in
            if let limit, out.count >= limit { return }
            if line.isEmpty { return }
            let decoder = GSM8KRecord.decoder(requiring: [.promptText], missingID: "\(n)")
            do { out.append(try decoder.decode(GSM8KRecord.self, from: Data(line))) } catch {
                throw TrainError.badTokens(path: path,
                                           reason: "line \(n): not a gsm8k stage record with prompt_text (\(error))")
            }
        }
        return out
    }

    /// Tokenised prompt → target pairs; the completion ends with `eos`.
    public static func sftExamples(_ items: [Item], tokenizer: BPETokenizer, eos: Int) -> [SFTExample] {
        items.map {
            SFTExample(prompt: tokenizer.encode($0.promptText, allowSpecial: true),
                       completion: tokenizer.encode($0.targetText, allowSpecial: true) + [eos])
        }
    }
}

/// The `sft` stage: LoRA fine-tuning on the gsm8k records; writes the PEFT adapter, metrics and manifest.
public enum SFTStage {
    /// Fine-tunes into <workdir>/sft; nil when the stage is up to date.
    public static func run(workdir: Workdir, modelDir: String, dataPath: String, tokenizerPath: String,
                           options o: SFTOptions,
                           force: Bool, report: (SFTMetrics, Int) -> Void = { _, _ in }) throws -> SFTTrainer? {
        var params = o.parameters
        params["model"] = modelDir
        let inputs = [dataPath] + Checkpoint.modelFiles(modelDir) + BPETokenizer.files(path: tokenizerPath)
        guard let run = try StageRun.begin(workdir: workdir, stage: "sft", inputs: inputs, parameters: params,
                                           force: force) else {
            return nil
        }
        let model = try Checkpoint.load(directory: modelDir)
        let tok = try BPETokenizer(path: tokenizerPath)
        let items = try GSM8KData.read(path: dataPath, limit: o.maxExamples)
        let examples = GSM8KData.sftExamples(items, tokenizer: tok, eos: model.config.eosTokenId)
        if let bad = examples.flatMap({ $0.prompt + $0.completion }).first(where: { $0 >= model.config.vocabSize }) {
            throw TrainError.usage("token id \(bad) of tokenizer \(tokenizerPath) is outside the model's vocabulary "
                                   + "of \(model.config.vocabSize)")
        }
        let trainer = try SFTTrainer(model: model, examples: examples, options: o, baseModelName: modelDir)
        let progress = Progress("sft", total: trainer.totalSteps, unit: "steps")
        let metrics = try JSONLWriter<SFTMetrics>(path: run.output("metrics.jsonl.zst"))
        while trainer.step < trainer.totalSteps {
            let m = trainer.trainStep()
            try TrainError.checkFinite(stage: "sft", step: m.step, ["loss": m.loss, "gradient norm": m.grad_norm])
            try metrics.write(m)
            report(m, trainer.totalSteps)
            progress.advance()
        }
        progress.finish()
        try metrics.close()
        try trainer.lora.save(directory: run.tempDir)
        run.records["steps"] = trainer.step
        run.records["examples"] = examples.count
        run.records["trainable_parameters"] = trainer.lora.parameterCount
        try run.commit()
        return trainer
    }
}
