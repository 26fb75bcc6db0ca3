import Core
import Foundation
import GSM8K
import Tokenize

/// Options of `pipeline grpo` (all recorded in the manifest; resume requires the same ones but `maxSteps`).
public struct GRPOOptions: Codable, Equatable, Sendable {
    /// LoRA of a fresh adapter (ignored with `adapter`).
    public var lora = LoRAOptions()
    /// Start from this PEFT adapter folder (then the KL reference is a frozen copy of it, as TRL 1.x does).
    public var adapter: String?
    /// The loss: type, KL coefficient, temperature, clipping range and completion length.
    public var loss = GRPOLossOptions()
    /// Completions sampled per prompt (the group size G).
    public var numGenerations = 2
    /// Completions per micro-batch (TRL's per_device_train_batch_size).
    public var batch = 2
    /// Micro-batches accumulated into one optimizer step.
    public var gradAccum = 4
    /// Peak learning rate.
    public var lr: Float = 3e-5
    /// Share of the steps for linear warm-up.
    public var warmupRatio: Float = 0.1
    /// AdamW weight decay.
    public var weightDecay: Float = 0
    /// Global gradient-norm clip (0: none).
    public var maxGradNorm: Float = 1
    /// Passes over the prompts.
    public var epochs = 1
    /// Stop after this many optimizer steps (overrides `epochs`).
    public var maxSteps: Int?
    /// Prompt tokens kept (longer prompts are truncated).
    public var maxPromptLength = 256
    /// Nucleus-sampling mass for the completions (1: off).
    public var topP: Float = 1
    /// Top-k sampling cut-off for the completions (0: off).
    public var topK = 0
    /// How rewards are normalised into advantages.
    public var scaleRewards: RewardScaling = .group
    /// Weights of the four reward functions, in `RewardFunction` order.
    public var rewardWeights: [Double] = [1, 1, 1, 1]
    /// Use only the first N records.
    public var maxExamples: Int?
    /// Commit a checkpoint every N steps.
    public var saveEvery = 50
    /// Record a sample completion every N steps.
    public var sampleEvery = 10
    /// Random seed (LoRA init, sampling, shuffling).
    public var seed: UInt64 = 42
    /// Evaluate greedy answers to held-out questions before the first step, every N steps and after the last
    /// (nil: never).
    public var evalEvery: Int?
    /// Held-out questions of those evaluations (the first N of the evaluation data).
    public var evalLimit: Int?
    /// The defaults.
    public init() {}

    /// The options as the manifest's string parameters.
    public var parameters: [String: String] {
        var p = adapter == nil ? lora.parameters : [:]
        p["adapter"] = adapter ?? "-"
        p["loss_type"] = loss.lossType.rawValue; p["beta"] = "\(loss.beta)"; p["temperature"] = "\(loss.temperature)"
        p["epsilon"] = "\(loss.epsilonLow),\(loss.epsilonHigh)"
        p["max_completion_length"] = "\(loss.maxCompletionLength)"
        p["num_generations"] = "\(numGenerations)"; p["batch"] = "\(batch)"; p["grad_accum"] = "\(gradAccum)"
        p["lr"] = "\(lr)"; p["warmup_ratio"] = "\(warmupRatio)"; p["weight_decay"] = "\(weightDecay)"
        p["max_grad_norm"] = "\(maxGradNorm)"; p["epochs"] = "\(epochs)"
        p["max_steps"] = maxSteps.map(String.init) ?? "-"
        p["max_prompt_length"] = "\(maxPromptLength)"; p["top_p"] = "\(topP)"; p["top_k"] = "\(topK)"
        p["scale_rewards"] = scaleRewards.rawValue
        p["reward_weights"] = rewardWeights.map { "\($0)" }.joined(separator: ",")
        p["max_examples"] = maxExamples.map(String.init) ?? "-"; p["seed"] = "\(seed)"
        p["save_every"] = "\(saveEvery)"; p["sample_every"] = "\(sampleEvery)"
        if let evalEvery {  // only when set: the parameters of runs without it stay as they were
            p["eval_every"] = "\(evalEvery)"; p["eval_limit"] = evalLimit.map(String.init) ?? "-"
        }
        return p
    }
}

/// Resumable state (`trainer_state.json`).
struct GRPOState: Codable {
    var step: Int
    var optimizerStep: Int
    var rng: Xoshiro256
    var loraRNG: Xoshiro256
    var order: [Int]
    var position: Int
    var epoch: Int
    var options: GRPOOptions
}

