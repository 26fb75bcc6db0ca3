import Core
import Foundation
import Tokenize

/// Options of `pipeline pretrain` (every one that changes the result is recorded in the manifest).
public struct PretrainOptions: Codable, Equatable, Sendable {
    /// The model's shape.
    public var config: GPT2Config
    /// The `--config` it came from (tiny, small, gpt2 or a config.json path).
    public var configName: String
    /// Optimizer steps.
    public var steps = 200
    /// Sequences per micro-batch.
    public var batch = 8
    /// Tokens per sequence.
    public var seq = 256
    /// Micro-batches per optimizer step.
    public var gradAccum = 1
    /// Peak learning rate.
    public var lr: Float = 6e-4
    /// Linear warm-up steps before the cosine decay.
    public var warmup = 20
    /// AdamW weight decay (2-D weights only).
    public var weightDecay: Float = 0.1
    /// AdamW β1.
    public var beta1: Float = 0.9
    /// AdamW β2.
    public var beta2: Float = 0.95
    /// AdamW ε.
    public var eps: Float = 1e-8
    /// Global gradient-norm clip (0: none).
    public var maxGradNorm: Float = 1
    /// Random seed (initialisation and batch sampling).
    public var seed: UInt64 = 1337
    /// Commit a checkpoint every N steps.
    public var saveEvery = 100
    /// Validation loss every N steps.
    public var evalEvery = 50
    /// Batches per validation.
    public var evalBatches = 4
    /// Share of the token stream (its end) held out for validation.
    public var valFraction = 0.05

    /// Options for a model of shape `config`, with the other options at their defaults.
    public init(config: GPT2Config, configName: String) { self.config = config; self.configName = configName }

    /// The options as the manifest's string parameters.
    public var parameters: [String: String] {
        let cfg = String(decoding: (try? JSON.encode(config)) ?? [], as: UTF8.self)
        return ["config": configName, "model": cfg, "steps": "\(steps)", "batch": "\(batch)", "seq": "\(seq)",
                "grad_accum": "\(gradAccum)", "lr": "\(lr)", "warmup": "\(warmup)", "weight_decay": "\(weightDecay)",
                "betas": "\(beta1),\(beta2)", "eps": "\(eps)", "max_grad_norm": "\(maxGradNorm)", "seed": "\(seed)",
                "save_every": "\(saveEvery)", "eval_every": "\(evalEvery)", "eval_batches": "\(evalBatches)",
                "val_fraction": "\(valFraction)"]
    }
}

/// What `--resume` needs besides the weights and moments.
struct TrainerState: Codable {
    var step: Int
    var rng: Xoshiro256
    var options: PretrainOptions
    var optimizerStep: Int
}

/// A token stream split into a training part and a held-out validation tail.
public struct TokenData {
    /// The training part of the stream.
    public let train: [UInt32]
    /// The validation tail of the stream.
    public let val: [UInt32]
    /// Vocabulary size the token file declares.
    public let vocabSize: Int

    /// The token file at `path`, its last `valFraction` (at least one window of `seq + 1`) held out.
    public init(path: String, seq: Int, valFraction: Double) throws {
        let (vocab, tokens) = try TokenFile.readAll(path: path)
        let nVal = max(seq + 1, Int(Double(tokens.count) * valFraction))
        guard tokens.count >= nVal + seq + 1 else {
            throw TrainError.badTokens(path: path, reason: "\(tokens.count) tokens: too few for a training window of "
                                           + "\(seq + 1) plus a validation hold-out of \(nVal)")
        }
        train = Array(tokens[0..<(tokens.count - nVal)])
        val = Array(tokens[(tokens.count - nVal)...])
        vocabSize = vocab
    }

    /// A split given directly.
    public init(train: [UInt32], val: [UInt32], vocabSize: Int) {
        self.train = train; self.val = val; self.vocabSize = vocabSize
    }
}

