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
    /// Scratch sized once per shape, so that a step allocates nothing: each row's loss, a row of ones (the bias
    /// gradients' sgemv), layer norm's per-chunk weight-gradient partials.
    let rowLoss, ones, lnPartial: FloatBuffer

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
        rowLoss = FloatBuffer(n)
        ones = FloatBuffer(Array(repeating: 1, count: n))
        lnPartial = FloatBuffer(layerNormPartials(rows: n, e: e))
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
        let x0 = layers.isEmpty ? residual : layers[0].input
        let wte = model.wte.value.p
        tokens.withUnsafeBufferPointer { tk in
            Layers.embeddingForward(x0.p, tokens: tk, positions: { $0 % T }, wte: wte, wpe: model.wpe.value.p,
                                    rows: N, e: E)
        }
        for l in 0..<model.blocks.count {
            let a = layers[l]
            let out = l + 1 < layers.count ? layers[l + 1].input : residual
            let io = BlockBuffers(input: a.input.p, ln1: a.ln1.p, ln1Mean: a.ln1Mean.p, ln1Rstd: a.ln1Rstd.p,
                                  qkv: a.qkv.p, attOut: a.attOut.p, res1: a.res1.p, ln2: a.ln2.p,
                                  ln2Mean: a.ln2Mean.p, ln2Rstd: a.ln2Rstd.p, fc: a.fc.p, gelu: a.gelu.p, out: out.p)
            Layers.blockForward(model, layer: l, io, rows: N, few: false, acts: { self.loraActs(l, $0) }) { qkv, ao in
                Layers.attentionForward(qkv, a.att.p, ao, b: B, t: T, h: H, d: D)
            }
        }
        layerNorm(residual.p, model.lnfW.value.p, model.lnfB.value.p, lnf.p, lnfMean.p, lnfRstd.p, rows: N, e: E,
                  eps: c.layerNormEpsilon)
        self.headRows = headRows ?? [0..<N]
        Layers.lmHead(lnf.p, wte: wte, logits.p, runs: self.headRows, e: E, v: V, few: false)
        guard let targets else { self.targets = []; count = 0; return 0 }
        precondition(targets.count == N)
        self.targets = targets
        count = targets.reduce(0) { $0 + ($1 == -100 ? 0 : 1) }
        let total = targets.withUnsafeBufferPointer { tg in
            Layers.crossEntropyForward(logits.p, targets: tg, lse: rowLSE.p, rowLoss: rowLoss.p, rows: N, v: V)
        }
        return count == 0 ? 0 : Float(total / Double(count))
    }

    /// Backward of the last `forward` with targets: adds d(lossScale · loss)/dθ to every unfrozen parameter's
    /// gradient (`lossScale` = 1/accumulation steps for gradient accumulation).
    public func backward(lossScale: Float = 1) {
        let c = model.config
        let V = c.vocabSize, N = batch * seq
        precondition(targets.count == N, "backward needs a forward pass with targets")
        let inv = count == 0 ? 0 : lossScale / Float(count)
        let inHead = headMask(N)
        targets.withUnsafeBufferPointer { tg in
            Layers.crossEntropyBackward(logits.p, targets: tg, lse: rowLSE.p, inHead: inHead, inv: inv, rows: N, v: V)
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
                          rows: N, e: E, partial: lnPartial.p)
        for l in stride(from: c.nLayer - 1, through: 0, by: -1) {
            let blk = model.blocks[l], a = layers[l]
            // dres = d(block output). MLP branch: out = res1 + proj(gelu(fc(ln2(res1))))
            dfc.zero()
            linearBackward(dres.p, a.gelu.p, blk.fcProjW, blk.fcProjB, dfc.p,
                           rows: N, inDim: I, outDim: E, ones: ones.p)
            model.loraBackward(l, .fcProj, dy: dres.p, x: a.gelu.p, dx: dfc.p, rows: N, acts: loraActs(l, .fcProj))
            Layers.geluBackward(dfc.p, a.fc.p, rows: N, e: I)
            dln.zero()
            linearBackward(dfc.p, a.ln2.p, blk.fcW, blk.fcB, dln.p, rows: N, inDim: E, outDim: I, ones: ones.p)
            model.loraBackward(l, .fc, dy: dfc.p, x: a.ln2.p, dx: dln.p, rows: N, acts: loraActs(l, .fc))
            // d(res1) = dres + LN2 backward
            layerNormBackward(dln.p, a.res1.p, blk.ln2w.value.p, a.ln2Mean.p, a.ln2Rstd.p, dres.p,
                              blk.ln2w.frozen ? nil : blk.ln2w.grad.p, blk.ln2b.frozen ? nil : blk.ln2b.grad.p,
                              rows: N, e: E, partial: lnPartial.p)
            // attention branch: res1 = input + proj(attOut)
            dtmp.zero()
            linearBackward(dres.p, a.attOut.p, blk.projW, blk.projB, dtmp.p, rows: N, inDim: E, outDim: E, ones: ones.p)
            model.loraBackward(l, .attnProj, dy: dres.p, x: a.attOut.p, dx: dtmp.p, rows: N,
                               acts: loraActs(l, .attnProj))
            dqkv.zero()
            Layers.attentionBackward(dtmp.p, a.qkv.p, a.att.p, dqkv.p, datt.p, b: B, t: T, h: H, d: D)
            dln.zero()
            linearBackward(dqkv.p, a.ln1.p, blk.attnW, blk.attnB, dln.p, rows: N, inDim: E, outDim: 3 * E, ones: ones.p)
            model.loraBackward(l, .cAttn, dy: dqkv.p, x: a.ln1.p, dx: dln.p, rows: N, acts: loraActs(l, .cAttn))
            layerNormBackward(dln.p, a.input.p, blk.ln1w.value.p, a.ln1Mean.p, a.ln1Rstd.p, dres.p,
                              blk.ln1w.frozen ? nil : blk.ln1w.grad.p, blk.ln1b.frozen ? nil : blk.ln1b.grad.p,
                              rows: N, e: E, partial: lnPartial.p)
        }
        Layers.embeddingBackward(dres.p, tokens: lastTokens, positions: { $0 % T }, wte: wte, wpe: model.wpe,
                                 rows: N, e: E)
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