/// GRPO with a LoRA on a GPT-2, step by step as TRL's GRPOTrainer: a generation batch of batch × grad_accum
/// completions (batch × grad_accum / G prompts, each repeated G times) is sampled with the KV cache, scored by
/// the four GSM8K reward functions, turned into group advantages, shuffled and split into grad_accum
/// micro-batches whose losses are accumulated into one AdamW step.
public final class GRPOTrainer: ResumableTrainer {
    /// The options the trainer was made with.
    public let options: GRPOOptions
    /// The policy model (base weights frozen, the LoRA trained).
    public let model: GPT2
    /// The trained adapter.
    public let lora: LoRA
    /// The optimizer over the adapter's parameters.
    public let optimizer: AdamW
    /// Optimizer steps the run will take.
    public let totalSteps: Int
    /// Optimizer steps done so far.
    public private(set) var step = 0
    /// One metrics record per step done.
    public private(set) var metrics: [GRPOMetrics] = []
    /// The sample completions recorded so far.
    public private(set) var samples: [GRPOSampleRecord] = []
    /// The held-out evaluations so far (`evalEvery`).
    public private(set) var evals: [GRPOEvalRecord] = []
    /// The held-out questions of `evalEvery` (set before the first step).
    public var evalItems: [GSM8KData.Item] = []
    /// Questions of each evaluation kept as samples in its record.
    static let evalSamples = 4
    let items: [GSM8KData.Item]
    let tokenizer: BPETokenizer
    let loss: GRPOLoss
    let rewards = Rewards()
    var rng: Xoshiro256
    var order: [Int] = []
    var position = 0
    var epoch = 0
    var promptCache: [Int: [Int]] = [:]

    /// Distinct prompts sampled per optimizer step.
    public var promptsPerStep: Int { options.batch * options.gradAccum / options.numGenerations }

    /// A trainer on `items` with a fresh adapter (or `options.adapter`); a usage error for inconsistent options.
    public init(model: GPT2, items: [GSM8KData.Item], tokenizer: BPETokenizer, options o: GRPOOptions,
                baseModelName: String) throws {
        guard !items.isEmpty else { throw TrainError.usage("grpo: no training prompts") }
        guard o.numGenerations >= 2 else {
            throw TrainError.usage("--num-generations must be ≥ 2 (advantages are relative to the group)")
        }
        guard o.batch >= 1, o.gradAccum >= 1, (o.batch * o.gradAccum) % o.numGenerations == 0 else {
            throw TrainError.usage("--batch × --grad-accum (\(o.batch * o.gradAccum)) must be a multiple of "
                                   + "--num-generations (\(o.numGenerations)), as in TRL")
        }
        guard o.rewardWeights.count == RewardFunction.allCases.count else {
            throw TrainError.usage("--reward-weights needs \(RewardFunction.allCases.count) values "
                                   + "(one per reward function)")
        }
        guard o.maxPromptLength >= 1, o.loss.maxCompletionLength >= 1,
              o.maxPromptLength + o.loss.maxCompletionLength <= model.config.nPositions else {
            throw TrainError.usage("--max-prompt-length + --max-completion-length must be ≤ the model's "
                                   + "\(model.config.nPositions) positions")
        }
        options = o
        self.model = model
        self.items = items
        self.tokenizer = tokenizer
        var reference: LoRA? = nil
        if let dir = o.adapter {
            lora = try LoRA.load(directory: dir, into: model)
            if o.loss.beta != 0 {
                // TRL 1.x: re-training an existing adapter compares with a frozen copy of it ("ref" adapter)
                reference = try LoRA.load(directory: dir, into: GPT2(sharing: model))
            }
        } else {
            lora = try LoRA.attach(to: model, r: o.lora.r, alpha: o.lora.alpha, dropout: o.lora.dropout,
                                   targets: o.lora.targets, seed: o.seed, baseModelName: baseModelName)
        }
        model.lora = lora
        lora.training = true
        optimizer = AdamW(parameters: lora.parameters, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: o.weightDecay)
        let perEpoch = max(1, items.count / max(1, (o.batch * o.gradAccum) / o.numGenerations))
        totalSteps = o.maxSteps ?? perEpoch * o.epochs
        rng = Xoshiro256(seed: o.seed &+ 0x6B90)
        loss = GRPOLoss(model: model, options: o.loss, reference: reference)
        reshuffle()
    }

