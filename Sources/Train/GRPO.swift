import Core
import Foundation

/// How per-token losses are normalised (TRL's `loss_type`).
public enum GRPOLossType: String, Codable, CaseIterable, Sendable {
    /// Σ over all completion tokens of the generation batch / their number (TRL 1.x default).
    case dapo
    /// Per-sequence token mean, then mean over the micro-batch's sequences, / gradient accumulation.
    case grpo
    /// Token mean over the micro-batch, / gradient accumulation.
    case bnpo
    /// Σ over the micro-batch / (sequences × max completion length), / gradient accumulation.
    case drGrpo = "dr_grpo"
}

/// TRL's `scale_rewards`: divide the centred rewards by the group's std, the whole batch's std, or not at all.
public enum RewardScaling: String, Codable, CaseIterable, Sendable {
    case group, batch, none
}

/// The reward and advantage arithmetic of TRL's GRPOTrainer (`sum_then_normalize`).
public enum GRPOMath {
    /// Weighted, NaN-aware sum over reward functions (`nansum`); nil is a function returning None (NaN). A
    /// completion every function skipped is NaN (unscorable).
    public static func totalRewards(_ perFunc: [[Double?]], weights: [Double]) -> [Double] {
        perFunc.map { row in
            var s = 0.0, any = false
            for (k, v) in row.enumerated() { if let v, !v.isNaN { s += v * weights[k]; any = true } }
            return any ? s : .nan
        }
    }

    /// The mean of the non-NaN values (NaN when there are none).
    public static func nanMean(_ xs: ArraySlice<Double>) -> Double {
        var s = 0.0, n = 0
        for x in xs where !x.isNaN { s += x; n += 1 }
        return n == 0 ? .nan : s / Double(n)
    }

    /// TRL's `nanstd`: Bessel-corrected standard deviation of the non-NaN values.
    public static func nanStd(_ xs: ArraySlice<Double>) -> Double {
        let m = nanMean(xs)
        var s = 0.0, n = 0
        for x in xs where !x.isNaN { s += (x - m) * (x - m); n += 1 }
        return n < 2 ? .nan : (s / Double(n) * Double(n) / Double(n - 1)).squareRoot()
    }

    /// Advantages (r − mean_group) / (std + 1e-4) (std per group or over the batch; no division with
    /// `.none`); NaN advantages (unscorable completions) become 0. Also returns, per completion, whether the
    /// std used for the check is ~0 (TRL's `frac_reward_zero_std`).
    public static func advantages(_ rewards: [Double], groupSize g: Int,
                                  scale: RewardScaling) -> (advantages: [Double], zeroStd: [Bool]) {
        precondition(g >= 1 && rewards.count % g == 0)
        var adv = [Double](repeating: 0, count: rewards.count)
        var zero = [Bool](repeating: false, count: rewards.count)
        let batchStd = rewards.count > 1 ? nanStd(rewards[...]) : 0
        for start in stride(from: 0, to: rewards.count, by: g) {
            let group = rewards[start..<(start + g)]
            let mean = nanMean(group)
            let std: Double
            switch scale {
            case .group, .none: std = g > 1 ? nanStd(group) : 0
            case .batch: std = batchStd
            }
            for i in start..<(start + g) {
                var a = rewards[i] - mean
                if scale != .none { a /= (std + 1e-4) }
                adv[i] = a.isNaN ? 0 : a
                zero[i] = abs(std) <= 1e-8   // torch.isclose(std, 0): |std| ≤ atol 1e-8
            }
        }
        return (adv, zero)
    }
}

/// One sampled completion with its advantage.
public struct GRPOSample: Sendable {
    /// Prompt token ids.
    public var prompt: [Int]
    /// Completion tokens up to and including the first EOS (or cut at the length limit).
    public var completion: [Int]
    /// The completion's advantage.
    public var advantage: Double
    /// A sample of `completion` after `prompt`.
    public init(prompt: [Int], completion: [Int], advantage: Double) {
        self.prompt = prompt; self.completion = completion; self.advantage = advantage
    }
}

/// Options of the GRPO loss.
public struct GRPOLossOptions: Codable, Equatable, Sendable {
    /// How the per-token losses are normalised.
    public var lossType: GRPOLossType = .dapo
    /// KL coefficient β (0: no reference model).
    public var beta: Double = 0.04
    /// Temperature the logits are divided by.
    public var temperature: Double = 1
    /// Lower clipping range ε_low of the ratio.
    public var epsilonLow: Double = 0.2
    /// Upper clipping range ε_high of the ratio.
    public var epsilonHigh: Double = 0.2
    /// Tokens generated per completion at most.
    public var maxCompletionLength = 256
    /// TRL 1.x's `use_bias_correction_kl` (default true): the KL term is multiplied by ρ, which is 1 but
    /// differentiable, adding k3·∂logp to its gradient (the unbiased reverse-KL gradient).
    public var biasCorrectionKL = true
    /// The defaults.
    public init() {}
}

