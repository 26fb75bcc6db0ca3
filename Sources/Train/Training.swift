import COpenBLAS
import Core
import Foundation

/// Saved activations of one forward pass over a B×T batch, reused between steps of the same shape.
final class LayerActs {
    let input, ln1, ln1Mean, ln1Rstd, qkv, att, attOut, res1, ln2, ln2Mean, ln2Rstd, fc, gelu: FloatBuffer
    init(_ c: GPT2Config, b: Int, t: Int) {
        let n = b * t, e = c.nEmbd
        input = FloatBuffer(n * e); ln1 = FloatBuffer(n * e); ln1Mean = FloatBuffer(n); ln1Rstd = FloatBuffer(n)
        qkv = FloatBuffer(n * 3 * e); att = FloatBuffer(b * c.nHead * t * t); attOut = FloatBuffer(n * e)
        res1 = FloatBuffer(n * e); ln2 = FloatBuffer(n * e); ln2Mean = FloatBuffer(n); ln2Rstd = FloatBuffer(n)
        fc = FloatBuffer(n * c.inner); gelu = FloatBuffer(n * c.inner)
    }
}

/// The forward/backward workspace for batches of shape B×T.
public final class TrainContext {
    /// The model the workspace computes.
    public let model: GPT2
    /// Sequences per batch (B).
    public let batch: Int
    /// Tokens per sequence (T).
    public let seq: Int
    let layers: [LayerActs]
    let residual: FloatBuffer      // output of the last block
    let lnf, lnfMean, lnfRstd: FloatBuffer
    /// Logits [B·T, V]; after `backward` they hold d(loss)/d(logits).
    public let logits: FloatBuffer
    /// log Σ exp(logits) per row, from the last forward with targets.
    let rowLSE: FloatBuffer
    var targets: [Int32] = []
    var count = 0
    /// The row ranges the last forward computed logits for (the LM head's rows); other rows' logits are stale.
    public private(set) var headRows: [Range<Int>] = []
    // backward scratch
    let dres, dtmp, dln, dqkv, datt, dfc: FloatBuffer

    /// Bytes the workspace of a `batch`×`seq` batch takes (activations, logits, backward scratch), in floating
    /// point so that absurd shapes give a huge number rather than an overflow.
    public static func workspaceBytes(_ c: GPT2Config, batch: Int, seq: Int) -> Double {
        let n = Double(batch) * Double(seq), e = Double(c.nEmbd), inner = Double(c.inner)
        let att = Double(batch) * Double(c.nHead) * Double(seq) * Double(seq)
        let perLayer = n * e * 8 + n * 4 + att + n * inner * 2
        let rest = n * e * 9 + n * 3 + n * Double(c.vocabSize) + att + n * inner
        return 4 * (perLayer * Double(c.nLayer) + rest)
    }

    /// Throws when training `config` on `batch`×`seq` batches needs more memory than the machine has: the
    /// workspace plus values, gradients and the two AdamW moments of `trainable` parameters.
    public static func checkMemory(_ c: GPT2Config, batch: Int, seq: Int, trainable: Int, stage: String) throws {
        let bytes = workspaceBytes(c, batch: batch, seq: seq) + Double(c.parameterCount ?? Int.max) * 4
            + Double(trainable) * 12
        try Machine.checkMemory(bytes: bytes, for: "training with --batch \(batch) × \(seq) tokens", path: stage)
    }

    /// A workspace for `batch`×`seq` batches of `model`.
    public init(model: GPT2, batch: Int, seq: Int) {
        let c = model.config
        self.model = model
        self.batch = batch
        self.seq = seq
        let n = batch * seq, e = c.nEmbd
        layers = (0..<c.nLayer).map { _ in LayerActs(c, b: batch, t: seq) }
        residual = FloatBuffer(n * e)
        lnf = FloatBuffer(n * e); lnfMean = FloatBuffer(n); lnfRstd = FloatBuffer(n)
        logits = FloatBuffer(n * c.vocabSize)
        rowLSE = FloatBuffer(n)
        dres = FloatBuffer(n * e); dtmp = FloatBuffer(n * e); dln = FloatBuffer(n * e)
        dqkv = FloatBuffer(n * 3 * e); datt = FloatBuffer(batch * c.nHead * seq * seq)
        dfc = FloatBuffer(n * c.inner)
    }