    func reshuffle() {
        order = Array(0..<items.count)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.below(i + 1)) }
        position = 0
    }

    func nextItems(_ n: Int) -> [Int] {
        var out: [Int] = []
        while out.count < n {
            if position >= order.count { epoch += 1; reshuffle() }
            out.append(order[position]); position += 1
        }
        return out
    }

    /// The prompt's tokens, left-truncated to --max-prompt-length (TRL keeps the end of long prompts).
    func promptIds(_ i: Int) -> [Int] {
        if let p = promptCache[i] { return p }
        let ids = tokenizer.encode(items[i].promptText, allowSpecial: true)
        let p = ids.count > options.maxPromptLength ? Array(ids.suffix(options.maxPromptLength)) : ids
        promptCache[i] = p
        return p
    }

    /// Linear warm-up then linear decay to 0 (transformers' default `linear` schedule).
    func learningRate(_ s: Int) -> Float {
        let warmup = Int((Double(totalSteps) * Double(options.warmupRatio)).rounded(.up))
        if s < warmup { return options.lr * Float(s) / Float(max(1, warmup)) }
        return options.lr * Float(max(0, Double(totalSteps - s) / Double(max(1, totalSteps - warmup))))
    }

    /// One optimizer step: sample, score, advantages, accumulated loss, AdamW. Returns the metrics record.
    @discardableResult
    public func trainStep() throws -> GRPOMetrics {
        let evalEvery = evaluating ? options.evalEvery ?? 0 : 0
        if evalEvery > 0 && step == 0 && evals.isEmpty { evals.append(try evaluate()) }
        let start = Date()
        let G = options.numGenerations, eos = model.config.eosTokenId
        let picked = nextItems(promptsPerStep)
        var prompts: [[Int]] = [], owners: [Int] = []
        for i in picked { for _ in 0..<G { prompts.append(promptIds(i)); owners.append(i) } }
        var so = SamplingOptions()
        so.maxNewTokens = options.loss.maxCompletionLength
        so.temperature = Float(options.loss.temperature); so.topK = options.topK; so.topP = options.topP
        so.eosTokenId = eos; so.seed = rng.next()
        lora.training = false
        let completions = try Generator.generate(model: model, prompts: prompts, options: so)
        lora.training = true
        let genTime = Date().timeIntervalSince(start)
        // rewards
        var perFunc: [[Double?]] = [], texts: [String] = []
        for (k, c) in completions.enumerated() {
            let body = c.last == eos ? Array(c.dropLast()) : c
            let text = tokenizer.decode(body)
            texts.append(text)
            perFunc.append(rewards.scores(completion: text, answer: items[owners[k]].answer).map { Optional($0) })
        }
        let total = GRPOMath.totalRewards(perFunc, weights: options.rewardWeights)
        let (adv, zeroStd) = GRPOMath.advantages(total, groupSize: G, scale: options.scaleRewards)
        var batch = (0..<completions.count).map {
            GRPOSample(prompt: prompts[$0], completion: completions[$0], advantage: adv[$0])
        }
        for i in stride(from: batch.count - 1, to: 0, by: -1) { batch.swapAt(i, rng.below(i + 1)) }   // TRL shuffles
        let genTokens = completions.reduce(0) { $0 + $1.count }
        model.zeroGrad()
        var lossSum = 0.0, klSum = 0.0, entSum = 0.0
        for m in 0..<options.gradAccum {
            let r = loss.step(Array(batch[(m * options.batch)..<((m + 1) * options.batch)]),
                              generationTokens: genTokens, accumulation: options.gradAccum)
            lossSum += r.loss; klSum += r.kl; entSum += r.entropy
        }
        let norm = clipGradNorm(lora.parameters, maxNorm: options.maxGradNorm)
        let lr = learningRate(step)
        optimizer.update(lr: lr)
        step += 1
        let accum = Double(options.gradAccum)
        func logged(_ x: Double) -> Double? { x.isNaN ? nil : x }
        var rec = GRPOMetrics(step: step)
        rec.epoch = logged(Double(epoch) + Double(position) / Double(items.count))
        rec.loss = logged(lossSum); rec.gradNorm = logged(Double(norm)); rec.learningRate = logged(Double(lr))
        rec.entropy = logged(entSum / accum)
        rec.fracRewardZeroStd = logged(Double(zeroStd.filter { $0 }.count) / Double(zeroStd.count))
        rec.completionsMeanLength = logged(Double(genTokens) / Double(completions.count))
        rec.completionsClippedRatio = logged(Double(completions.filter { $0.last != eos }.count)
                                             / Double(completions.count))
        rec.generationTime = logged(genTime)
        rec.stepTime = logged(Date().timeIntervalSince(start))
        if options.loss.beta != 0 { rec.kl = logged(klSum / accum) }
        if evalEvery > 0 && (step % evalEvery == 0 || step == totalSteps) {
            let e = try evaluate()
            evals.append(e)
            rec.evalAccuracy = e.accuracy; rec.evalFormatExact = e.formatExact
        }
        for (f, fn) in RewardFunction.allCases.enumerated() {
            let col = perFunc.map { $0[f] ?? .nan }
            rec.rewardMeans[fn.rawValue] = logged(GRPOMath.nanMean(col[...]))
            rec.rewardStds[fn.rawValue] = logged(GRPOMath.nanStd(col[...]))
        }
        rec.reward = logged(GRPOMath.nanMean(total[...]))
        rec.rewardStd = logged(GRPOMath.nanStd(total[...]))
        metrics.append(rec)
        if options.sampleEvery > 0 && (step % options.sampleEvery == 0 || step == 1) {
            samples.append(GRPOSampleRecord(step: step, prompt: items[owners[0]].promptText,
                                            answer: items[owners[0]].answer,
                                            completions: Array(texts[0..<G]), rewards: Array(total[0..<G]),
                                            advantages: Array(adv[0..<G])))
        }
        return rec
    }

    var evaluating: Bool { !evalItems.isEmpty }

    /// Greedy answers of the current adapter to `evalItems`, decoded and scored exactly as the eval stage does
    /// (batches of 8, at most --max-completion-length tokens). Consumes no randomness.
    func evaluate() throws -> GRPOEvalRecord {
        let wasTraining = lora.training
        lora.training = false
        defer { lora.training = wasTraining }
        var summary = RewardSummary()
        var exact = 0
        var kept: [GRPOEvalSample] = []
        var index = 0
        try EvalStage.answer(evalItems, model: model, tokenizer: tokenizer,
                             maxNewTokens: options.loss.maxCompletionLength, batch: 8, rewards: rewards) { c in
            let scores = RewardFunction.allCases.map { c.rewards[$0.name] ?? 0 }
            summary.add(scores)
            if (c.rewards[RewardFunction.matchFormatExactly.name] ?? 0) > 0 { exact += 1 }
            let q = evalItems[index]
            index += 1
            if kept.count < Self.evalSamples {
                kept.append(GRPOEvalSample(id: q.id, question: q.question, answer: q.answer, completion: c.completion,
                                           reward: c.reward))
            }
        }
        return GRPOEvalRecord(step: step, questions: summary.count, accuracy: summary.accuracy,
                              formatExact: Double(exact) / Double(max(1, summary.count)), reward: summary.reward,
                              samples: kept)
    }

    // MARK: checkpoints

    /// Writes the adapter, the optimizer moments, `trainer_state.json`, metrics and samples into `dir`.
    public func writeState(to dir: String) throws {
        try lora.save(directory: dir)
        var moments: [(String, [Int], UnsafeBufferPointer<Float>)] = []
        for p in lora.parameters {
            moments.append(("m." + p.name, p.shape, UnsafeBufferPointer(start: optimizer.m[p.name]!.p, count: p.count)))
            moments.append(("v." + p.name, p.shape, UnsafeBufferPointer(start: optimizer.v[p.name]!.p, count: p.count)))
        }
        try SafeTensors.write(moments, to: dir + "/optimizer.safetensors.zst", compressed: true)
        let state = GRPOState(step: step, optimizerStep: optimizer.step, rng: rng, loraRNG: lora.rng, order: order,
                              position: position, epoch: epoch, options: options)
        try Checkpoint.writeState(state, to: dir)
        let w = try JSONLWriter<GRPOMetrics>(path: dir + "/metrics.jsonl.zst")
        for m in metrics { try w.write(m) }
        try w.close()
        let s = try JSONLWriter<GRPOSampleRecord>(path: dir + "/samples.jsonl.zst")
        for r in samples { try s.write(r) }
        try s.close()
        if options.evalEvery != nil {
            let e = try JSONLWriter<GRPOEvalRecord>(path: dir + "/evals.jsonl.zst")
            for r in evals { try e.write(r) }
            try e.close()
        }
    }

    /// Restores a checkpoint `writeState` wrote; a usage error if it was made with other options.
    public func restore(from dir: String) throws {
        let (st, statePath) = try Checkpoint.readState(GRPOState.self, from: dir)
        var a = st.options, b = options
        a.maxSteps = nil; b.maxSteps = nil; a.saveEvery = 0; b.saveEvery = 0
        guard a == b else {
            throw TrainError.usage("\(statePath): the checkpoint was made with other options; "
                                   + "resume with the same ones")
        }
        let saved = try SafeTensors.read(path: dir + "/adapter_model.safetensors")
        for p in lora.parameters {
            guard let t = saved[LoRAAdapter.peftName(p)], t.shape == p.shape else {
                throw TrainError.badCheckpoint(path: dir,
                                               reason: "adapter tensor \(p.name) missing or of another shape")
            }
            t.values.withUnsafeBufferPointer { p.value.p.update(from: $0.baseAddress!, count: p.count) }
        }
        try optimizer.restore(step: st.optimizerStep, path: dir + "/optimizer.safetensors.zst")
        step = st.step; rng = st.rng; lora.rng = st.loraRNG; order = st.order; position = st.position; epoch = st.epoch
        metrics = try JSONLReader.readAll(GRPOMetrics.self, path: dir + "/metrics.jsonl.zst")
        samples = try JSONLReader.readAll(GRPOSampleRecord.self, path: dir + "/samples.jsonl.zst")
        if options.evalEvery != nil, FileSystem.exists(dir + "/evals.jsonl.zst") {
            evals = try JSONLReader.readAll(GRPOEvalRecord.self, path: dir + "/evals.jsonl.zst")
        }
    }
}

