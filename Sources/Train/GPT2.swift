import Core
import COpenBLAS
import Foundation

/// The shape of a GPT-2 model: the fields of transformers' `GPT2Config` that change the computation.
public struct GPT2Config: Codable, Equatable, Sendable {
    /// Vocabulary size (rows of the token embedding and the LM head).
    public var vocabSize: Int
    /// Maximum sequence length (rows of the position embedding).
    public var nPositions: Int
    /// Width of the residual stream.
    public var nEmbd: Int
    /// Number of transformer blocks.
    public var nLayer: Int
    /// Attention heads per block.
    public var nHead: Int
    /// Width of the MLP (transformers' `n_inner`; nil means 4 × n_embd).
    public var nInner: Int?
    /// Epsilon of every LayerNorm.
    public var layerNormEpsilon: Float
    /// Id of the beginning-of-sequence token.
    public var bosTokenId: Int
    /// Id of the end-of-sequence token.
    public var eosTokenId: Int

    /// A config; the BOS and EOS ids default to the last id of the vocabulary.
    public init(vocabSize: Int, nPositions: Int, nEmbd: Int, nLayer: Int, nHead: Int, nInner: Int? = nil,
                layerNormEpsilon: Float = 1e-5, bosTokenId: Int? = nil, eosTokenId: Int? = nil) {
        self.vocabSize = vocabSize; self.nPositions = nPositions; self.nEmbd = nEmbd
        self.nLayer = nLayer; self.nHead = nHead; self.nInner = nInner; self.layerNormEpsilon = layerNormEpsilon
        self.bosTokenId = bosTokenId ?? vocabSize - 1
        self.eosTokenId = eosTokenId ?? vocabSize - 1
    }

    /// Width of the MLP.
    public var inner: Int { nInner ?? 4 * nEmbd }
    /// Width of one attention head.
    public var headDim: Int { nEmbd / nHead }

    /// The smoke-test model of `make demo`: 4 layers, 128 wide, 4 heads, 256 positions (pretrains in about a minute).
    public static func tiny(vocabSize: Int) -> GPT2Config {
        GPT2Config(vocabSize: vocabSize, nPositions: 256, nEmbd: 128, nLayer: 4, nHead: 4)
    }
    /// A small model that trains to something useful in tens of minutes on two cores.
    public static func small(vocabSize: Int) -> GPT2Config {
        GPT2Config(vocabSize: vocabSize, nPositions: 512, nEmbd: 384, nLayer: 6, nHead: 6)
    }
    /// GPT-2 124M.
    public static func gpt2(vocabSize: Int = 50257) -> GPT2Config {
        GPT2Config(vocabSize: vocabSize, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12)
    }

    /// Checks the shape is valid and its weights fit in memory; `path` names the config in the error.
    public func validate(path: String) throws {
        guard vocabSize > 0, nPositions > 0, nEmbd > 0, nLayer > 0, nHead > 0, nEmbd % nHead == 0, inner > 0 else {
            throw TrainError.badConfig(path: path, reason: "invalid GPT-2 shape (n_embd must be a multiple of n_head, "
                                           + "all sizes positive)")
        }
        guard layerNormEpsilon.isFinite, layerNormEpsilon > 0 else {
            throw TrainError.badConfig(path: path, reason: "layer_norm_epsilon must be a positive finite number, "
                                           + "not \(layerNormEpsilon)")
        }
        guard let n = parameterCount else {
            throw TrainError.badConfig(path: path, reason: "the model's size overflows (vocab_size \(vocabSize), "
                                           + "n_embd \(nEmbd), n_layer \(nLayer))")
        }
        try Machine.checkMemory(bytes: Double(n) * 4, for: "the model's weights (\(n) parameters)", path: path)
    }