/// What one micro-batch's loss pass reports.
public struct GRPOMicroResult: Sendable {
    /// The micro-batch's loss as TRL's compute_loss returns it (already divided by its normaliser).
    public var loss: Double
    /// Mean k3 KL over the completion tokens (0 when β = 0).
    public var kl: Double
    /// Mean entropy of the (temperature-scaled) policy over the completion tokens.
    public var entropy: Double
    /// Completion tokens in the micro-batch.
    public var tokens: Int
}

/// The GRPO loss of TRL's GRPOTrainer for one policy update per generation batch (num_iterations 1, so the
/// importance ratio ρ = exp(logp − logp_old) is 1 with gradient ∂logp): per token
/// −min(ρ·A, clip(ρ, 1−ε_low, 1+ε_high)·A) + β·ρ·(exp(ref − logp) − (ref − logp) − 1)
/// (ρ on the KL term is TRL 1.x's `use_bias_correction_kl`, on by default), with log-probabilities of
/// the temperature-scaled logits, normalised as `lossType` says. The reference log-probabilities come from the
/// same model with the adapter disabled (`reference` nil) or with a frozen copy of the starting adapter.
public final class GRPOLoss {
    /// The policy model (with its adapter attached).
    public let model: GPT2
    /// The loss options.
    public var options: GRPOLossOptions
    /// The reference adapter (TRL's "ref" copy of a pre-trained adapter); nil: adapter disabled (base model).
    public var reference: LoRA?
    let pool: ContextPool

    /// A loss over `model`, with `reference` as the KL reference adapter (nil: the base model).
    public init(model: GPT2, options: GRPOLossOptions, reference: LoRA? = nil) {
        self.model = model; self.options = options; self.reference = reference
        pool = ContextPool(model: model)
    }

    struct Packed { var batch: PackedBatch; var rowSample: [Int]; var advantage: [Double]; var lengths: [Int] }

    func pack(_ samples: [GRPOSample]) -> Packed {
        let longest = samples.map { $0.prompt.count + $0.completion.count }.max() ?? 1
        let T = ContextPool.paddedLength(max(longest, 1), max: model.config.nPositions)
        let pad = Int32(model.config.eosTokenId)
        var tokens = [Int32](repeating: pad, count: samples.count * T)
        var targets = [Int32](repeating: -100, count: samples.count * T)
        var rowSample = [Int](repeating: -1, count: samples.count * T)
        for (b, s) in samples.enumerated() {
            let seq = s.prompt + s.completion
            precondition(seq.count <= T, "prompt + completion longer than the model's positions")
            for (t, id) in seq.enumerated() { tokens[b * T + t] = Int32(id) }
            for j in 0..<s.completion.count {
                let row = b * T + s.prompt.count + j - 1
                targets[row] = Int32(s.completion[j])
                rowSample[row] = b
            }
        }
        return Packed(batch: PackedBatch(tokens: tokens, targets: targets, b: samples.count, t: T),
                      rowSample: rowSample, advantage: samples.map(\.advantage),
                      lengths: samples.map(\.completion.count))
    }

    /// log-softmax(logits/τ)[target] and the entropy for every row with a target.
    func logps(_ ctx: TrainContext, _ targets: [Int32]) -> (logp: [Double], entropy: [Double]) {
        let V = model.config.vocabSize, N = targets.count
        let invT = Float(1 / options.temperature)
        var lp = [Double](repeating: 0, count: N), ent = [Double](repeating: 0, count: N)
        let lg = ctx.logits.p
        lp.withUnsafeMutableBufferPointer { lpb in
            ent.withUnsafeMutableBufferPointer { eb in
                let lpp = lpb.baseAddress!, ep = eb.baseAddress!
                targets.withUnsafeBufferPointer { tg in
                    parallelRows(N, minimum: 4) { range in
                        for r in range where tg[r] != -100 {
                            let row = lg + r * V
                            var mx = -Float.infinity
                            for v in 0..<V { let z = row[v] * invT; if z > mx { mx = z } }
                            var s: Double = 0, sz: Double = 0
                            for v in 0..<V {
                                let z = row[v] * invT
                                let e = Double(expf(z - mx))
                                s += e; sz += e * Double(z)
                            }
                            let lse = log(s) + Double(mx)
                            lpp[r] = Double(row[Int(tg[r])] * invT) - lse
                            ep[r] = lse - sz / s
                        }
                    }
                }
            }
        }
        return (lp, ent)
    }