/// Pre-training of a GPT-2 from scratch on a token stream, one optimizer step at a time (resumable).
public final class Pretrainer: ResumableTrainer {
    /// The options the trainer was made with.
    public let options: PretrainOptions
    /// The model being trained.
    public let model: GPT2
    /// The optimizer over every model parameter.
    public let optimizer: AdamW
    /// The time of this process's steps per phase (validation excluded).
    public var profile = StepProfile()
    /// Optimizer steps done so far.
    public private(set) var step = 0
    /// One metrics record per step done.
    public private(set) var metrics: [PretrainMetrics] = []
    var rng: Xoshiro256
    let ctx: TrainContext
    let data: TokenData

    /// A freshly initialised model for `o`; a usage error when the data or shape do not fit.
    public init(options o: PretrainOptions, data: TokenData) throws {
        guard data.vocabSize <= o.config.vocabSize else {
            throw TrainError.usage("the tokens use a vocabulary of \(data.vocabSize) but the model has "
                                   + "\(o.config.vocabSize)")
        }
        guard o.seq <= o.config.nPositions, o.seq >= 1, o.batch >= 1, o.gradAccum >= 1, o.steps >= 1 else {
            throw TrainError.usage("--seq must be 1…\(o.config.nPositions) (the model's positions); "
                                   + "--batch, --steps and gradient accumulation ≥ 1")
        }
        try TrainContext.checkMemory(o.config, batch: o.batch, seq: o.seq,
                                     trainable: o.config.parameterCount ?? Int.max, stage: "pretrain")
        options = o
        self.data = data
        model = GPT2(config: o.config)
        model.initialize(seed: o.seed)
        optimizer = AdamW(parameters: model.parameters, beta1: o.beta1, beta2: o.beta2, eps: o.eps,
                          weightDecay: o.weightDecay)
        rng = Xoshiro256(seed: o.seed &+ 0x5EED)
        ctx = TrainContext(model: model, batch: o.batch, seq: o.seq)
    }

    func sampleBatch() -> ([Int32], [Int32]) {
        let T = options.seq
        var x: [Int32] = [], y: [Int32] = []
        x.reserveCapacity(options.batch * T); y.reserveCapacity(options.batch * T)
        for _ in 0..<options.batch {
            let start = rng.below(data.train.count - T)
            for i in 0..<T {
                x.append(Int32(data.train[start + i]))
                y.append(Int32(data.train[start + i + 1]))
            }
        }
        return (x, y)
    }

    /// Mean loss over `evalBatches` fixed windows of the validation tail (the same windows at every evaluation).
    public func validationLoss() -> Float {
        let T = options.seq, B = options.batch
        let windows = max(1, (data.val.count - 1) / T)
        var total: Double = 0
        var w = 0
        for _ in 0..<options.evalBatches {
            var x: [Int32] = [], y: [Int32] = []
            for _ in 0..<B {
                let s = (w % windows) * T
                w += 1
                for i in 0..<T { x.append(Int32(data.val[s + i])); y.append(Int32(data.val[s + i + 1])) }
            }
            total += Double(ctx.forward(tokens: x, targets: y))
        }
        return Float(total / Double(options.evalBatches))
    }

    /// One optimizer step (with gradient accumulation); returns its metrics record.
    public func trainStep() -> PretrainMetrics {
        let start = Date()
        var mark = StepProfile.now()
        model.zeroGrad()
        var loss: Double = 0
        let shape = model.config.shape, tokens = options.batch * options.seq
        for _ in 0..<options.gradAccum {
            let (x, y) = sampleBatch()
            profile.lap(\.data, &mark)
            loss += Double(ctx.forward(tokens: x, targets: y))
            profile.lap(\.forward, &mark)
            ctx.backward(lossScale: 1 / Float(options.gradAccum))
            profile.lap(\.backward, &mark)
            let f = Cost.forward(shape, tokens: tokens, context: options.seq)
            profile.forwardFLOPs += f
            profile.backwardFLOPs += 2 * f
        }
        let norm = clipGradNorm(model.parameters, maxNorm: options.maxGradNorm)
        let lr = cosineSchedule(step: step, baseLR: options.lr, warmup: options.warmup, total: options.steps)
        optimizer.update(lr: lr)
        profile.lap(\.optimizer, &mark)
        profile.steps += 1
        step += 1
        let secs = Date().timeIntervalSince(start)
        var m = PretrainMetrics(step: step, train_loss: Float(loss / Double(options.gradAccum)), val_loss: nil, lr: lr,
                                grad_norm: norm,
                                tokens_per_s: Double(options.batch * options.seq * options.gradAccum) / max(secs, 1e-9))
        if step % options.evalEvery == 0 || step == options.steps { m.val_loss = validationLoss() }
        metrics.append(m)
        return m
    }