    /// Whether each of the `n` rows is one of the last forward's `headRows`.
    public func headMask(_ n: Int) -> [Bool] {
        var mask = [Bool](repeating: false, count: n)
        for run in headRows { for r in run { mask[r] = true } }
        return mask
    }

    /// The runs of consecutive rows whose target is not −100: the rows a loss reads.
    public static func targetRuns(_ targets: [Int32]) -> [Range<Int>] {
        var runs: [Range<Int>] = [], start: Int?
        for (r, t) in targets.enumerated() {
            if t != -100 { if start == nil { start = r } } else if let s = start { runs.append(s..<r); start = nil }
        }
        if let s = start { runs.append(s..<targets.count) }
        return runs
    }

    /// Forward pass over `tokens` (B·T ids, row-major). With `targets` (B·T next-token ids, −100 = ignored)
    /// returns the mean cross-entropy over the counted positions (0 when none is counted); logits are kept.
    /// The LM head runs only on `headRows` (default: every row), as transformers' `logits_to_keep`: a loss over
    /// completion tokens (`targetRuns(targets)`) pays nothing for the prompt's logits.
    @discardableResult
    public func forward(tokens: [Int32], targets: [Int32]? = nil, headRows: [Range<Int>]? = nil) -> Float {
        let c = model.config
        let B = batch, T = seq, E = c.nEmbd, H = c.nHead, D = c.headDim, V = c.vocabSize, N = B * T
        precondition(tokens.count == N && T <= c.nPositions)
        lastTokens = tokens
        // embeddings
        let x0 = layers.isEmpty ? residual : layers[0].input
        let wte = model.wte.value.p, wpe = model.wpe.value.p
        tokens.withUnsafeBufferPointer { tk in
            parallelRows(N) { range in
                for r in range {
                    let t = r % T, id = Int(tk[r])
                    let o = x0.p + r * E, a = wte + id * E, pe = wpe + t * E
                    for i in 0..<E { o[i] = a[i] + pe[i] }
                }
            }
        }
        let scale = 1 / Float(D).squareRoot()
        for (l, blk) in model.blocks.enumerated() {
            let a = layers[l]
            let out = l + 1 < layers.count ? layers[l + 1].input : residual
            layerNorm(a.input.p, blk.ln1w.value.p, blk.ln1b.value.p, a.ln1.p, a.ln1Mean.p, a.ln1Rstd.p, rows: N, e: E,
                      eps: c.layerNormEpsilon)
            linear(a.ln1.p, blk.attnW, blk.attnB, a.qkv.p, rows: N, inDim: E, outDim: 3 * E)
            model.loraForward(l, .cAttn, x: a.ln1.p, y: a.qkv.p, rows: N, acts: loraActs(l, .cAttn))
            // attention per (batch, head): S = Q·Kᵀ·scale (sgemm), causal softmax per row, O = P·V (sgemm)
            let qkv = a.qkv.p, att = a.att.p, ao = a.attOut.p
            for bh in 0..<(B * H) {
                let b = bh / H, h = bh % H
                let q = qkv + b * T * 3 * E + h * D
                gemm(false, true, T, T, D, scale, q, 3 * E, q + E, 3 * E, 0, att + bh * T * T, T)
            }
            parallelRows(B * H * T) { range in
                for row in range {
                    let i = row % T
                    let pr = att + row * T
                    var mx = -Float.infinity
                    for j in 0...i where pr[j] > mx { mx = pr[j] }
                    var sum: Float = 0
                    for j in 0...i { let e = expf(pr[j] - mx); pr[j] = e; sum += e }
                    let inv = 1 / sum
                    for j in 0...i { pr[j] *= inv }
                    for j in (i + 1)..<T { pr[j] = 0 }
                }
            }
            for bh in 0..<(B * H) {
                let b = bh / H, h = bh % H
                let v = qkv + b * T * 3 * E + h * D + 2 * E
                gemm(false, false, T, D, T, 1, att + bh * T * T, T, v, 3 * E, 0, ao + b * T * E + h * D, E)
            }
            linear(a.attOut.p, blk.projW, blk.projB, a.res1.p, rows: N, inDim: E, outDim: E)
            model.loraForward(l, .attnProj, x: a.attOut.p, y: a.res1.p, rows: N, acts: loraActs(l, .attnProj))
            let inp = a.input.p, r1 = a.res1.p
            parallelRows(N) { range in for i in (range.lowerBound * E)..<(range.upperBound * E) { r1[i] += inp[i] } }
            layerNorm(a.res1.p, blk.ln2w.value.p, blk.ln2b.value.p, a.ln2.p, a.ln2Mean.p, a.ln2Rstd.p, rows: N, e: E,
                      eps: c.layerNormEpsilon)
            linear(a.ln2.p, blk.fcW, blk.fcB, a.fc.p, rows: N, inDim: E, outDim: c.inner)
            model.loraForward(l, .fc, x: a.ln2.p, y: a.fc.p, rows: N, acts: loraActs(l, .fc))
            let fc = a.fc.p, g = a.gelu.p, I = c.inner
            parallelRows(N) { range in
                for i in (range.lowerBound * I)..<(range.upperBound * I) { g[i] = geluNew(fc[i]) }
            }
            linear(a.gelu.p, blk.fcProjW, blk.fcProjB, out.p, rows: N, inDim: I, outDim: E)
            model.loraForward(l, .fcProj, x: a.gelu.p, y: out.p, rows: N, acts: loraActs(l, .fcProj))
            let op = out.p
            parallelRows(N) { range in for i in (range.lowerBound * E)..<(range.upperBound * E) { op[i] += r1[i] } }
        }
        layerNorm(residual.p, model.lnfW.value.p, model.lnfB.value.p, lnf.p, lnfMean.p, lnfRstd.p, rows: N, e: E,
                  eps: c.layerNormEpsilon)
        self.headRows = headRows ?? [0..<N]
        for run in self.headRows where !run.isEmpty {
            gemm(false, true, run.count, V, E, 1, lnf.p + run.lowerBound * E, E, wte, E, 0,
                 logits.p + run.lowerBound * V, V)
        }
        guard let targets else { self.targets = []; count = 0; return 0 }
        precondition(targets.count == N)
        self.targets = targets
        count = targets.reduce(0) { $0 + ($1 == -100 ? 0 : 1) }
        // per-row loss, summed in row order (deterministic)
        let rowLoss = FloatBuffer(N)
        let lg = logits.p, lse = rowLSE.p
        targets.withUnsafeBufferPointer { tg in
            parallelRows(N, minimum: 4) { range in
                for r in range where tg[r] != -100 {
                    let row = lg + r * V
                    var mx = -Float.infinity
                    for i in 0..<V where row[i] > mx { mx = row[i] }
                    var s: Float = 0
                    for i in 0..<V { s += expf(row[i] - mx) }
                    lse[r] = logf(s) + mx
                    rowLoss.p[r] = lse[r] - row[Int(tg[r])]
                }
            }
        }
        var total: Double = 0
        for r in 0..<N { total += Double(rowLoss.p[r]) }
        return count == 0 ? 0 : Float(total / Double(count))
    }