    /// The number of parameters (weights, biases, LayerNorms; the LM head is tied), or nil when it overflows.
    public var parameterCount: Int? {
        func mul(_ xs: Int...) -> Int? {
            var r = 1
            for x in xs { let (v, o) = r.multipliedReportingOverflow(by: x); if o { return nil }; r = v }
            return r
        }
        func add(_ xs: Int?...) -> Int? {
            var r = 0
            for x in xs {
                guard let x else { return nil }
                let (v, o) = r.addingReportingOverflow(x); if o { return nil }; r = v
            }
            return r
        }
        let E = nEmbd, I = inner
        guard let perLayer = add(mul(4, E), mul(E, 3 * E), mul(3, E), mul(E, E), E, mul(E, I), I, mul(I, E), E),
              let layers = mul(perLayer, nLayer) else { return nil }
        return add(mul(vocabSize, E), mul(nPositions, E), layers, mul(2, E))
    }
}

/// One trainable tensor: its transformers name (without `transformer.`), shape, values, gradient and
/// optimiser flags. `frozen` parameters get no gradient buffer use and no optimizer state (LoRA freezes the base).
public final class Parameter {
    /// The parameter's transformers name (without `transformer.`).
    public let name: String
    /// The tensor's shape.
    public let shape: [Int]
    /// The tensor's values.
    public let value: FloatBuffer
    /// Allocated on first use: inference and frozen parameters never pay for it.
    public lazy var grad = FloatBuffer(value.count)
    /// Whether the parameter is excluded from training.
    public var frozen = false
    /// Weight decay applies (2-D weights); biases and LayerNorm weights are excluded.
    public var decay: Bool

    init(_ name: String, _ shape: [Int]) {
        self.name = name
        self.shape = shape
        let n = shape.reduce(1, *)
        value = FloatBuffer(n)
        decay = shape.count >= 2
    }
    /// Number of elements.
    public var count: Int { value.count }
}

/// The weights of one transformer block.
public struct Block {
    /// The block's LayerNorm, attention, projection and MLP weights and biases.
    public let ln1w, ln1b, attnW, attnB, projW, projB, ln2w, ln2b, fcW, fcB, fcProjW, fcProjB: Parameter
}

/// GPT-2 as transformers' `GPT2LMHeadModel` computes it (eval mode, no dropout): token + position embeddings,
/// pre-LayerNorm blocks, causal attention with q, k, v split in that order from `c_attn`, scale 1/√head_dim,
/// gelu_new, final LayerNorm, LM head tied to `wte`. Conv1D weights are [in, out]: y = x·W + b.
public final class GPT2 {
    /// The model's shape.
    public let config: GPT2Config
    /// Token embedding (also the LM head).
    public let wte: Parameter
    /// Position embedding.
    public let wpe: Parameter
    /// The transformer blocks, in order.
    public let blocks: [Block]
    /// Weight of the final LayerNorm.
    public let lnfW: Parameter
    /// Bias of the final LayerNorm.
    public let lnfB: Parameter
    /// Every parameter in transformers' order (`named_parameters()`).
    public let parameters: [Parameter]
    /// The attached LoRA adapter (see `LoRA.attach` / `LoRA.load`), included by every forward pass while enabled.
    public var lora: LoRA?
    /// Parameters that get gradients: the unfrozen base parameters and the adapter's.
    public var trainableParameters: [Parameter] { parameters.filter { !$0.frozen } + (lora?.parameters ?? []) }

    /// A model of shape `c` with zero weights and LayerNorm weights 1 (see `initialize(seed:)`).
    public init(config c: GPT2Config) {
        config = c
        let E = c.nEmbd
        wte = Parameter("wte.weight", [c.vocabSize, E])
        wpe = Parameter("wpe.weight", [c.nPositions, E])
        var ps = [wte, wpe]
        var bs: [Block] = []
        for i in 0..<c.nLayer {
            let p = "h.\(i)."
            let b = Block(ln1w: Parameter(p + "ln_1.weight", [E]), ln1b: Parameter(p + "ln_1.bias", [E]),
                          attnW: Parameter(p + "attn.c_attn.weight", [E, 3 * E]),
                          attnB: Parameter(p + "attn.c_attn.bias", [3 * E]),
                          projW: Parameter(p + "attn.c_proj.weight", [E, E]),
                          projB: Parameter(p + "attn.c_proj.bias", [E]),
                          ln2w: Parameter(p + "ln_2.weight", [E]), ln2b: Parameter(p + "ln_2.bias", [E]),
                          fcW: Parameter(p + "mlp.c_fc.weight", [E, c.inner]),
                          fcB: Parameter(p + "mlp.c_fc.bias", [c.inner]),
                          fcProjW: Parameter(p + "mlp.c_proj.weight", [c.inner, E]),
                          fcProjB: Parameter(p + "mlp.c_proj.bias", [E]))
            bs.append(b)
            ps += [b.ln1w, b.ln1b, b.attnW, b.attnB, b.projW, b.projB,
                   b.ln2w, b.ln2b, b.fcW, b.fcB, b.fcProjW, b.fcProjB]
        }
        blocks = bs
        lnfW = Parameter("ln_f.weight", [E])
        lnfB = Parameter("ln_f.bias", [E])
        parameters = ps + [lnfW, lnfB]
        for b in blocks { b.ln1w.value.p.update(repeating: 1, count: E); b.ln2w.value.p.update(repeating: 1, count: E) }
        lnfW.value.p.update(repeating: 1, count: E)
    }