    /// Forward + backward of one micro-batch: adds the gradient of its loss to the adapter's gradients.
    /// `generationTokens` is the number of completion tokens in the whole generation batch (dapo's normaliser),
    /// `accumulation` the number of micro-batches per optimizer step.
    public func step(_ samples: [GRPOSample], generationTokens: Int, accumulation: Int) -> GRPOMicroResult {
        let pk = pack(samples)
        let ctx = pool.context(b: pk.batch.b, t: pk.batch.t)
        let beta = options.beta
        var refLogp: [Double] = []
        // Logits only where the loss reads them: the completion rows (TRL's logits_to_keep).
        let head = TrainContext.targetRuns(pk.batch.targets)
        let lora = model.lora
        let wasTraining = lora?.training ?? false
        if beta != 0 {
            lora?.training = false
            if let reference {
                model.lora = reference
                ctx.forward(tokens: pk.batch.tokens, headRows: head)
                model.lora = lora
            } else {
                lora?.enabled = false
                ctx.forward(tokens: pk.batch.tokens, headRows: head)
                lora?.enabled = true
            }
            refLogp = logps(ctx, pk.batch.targets).logp
            lora?.training = wasTraining
        }
        ctx.forward(tokens: pk.batch.tokens, headRows: head)
        let (lp, ent) = logps(ctx, pk.batch.targets)
        let rows = samples.count
        let microTokens = pk.lengths.reduce(0, +)
        let accum = Double(accumulation)
        // per-token weight of the loss sum
        func weight(_ b: Int) -> Double {
            switch options.lossType {
            case .grpo: return 1 / Double(max(1, pk.lengths[b])) / Double(rows) / accum
            case .bnpo: return 1 / Double(max(1, microTokens)) / accum
            case .drGrpo: return 1 / Double(rows * options.maxCompletionLength) / accum
            case .dapo: return 1 / Double(max(1, generationTokens))
            }
        }
        let N = pk.batch.targets.count, V = model.config.vocabSize
        var g = [Double](repeating: 0, count: N)
        var loss = 0.0, klSum = 0.0, entSum = 0.0
        for r in 0..<N where pk.rowSample[r] >= 0 {
            let b = pk.rowSample[r]
            let a = pk.advantage[b]
            // ρ = 1: min(ρA, clip(ρ)A) = A; d/dlogp = A (both branches carry the gradient inside the clip range)
            var l = -a, dl = -a
            if beta != 0 {
                let d = refLogp[r] - lp[r]
                let k3 = exp(d) - d - 1
                l += beta * k3
                dl += beta * (1 - exp(d) + (options.biasCorrectionKL ? k3 : 0))
                klSum += k3
            }
            let w = weight(b)
            loss += w * l
            g[r] = w * dl
            entSum += ent[r]
        }
        // d(loss)/d(logits) = g · (onehot − softmax(z)) / τ, z = logits/τ
        let invT = Float(1 / options.temperature)
        let lg = ctx.logits.p
        let targets = pk.batch.targets
        let inHead = ctx.headMask(N)
        g.withUnsafeBufferPointer { gb in
            targets.withUnsafeBufferPointer { tg in
                parallelRows(N, minimum: 4) { range in
                    for r in range where inHead[r] {
                        let row = lg + r * V
                        if tg[r] == -100 || gb[r] == 0 { row.update(repeating: 0, count: V); continue }
                        var mx = -Float.infinity
                        for v in 0..<V { let z = row[v] * invT; if z > mx { mx = z } }
                        var s: Float = 0
                        for v in 0..<V { let e = expf(row[v] * invT - mx); row[v] = e; s += e }
                        let coef = Float(gb[r]) * invT
                        let inv = 1 / s
                        for v in 0..<V { row[v] = -coef * row[v] * inv }
                        row[Int(tg[r])] += coef
                    }
                }
            }
        }
        ctx.backpropagateLogitGradient()
        return GRPOMicroResult(loss: loss, kl: microTokens == 0 ? 0 : klSum / Double(microTokens),
                               entropy: microTokens == 0 ? 0 : entSum / Double(microTokens), tokens: microTokens)
    }
}