    /// Backward of the last `forward` with targets: adds d(lossScale · loss)/dθ to every unfrozen parameter's
    /// gradient (`lossScale` = 1/accumulation steps for gradient accumulation).
    public func backward(lossScale: Float = 1) {
        let c = model.config
        let V = c.vocabSize, N = batch * seq
        precondition(targets.count == N, "backward needs a forward pass with targets")
        let lg = logits.p, lse = rowLSE.p
        let inv = count == 0 ? 0 : lossScale / Float(count)
        let inHead = headMask(N)
        targets.withUnsafeBufferPointer { tg in
            parallelRows(N, minimum: 4) { range in
                for r in range where inHead[r] {
                    let row = lg + r * V
                    if tg[r] == -100 { row.update(repeating: 0, count: V); continue }
                    // softmax from the log-sum-exp saved by forward
                    let l = lse[r]
                    for i in 0..<V { row[i] = expf(row[i] - l) * inv }
                    row[Int(tg[r])] -= inv
                }
            }
        }
        backpropagateLogitGradient()
    }

    /// Backward from a logit gradient already stored in `logits` (d(loss)/d(logits) of the last forward pass, on
    /// its `headRows`; other rows have no gradient): adds to every unfrozen parameter's (and the attached LoRA's)
    /// gradient. Used by losses other than cross-entropy (GRPO).
    public func backpropagateLogitGradient() {
        let c = model.config
        let B = batch, T = seq, E = c.nEmbd, H = c.nHead, D = c.headDim, V = c.vocabSize, N = B * T, I = c.inner
        let lg = logits.p
        let wte = model.wte
        // logits = lnf · wteᵀ
        dln.zero()
        for run in headRows where !run.isEmpty {
            let g = lg + run.lowerBound * V, n = run.count
            gemm(false, false, n, E, V, 1, g, V, wte.value.p, E, 0, dln.p + run.lowerBound * E, E)
            if !wte.frozen { gemm(true, false, V, E, n, 1, g, V, lnf.p + run.lowerBound * E, E, 1, wte.grad.p, E) }
        }
        dres.zero()
        layerNormBackward(dln.p, residual.p, model.lnfW.value.p, lnfMean.p, lnfRstd.p, dres.p,
                          model.lnfW.frozen ? nil : model.lnfW.grad.p, model.lnfB.frozen ? nil : model.lnfB.grad.p,
                          rows: N, e: E)
        let scale = 1 / Float(D).squareRoot()
        for l in stride(from: c.nLayer - 1, through: 0, by: -1) {
            let blk = model.blocks[l], a = layers[l]
            // dres = d(block output). MLP branch: out = res1 + proj(gelu(fc(ln2(res1))))
            dfc.zero()
            linearBackward(dres.p, a.gelu.p, blk.fcProjW, blk.fcProjB, dfc.p, rows: N, inDim: I, outDim: E)
            model.loraBackward(l, .fcProj, dy: dres.p, x: a.gelu.p, dx: dfc.p, rows: N, acts: loraActs(l, .fcProj))
            let dfp = dfc.p, fcp = a.fc.p
            parallelRows(N) { range in
                for i in (range.lowerBound * I)..<(range.upperBound * I) { dfp[i] *= geluNewGrad(fcp[i]) }
            }
            dln.zero()
            linearBackward(dfc.p, a.ln2.p, blk.fcW, blk.fcB, dln.p, rows: N, inDim: E, outDim: I)
            model.loraBackward(l, .fc, dy: dfc.p, x: a.ln2.p, dx: dln.p, rows: N, acts: loraActs(l, .fc))
            // d(res1) = dres + LN2 backward
            layerNormBackward(dln.p, a.res1.p, blk.ln2w.value.p, a.ln2Mean.p, a.ln2Rstd.p, dres.p,
                              blk.ln2w.frozen ? nil : blk.ln2w.grad.p, blk.ln2b.frozen ? nil : blk.ln2b.grad.p,
                              rows: N, e: E)
            // attention branch: res1 = input + proj(attOut)
            dtmp.zero()
            linearBackward(dres.p, a.attOut.p, blk.projW, blk.projB, dtmp.p, rows: N, inDim: E, outDim: E)
            model.loraBackward(l, .attnProj, dy: dres.p, x: a.attOut.p, dx: dtmp.p, rows: N,
                               acts: loraActs(l, .attnProj))
            dqkv.zero()
            let qkv = a.qkv.p, att = a.att.p, dao = dtmp.p, dq = dqkv.p, dp = datt.p
            // dP = dO·Vᵀ ; dV = Pᵀ·dO
            for bh in 0..<(B * H) {
                let b = bh / H, h = bh % H
                let base = b * T * 3 * E + h * D
                let dO = dao + b * T * E + h * D
                gemm(false, true, T, T, D, 1, dO, E, qkv + base + 2 * E, 3 * E, 0, dp + bh * T * T, T)
                gemm(true, false, T, D, T, 1, att + bh * T * T, T, dO, E, 0, dq + base + 2 * E, 3 * E)
            }
            // dS = P ⊙ (dP − Σⱼ P·dP) · scale (zero where masked, as P is)
            parallelRows(B * H * T) { range in
                for row in range {
                    let pr = att + row * T, dpr = dp + row * T
                    let i = row % T
                    var dot: Float = 0
                    for j in 0...i { dot += pr[j] * dpr[j] }
                    for j in 0...i { dpr[j] = pr[j] * (dpr[j] - dot) * scale }
                    for j in (i + 1)..<T { dpr[j] = 0 }
                }
            }
            // dQ = dS·K ; dK = dSᵀ·Q
            for bh in 0..<(B * H) {
                let b = bh / H, h = bh % H
                let base = b * T * 3 * E + h * D
                gemm(false, false, T, D, T, 1, dp + bh * T * T, T, qkv + base + E, 3 * E, 0, dq + base, 3 * E)
                gemm(true, false, T, D, T, 1, dp + bh * T * T, T, qkv + base, 3 * E, 0, dq + base + E, 3 * E)
            }
            dln.zero()
            linearBackward(dqkv.p, a.ln1.p, blk.attnW, blk.attnB, dln.p, rows: N, inDim: E, outDim: 3 * E)
            model.loraBackward(l, .cAttn, dy: dqkv.p, x: a.ln1.p, dx: dln.p, rows: N, acts: loraActs(l, .cAttn))
            layerNormBackward(dln.p, a.input.p, blk.ln1w.value.p, a.ln1Mean.p, a.ln1Rstd.p, dres.p,
                              blk.ln1w.frozen ? nil : blk.ln1w.grad.p, blk.ln1b.frozen ? nil : blk.ln1b.grad.p,
                              rows: N, e: E)
        }
        // embeddings (in row order: deterministic)
        let wpe = model.wpe
        for r in 0..<N {
            let t = r % T
            let g = dres.p + r * E
            if !wpe.frozen { let o = wpe.grad.p + t * E; for i in 0..<E { o[i] += g[i] } }
        }
        if !wte.frozen {
            for r in 0..<N {
                let id = Int(lastTokens[r])
                let g = dres.p + r * E, o = wte.grad.p + id * E
                for i in 0..<E { o[i] += g[i] }
            }
        }
    }

    var lastTokens: [Int32] = []

    /// Saved LoRA activations per (layer, target), allocated on first use for the attached adapter.
    var loraStore: [Int: LoRAActs] = [:]
    weak var loraOwner: LoRA?

    func loraActs(_ layer: Int, _ t: LoRATarget) -> LoRAActs? {
        guard let lora = model.lora, let ad = lora.adapter(layer, t) else { return nil }
        if loraOwner !== lora { loraStore = [:]; loraOwner = lora }
        let key = layer * 4 + t.index
        if let a = loraStore[key] { return a }
        let a = LoRAActs(rows: batch * seq, r: lora.r, inDim: ad.inDim, dropout: lora.dropout > 0)
        loraStore[key] = a
        return a
    }
}