extension GPT2 {
    /// A model sharing `other`'s parameter objects (no copy): lets a second adapter (the KL reference) be
    /// loaded without touching the trained model.
    convenience init(sharing other: GPT2) {
        self.init(config: other.config, wte: other.wte, wpe: other.wpe, blocks: other.blocks, lnfW: other.lnfW,
                  lnfB: other.lnfB)
    }
}

/// The `grpo` stage: trains, committing a complete resumable folder every --save-every steps and at the end.
public enum GRPOStage {
    /// Trains (or resumes) into <workdir>/grpo; nil when the stage is up to date.
    public static func run(workdir: Workdir, modelDir: String, dataPath: String, tokenizerPath: String,
                           options o: GRPOOptions, evalData: String? = nil,
                           resume: Bool, force: Bool, stopAfter: Int? = nil,
                           report: (GRPOTrainer, GRPOMetrics) -> Void = { _, _ in }) throws -> GRPOTrainer? {
        var params = o.parameters
        params["model"] = modelDir
        var inputs = [dataPath] + Checkpoint.modelFiles(modelDir) + BPETokenizer.files(path: tokenizerPath)
        if let a = o.adapter { inputs += ["adapter_config.json", "adapter_model.safetensors"].map { a + "/" + $0 } }
        let evalPath = o.evalEvery == nil ? nil : evalData ?? (workdir.stageDir("gsm8k") + "/test.jsonl.zst")
        if let evalPath { inputs.append(evalPath) }
        let stage = CheckpointedStage(workdir: workdir, stage: "grpo", inputs: inputs, parameters: params)
        guard let resume = stage.shouldResume(resume, force: force) else { return nil }
        let model = try Checkpoint.load(directory: modelDir)
        let tok = try BPETokenizer(path: tokenizerPath)
        let items = try GSM8KData.read(path: dataPath, limit: o.maxExamples)
        let trainer = try GRPOTrainer(model: model, items: items, tokenizer: tok, options: o, baseModelName: modelDir)
        if let evalPath {
            trainer.evalItems = try GSM8KData.read(path: evalPath, limit: o.evalLimit)
            guard !trainer.evalItems.isEmpty else { throw CoreError.corrupt(path: evalPath, reason: "no questions") }
        }
        if resume { try stage.restore(trainer) }
        try stage.train(trainer, total: trainer.totalSteps, saveEvery: o.saveEvery, stopAfter: stopAfter,
                        records: ["prompts": items.count, "trainable_parameters": trainer.lora.parameterCount]) {
            let m = try trainer.trainStep()
            try TrainError.checkFinite(stage: "grpo", step: trainer.step,
                                       ["loss": Float(m.loss ?? 0), "gradient norm": Float(m.gradNorm ?? 0)])
            report(trainer, m)
        }
        return trainer
    }
}