    /// A model over existing parameter objects (shared, not copied).
    init(config c: GPT2Config, wte: Parameter, wpe: Parameter, blocks: [Block], lnfW: Parameter, lnfB: Parameter) {
        config = c
        self.wte = wte; self.wpe = wpe; self.blocks = blocks; self.lnfW = lnfW; self.lnfB = lnfB
        var ps = [wte, wpe]
        for b in blocks {
            ps += [b.ln1w, b.ln1b, b.attnW, b.attnB, b.projW, b.projB,
                   b.ln2w, b.ln2b, b.fcW, b.fcB, b.fcProjW, b.fcProjB]
        }
        parameters = ps + [lnfW, lnfB]
    }

    /// GPT-2 initialisation: weights and embeddings normal(0, 0.02), the residual projections (`c_proj`)
    /// normal(0, 0.02/√(2·n_layer)), biases 0, LayerNorm weight 1 and bias 0. Parameters are filled in
    /// transformers' order from one generator, so a seed gives one model.
    public func initialize(seed: UInt64) {
        var rng = Xoshiro256(seed: seed)
        let projStd = 0.02 / (2.0 * Double(config.nLayer)).squareRoot()
        for p in parameters {
            if p.name.hasSuffix("ln_1.weight") || p.name.hasSuffix("ln_2.weight") || p.name == "ln_f.weight" {
                p.value.p.update(repeating: 1, count: p.count)
            } else if p.shape.count == 1 {
                p.value.zero()
            } else {
                let std = p.name.hasSuffix("c_proj.weight") ? projStd : 0.02
                for i in 0..<p.count { p.value.p[i] = Float(rng.normal() * std) }
            }
        }
    }

    /// Number of base-model parameters (the adapter's excluded).
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// Zeroes the gradient of every trainable parameter.
    public func zeroGrad() { for p in trainableParameters { p.grad.zero() } }
}

// MARK: - Kernels

/// tanh through one expf: 1 − 2/(e^{2u} + 1) (absolute error ~1e-7; saturates correctly at ±∞). Faster
/// than glibc's tanhf, and gelu only needs tanh's absolute accuracy.
@inline(__always) func fastTanh(_ u: Float) -> Float {
    1 - 2 / (expf(2 * u) + 1)
}

/// gelu_new: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
@inline(__always) func geluNew(_ x: Float) -> Float {
    let c: Float = 0.7978845608028654
    return 0.5 * x * (1 + fastTanh(c * (x + 0.044715 * x * x * x)))
}

@inline(__always) func geluNewGrad(_ x: Float) -> Float {
    let c: Float = 0.7978845608028654
    let t = fastTanh(c * (x + 0.044715 * x * x * x))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
}

/// LayerNorm over rows of width `e`; saves mean and 1/σ per row for the backward pass.
func layerNorm(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
               _ out: UnsafeMutablePointer<Float>, _ mean: UnsafeMutablePointer<Float>?,
               _ rstd: UnsafeMutablePointer<Float>?, rows: Int, e: Int, eps: Float) {
    parallelRows(rows) { range in
        for r in range {
            let xr = x + r * e, o = out + r * e
            var s: Float = 0
            for i in 0..<e { s += xr[i] }
            let m = s / Float(e)
            var v: Float = 0
            for i in 0..<e { let d = xr[i] - m; v += d * d }
            let rs = 1 / (v / Float(e) + eps).squareRoot()
            for i in 0..<e { o[i] = (xr[i] - m) * rs * w[i] + b[i] }
            mean?[r] = m
            rstd?[r] = rs
        }
    }
}