    // MARK: checkpoint files

    /// Writes the whole resumable state into `dir`: config.json, model.safetensors.zst, optimizer.safetensors.zst,
    /// trainer_state.json, metrics.jsonl.zst.
    public func writeState(to dir: String) throws {
        try Checkpoint.save(model, directory: dir, compressed: true)
        var moments: [(String, [Int], UnsafeBufferPointer<Float>)] = []
        for p in model.parameters where !p.frozen {
            moments.append(("m." + p.name, p.shape, UnsafeBufferPointer(start: optimizer.m[p.name]!.p, count: p.count)))
            moments.append(("v." + p.name, p.shape, UnsafeBufferPointer(start: optimizer.v[p.name]!.p, count: p.count)))
        }
        try SafeTensors.write(moments, to: dir + "/optimizer.safetensors.zst", compressed: true)
        let state = TrainerState(step: step, rng: rng, options: options, optimizerStep: optimizer.step)
        try Checkpoint.writeState(state, to: dir)
        let w = try JSONLWriter<PretrainMetrics>(path: dir + "/metrics.jsonl.zst")
        for m in metrics { try w.write(m) }
        try w.close()
    }

    /// Restores a state written by `writeState`; the options must equal this trainer's.
    public func restore(from dir: String) throws {
        let (state, statePath) = try Checkpoint.readState(TrainerState.self, from: dir)
        var saved = state.options, mine = options
        saved.steps = 0; mine.steps = 0; saved.saveEvery = 0; mine.saveEvery = 0
        guard saved == mine else {
            throw TrainError.usage("\(statePath): the checkpoint was made with other options "
                                   + "(model, batch, seq, lr, seed…); resume with the same ones")
        }
        if state.options.steps != options.steps {
            log.warning("""
                resuming with --steps \(options.steps) instead of \(state.options.steps): \
                the learning-rate schedule changes
                """)
        }
        try Checkpoint.streamWeights(model, path: dir + "/model.safetensors.zst")
        try optimizer.restore(step: state.optimizerStep, path: dir + "/optimizer.safetensors.zst")
        step = state.step
        rng = state.rng
        metrics = try JSONLReader.readAll(PretrainMetrics.self, path: dir + "/metrics.jsonl.zst")
    }
}

/// The `pretrain` stage: trains, committing a complete, resumable checkpoint folder atomically every
/// `saveEvery` steps and at the end (a kill -9 loses at most the steps since the last commit).
public enum PretrainStage {
    /// Trains (or resumes) into <workdir>/pretrain; nil when the stage is up to date.
    public static func run(workdir: Workdir, tokensPath: String, options: PretrainOptions, resume: Bool, force: Bool,
                           stopAfter: Int? = nil, report: (PretrainMetrics) -> Void = { _ in }) throws -> Pretrainer? {
        let stage = CheckpointedStage(workdir: workdir, stage: "pretrain", inputs: [tokensPath],
                                      parameters: options.parameters)
        guard let resume = stage.shouldResume(resume, force: force) else { return nil }
        let data = try TokenData(path: tokensPath, seq: options.seq, valFraction: options.valFraction)
        let trainer = try Pretrainer(options: options, data: data)
        if resume { try stage.restore(trainer) }
        let records = ["parameters": trainer.model.parameterCount, "train_tokens": data.train.count,
                       "val_tokens": data.val.count]
        try stage.train(trainer, total: options.steps, saveEvery: options.saveEvery, stopAfter: stopAfter,
                        records: records) {
            let m = trainer.trainStep()
            try TrainError.checkFinite(stage: "pretrain", step: m.step,
                                       ["loss": m.train_loss, "gradient norm": m.grad_norm])
            report(m)
        }
        return trainer
    }
}
