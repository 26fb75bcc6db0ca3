import CKernels
import COpenBLAS
import Foundation

// The layers of GPT-2, once, as llm.c writes them: each a function over row-major buffers the caller owns (no
// allocation inside), shared by training (`TrainContext.forward`/`backpropagateLogitGradient`), evaluation (the
// same context) and KV-cache decoding (`Decoder.feed`). Layer norm and the linear layers are in GPT2.swift.

/// The buffers of one block's forward pass over `rows` rows (llm.c's per-layer activations). `out` may be `input`
/// itself (decoding keeps one residual stream): `input` is read only before `res1` is formed.
struct BlockBuffers {
    var input: UnsafeMutablePointer<Float>
    var ln1: UnsafeMutablePointer<Float>
    var ln1Mean: UnsafeMutablePointer<Float>?, ln1Rstd: UnsafeMutablePointer<Float>?
    var qkv: UnsafeMutablePointer<Float>
    var attOut: UnsafeMutablePointer<Float>
    var res1: UnsafeMutablePointer<Float>
    var ln2: UnsafeMutablePointer<Float>
    var ln2Mean: UnsafeMutablePointer<Float>?, ln2Rstd: UnsafeMutablePointer<Float>?
    var fc: UnsafeMutablePointer<Float>
    /// GELU of `fc`; `fc` itself when nothing keeps the pre-activation (decoding).
    var gelu: UnsafeMutablePointer<Float>
    var out: UnsafeMutablePointer<Float>
}

enum Layers {
    /// out[r] = wte[token r] + wpe[position(r)], for rows of width `e`.
    static func embeddingForward(_ out: UnsafeMutablePointer<Float>, tokens: UnsafeBufferPointer<Int32>,
                                 positions position: (Int) -> Int, wte: UnsafePointer<Float>,
                                 wpe: UnsafePointer<Float>, rows: Int, e: Int) {
        parallelRows(rows) { range in
            for r in range {
                let o = out + r * e, a = wte + Int(tokens[r]) * e, pe = wpe + position(r) * e
                for i in 0..<e { o[i] = a[i] + pe[i] }
            }
        }
    }

    /// Backward of `embeddingForward` into the unfrozen tables, in row order (deterministic).
    static func embeddingBackward(_ dout: UnsafePointer<Float>, tokens: [Int32], positions position: (Int) -> Int,
                                  wte: Parameter, wpe: Parameter, rows: Int, e: Int) {
        if !wpe.frozen {
            for r in 0..<rows {
                let g = dout + r * e, o = wpe.grad.p + position(r) * e
                for i in 0..<e { o[i] += g[i] }
            }
        }
        if !wte.frozen {
            for r in 0..<rows {
                let g = dout + r * e, o = wte.grad.p + Int(tokens[r]) * e
                for i in 0..<e { o[i] += g[i] }
            }
        }
    }