/// The rows of one chunk of `layerNormBackward`'s weight-gradient reduction.
let layerNormChunk = 64

/// Floats of `layerNormBackward`'s `partial` scratch for `rows` rows of width `e`.
func layerNormPartials(rows: Int, e: Int) -> Int { (rows + layerNormChunk - 1) / layerNormChunk * 2 * e }

/// Backward of LayerNorm: adds to dx, dw, db. dw/db are reduced per fixed chunk of rows into `partial`
/// (`layerNormPartials(rows:e:)` floats of scratch) and summed in order.
func layerNormBackward(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                       _ mean: UnsafePointer<Float>, _ rstd: UnsafePointer<Float>,
                       _ dx: UnsafeMutablePointer<Float>, _ dw: UnsafeMutablePointer<Float>?,
                       _ db: UnsafeMutablePointer<Float>?, rows: Int, e: Int, partial pp: UnsafeMutablePointer<Float>) {
    let chunk = layerNormChunk
    let chunks = (rows + chunk - 1) / chunk
    pp.update(repeating: 0, count: chunks * 2 * e)
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        let pw = pp + c * 2 * e, pb = pw + e
        for r in (c * chunk)..<min(rows, (c + 1) * chunk) {
            let xr = x + r * e, dyr = dy + r * e, dxr = dx + r * e
            let m = mean[r], rs = rstd[r]
            var sum1: Float = 0, sum2: Float = 0
            for i in 0..<e {
                let xh = (xr[i] - m) * rs
                let dxh = dyr[i] * w[i]
                sum1 += dxh
                sum2 += dxh * xh
                pw[i] += dyr[i] * xh
                pb[i] += dyr[i]
            }
            let m1 = sum1 / Float(e), m2 = sum2 / Float(e)
            for i in 0..<e {
                let xh = (xr[i] - m) * rs
                dxr[i] += rs * (dyr[i] * w[i] - m1 - xh * m2)
            }
        }
    }
    if let dw, let db {
        for c in 0..<chunks {
            let pw = pp + c * 2 * e, pb = pw + e
            for i in 0..<e { dw[i] += pw[i]; db[i] += pb[i] }
        }
    }
}

/// y[rows×out] = x[rows×in] · W[in×out] + b.
func linear(_ x: UnsafePointer<Float>, _ w: Parameter, _ b: Parameter?, _ y: UnsafeMutablePointer<Float>,
            rows: Int, inDim: Int, outDim: Int) {
    if let b {
        let bp = b.value.p
        parallelRows(rows) { range in
            for r in range { (y + r * outDim).update(from: bp, count: outDim) }
        }
    }
    gemm(false, false, rows, outDim, inDim, 1, x, inDim, w.value.p, outDim, b == nil ? 0 : 1, y, outDim)
}

/// Backward of `linear`: dx += dy·Wᵀ (when dx given); dW += xᵀ·dy and db += Σ dy unless frozen (`ones`: at
/// least `rows` ones, for that sum as an sgemv).
func linearBackward(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ w: Parameter, _ b: Parameter?,
                    _ dx: UnsafeMutablePointer<Float>?, rows: Int, inDim: Int, outDim: Int,
                    ones: UnsafePointer<Float>) {
    if let dx { gemm(false, true, rows, inDim, outDim, 1, dy, outDim, w.value.p, outDim, 1, dx, inDim) }
    if !w.frozen { gemm(true, false, inDim, outDim, rows, 1, x, inDim, dy, outDim, 1, w.grad.p, outDim) }
    if let b, !b.frozen {
        cblas_sgemv(CblasRowMajor, CblasTrans, Int32(rows), Int32(outDim), 1, dy, Int32(outDim), ones, 1, 1,
                    b.grad.p, 1)
    }
}