    /// y += x over `count` elements (the residual connection).
    static func residualForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows: Int, e: Int) {
        parallelRows(rows) { range in for i in (range.lowerBound * e)..<(range.upperBound * e) { y[i] += x[i] } }
    }

    /// out = GELU (tanh approximation, transformers' gelu_new) of `x`, rows of width `e`; `out` may be `x`.
    static func geluForward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows: Int, e: Int) {
        parallelRows(rows) { range in
            for i in (range.lowerBound * e)..<(range.upperBound * e) { out[i] = geluNew(x[i]) }
        }
    }

    /// dx *= GELU'(x), rows of width `e`.
    static func geluBackward(_ dx: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows: Int, e: Int) {
        parallelRows(rows) { range in
            for i in (range.lowerBound * e)..<(range.upperBound * e) { dx[i] *= geluNewGrad(x[i]) }
        }
    }

    /// Causal self-attention over B sequences of T rows: `qkv` [B·T, 3E] (q, k, v of H heads of width D) →
    /// `out` [B·T, E]; `att` [B·H, T, T] keeps the softmax probabilities for the backward pass.
    /// S = Q·Kᵀ/√D (sgemm per sequence and head), causal softmax per row, O = P·V (sgemm).
    static func attentionForward(_ qkv: UnsafePointer<Float>, _ att: UnsafeMutablePointer<Float>,
                                 _ out: UnsafeMutablePointer<Float>, b B: Int, t T: Int, h H: Int, d D: Int) {
        let E = H * D, scale = 1 / Float(D).squareRoot()
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
            gemm(false, false, T, D, T, 1, att + bh * T * T, T, v, 3 * E, 0, out + b * T * E + h * D, E)
        }
    }

    /// Backward of `attentionForward`: `dqkv` [B·T, 3E] = d(loss)/d(qkv) from `dout` [B·T, E]; `datt`
    /// [B·H, T, T] is scratch.
    static func attentionBackward(_ dout: UnsafePointer<Float>, _ qkv: UnsafePointer<Float>,
                                  _ att: UnsafePointer<Float>, _ dqkv: UnsafeMutablePointer<Float>,
                                  _ datt: UnsafeMutablePointer<Float>, b B: Int, t T: Int, h H: Int, d D: Int) {
        let E = H * D, scale = 1 / Float(D).squareRoot()
        // dP = dO·Vᵀ ; dV = Pᵀ·dO
        for bh in 0..<(B * H) {
            let b = bh / H, h = bh % H
            let base = b * T * 3 * E + h * D
            let dO = dout + b * T * E + h * D
            gemm(false, true, T, T, D, 1, dO, E, qkv + base + 2 * E, 3 * E, 0, datt + bh * T * T, T)
            gemm(true, false, T, D, T, 1, att + bh * T * T, T, dO, E, 0, dqkv + base + 2 * E, 3 * E)
        }
        // dS = P ⊙ (dP − Σⱼ P·dP) · scale (zero where masked, as P is)
        parallelRows(B * H * T) { range in
            for row in range {
                let pr = att + row * T, dpr = datt + row * T
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
            gemm(false, false, T, D, T, 1, datt + bh * T * T, T, qkv + base + E, 3 * E, 0, dqkv + base, 3 * E)
            gemm(true, false, T, D, T, 1, datt + bh * T * T, T, qkv + base, 3 * E, 0, dqkv + base + E, 3 * E)
        }
    }

    /// Attention of `rows` new rows against a KV cache (decoding and prefill): row i belongs to sequence
    /// `seqs[i]` at position `positions[i]` and attends to that sequence's cached keys and values 0…position
    /// (its own included: store them first). `scores` holds rows·H·`span` floats, `span` > every position.
    static func attentionDecode(_ qkv: UnsafePointer<Float>, keys: UnsafePointer<Float>,
                                values: UnsafePointer<Float>, capacity cap: Int, seqs: [Int], positions: [Int],
                                _ out: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>, span: Int,
                                rows N: Int, h H: Int, d D: Int) {
        let E = H * D, scale = 1 / Float(D).squareRoot()
        seqs.withUnsafeBufferPointer { seqs in
            positions.withUnsafeBufferPointer { positions in
                DispatchQueue.concurrentPerform(iterations: N * H) { ih in
                    let i = ih / H, hd = ih % H
                    let q = qkv + i * 3 * E + hd * D
                    let base = seqs[i] * cap * E + hd * D
                    pl_attend(q, keys + base, values + base, Int32(E), Int32(positions[i] + 1), Int32(D), scale,
                              scores + ih * span, out + i * E + hd * D)
                }
            }
        }
    }

    /// One transformer block forward over `rows` rows: x → LN1 → c_attn (+LoRA) → `attention(qkv, attOut)` →
    /// c_proj (+LoRA) → res1 = x + · → LN2 → c_fc (+LoRA) → GELU → c_proj (+LoRA) → out = res1 + ·.
    /// `few` runs the linear layers through the few-row kernels (decoding steps) instead of OpenBLAS; `acts`
    /// gives the LoRA buffers of a target; `packed`, the weights repacked for them.
    static func blockForward(_ model: GPT2, layer l: Int, _ io: BlockBuffers, rows N: Int, few: Bool,
                             packed: FewRows.Packed? = nil, acts: (LoRATarget) -> LoRAActs?,
                             attention: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        let c = model.config, blk = model.blocks[l], E = c.nEmbd, I = c.inner
        func linear(_ x: UnsafePointer<Float>, _ w: Parameter, _ b: Parameter?, _ y: UnsafeMutablePointer<Float>,
                    inDim: Int, outDim: Int) {
            if few {
                FewRows.linear(x, w, b, y, rows: N, inDim: inDim, outDim: outDim,
                               packed: packed?.linear[ObjectIdentifier(w)])
            } else {
                Train.linear(x, w, b, y, rows: N, inDim: inDim, outDim: outDim)
            }
        }
        layerNorm(io.input, blk.ln1w.value.p, blk.ln1b.value.p, io.ln1, io.ln1Mean, io.ln1Rstd, rows: N, e: E,
                  eps: c.layerNormEpsilon)
        linear(io.ln1, blk.attnW, blk.attnB, io.qkv, inDim: E, outDim: 3 * E)
        model.loraForward(l, .cAttn, x: io.ln1, y: io.qkv, rows: N, acts: acts(.cAttn))
        attention(io.qkv, io.attOut)
        linear(io.attOut, blk.projW, blk.projB, io.res1, inDim: E, outDim: E)
        model.loraForward(l, .attnProj, x: io.attOut, y: io.res1, rows: N, acts: acts(.attnProj))
        residualForward(io.res1, io.input, rows: N, e: E)
        layerNorm(io.res1, blk.ln2w.value.p, blk.ln2b.value.p, io.ln2, io.ln2Mean, io.ln2Rstd, rows: N, e: E,
                  eps: c.layerNormEpsilon)
        linear(io.ln2, blk.fcW, blk.fcB, io.fc, inDim: E, outDim: I)
        model.loraForward(l, .fc, x: io.ln2, y: io.fc, rows: N, acts: acts(.fc))
        geluForward(io.gelu, io.fc, rows: N, e: I)
        linear(io.gelu, blk.fcProjW, blk.fcProjB, io.out, inDim: I, outDim: E)
        model.loraForward(l, .fcProj, x: io.gelu, y: io.out, rows: N, acts: acts(.fcProj))
        residualForward(io.out, io.res1, rows: N, e: E)
    }

    /// The LM head (tied to wte): logits[r] = x[r]·wteᵀ for the rows of `runs`; `few` uses the few-row kernel.
    static func lmHead(_ x: UnsafePointer<Float>, wte: UnsafePointer<Float>, _ logits: UnsafeMutablePointer<Float>,
                       runs: [Range<Int>], e E: Int, v V: Int, few: Bool, packed: FewRows.Packed? = nil) {
        for run in runs where !run.isEmpty {
            let xr = x + run.lowerBound * E, lr = logits + run.lowerBound * V
            if few { FewRows.head(xr, wte, lr, rows: run.count, width: E, vocab: V, packed: packed?.head) } else {
                gemm(false, true, run.count, V, E, 1, xr, E, wte, E, 0, lr, V)
            }
        }
    }

    /// Cross-entropy of rows of `logits` (width V) against `targets` (−100: not counted): saves each counted
    /// row's log-sum-exp in `lse` and its loss in `rowLoss`; returns the sum of the losses in row order
    /// (deterministic whatever the threads).
    static func crossEntropyForward(_ logits: UnsafePointer<Float>, targets: UnsafeBufferPointer<Int32>,
                                    lse: UnsafeMutablePointer<Float>, rowLoss: UnsafeMutablePointer<Float>,
                                    rows N: Int, v V: Int) -> Double {
        parallelRows(N, minimum: 4) { range in
            for r in range where targets[r] != -100 {
                let row = logits + r * V
                var mx = -Float.infinity
                for i in 0..<V where row[i] > mx { mx = row[i] }
                var s: Float = 0
                for i in 0..<V { s += expf(row[i] - mx) }
                lse[r] = logf(s) + mx
                rowLoss[r] = lse[r] - row[Int(targets[r])]
            }
        }
        var total: Double = 0
        for r in 0..<N where targets[r] != -100 { total += Double(rowLoss[r]) }
        return total
    }

    /// Backward of `crossEntropyForward` into `logits` itself, scaled by `inv` (1/count · loss scale): the
    /// softmax from the saved log-sum-exp minus the one-hot target; a row not counted gets 0; rows outside
    /// `inHead` are left alone.
    static func crossEntropyBackward(_ logits: UnsafeMutablePointer<Float>, targets: UnsafeBufferPointer<Int32>,
                                     lse: UnsafePointer<Float>, inHead: [Bool], inv: Float, rows N: Int, v V: Int) {
        parallelRows(N, minimum: 4) { range in
            for r in range where inHead[r] {
                let row = logits + r * V
                if targets[r] == -100 { row.update(repeating: 0, count: V); continue }
                let l = lse[r]
                for i in 0..<V { row[i] = expf(row[i] - l) * inv }
                row[Int(targets[r])] -= inv
            }
        }
    }
}
