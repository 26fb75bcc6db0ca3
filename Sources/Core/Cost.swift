import Foundation

/// The shape of a transformer as the cost model needs it: GPT-2 (decoder, LM head) or BERT (encoder, no head).
public struct TransformerShape: Equatable, Sendable {
    /// Blocks.
    public var layers: Int
    /// Width of the residual stream.
    public var width: Int
    /// Width of the MLP.
    public var inner: Int
    /// Rows of the LM head (0: an encoder without a head, as the sentence embedder).
    public var vocab: Int

    public init(layers: Int, width: Int, inner: Int, vocab: Int) {
        self.layers = layers; self.width = width; self.inner = inner; self.vocab = vocab
    }

    /// Weights that multiply every token in the blocks: Q, K, V, the attention output, and the two MLP matrices.
    public var blockMatrixParameters: Int { layers * (4 * width * width + 2 * width * inner) }
    /// Weights of the LM head (tied to the token embedding in GPT-2).
    public var headParameters: Int { vocab * width }
}

/// FLOPs and bytes of the work the benchmarks time: the one place this accounting lives.
///
/// A matrix product of m×k by k×n is 2·m·n·k FLOPs. Attention over a context of `c` positions is 4·c·width FLOPs
/// per query token and layer (scores and the weighted sum), counted over the whole context as PaLM's model-FLOPs
/// count does (a causal kernel may skip the masked half; the bound then is conservative by at most that).
/// Layer norms, GELU, softmax and the optimizer are left out: they are O(width) per token against the O(width²)
/// products. Backward is twice forward (the gradients of inputs and of weights). Bytes are the least that must
/// cross the memory bus: every fp32 weight read once per step, and in decoding the KV cache read once.
public enum Cost {
    /// Forward FLOPs for `tokens` tokens, each attending over `context` positions; `headTokens` of them (default:
    /// all) go through the LM head.
    public static func forward(_ s: TransformerShape, tokens: Int, context: Int, headTokens: Int? = nil) -> Double {
        let t = Double(tokens)
        return 2 * t * Double(s.blockMatrixParameters) + 4 * t * Double(s.layers * context * s.width)
            + 2 * Double(headTokens ?? tokens) * Double(s.headParameters)
    }

    /// One training step of every weight on `batch` sequences of `seq` tokens (causal: the mean context is
    /// counted as the full `seq`, PaLM's 6·N + 12·L·T·E per token).
    public static func trainStep(_ s: TransformerShape, batch: Int, seq: Int) -> Double {
        3 * forward(s, tokens: batch * seq, context: seq)
    }

    /// One LoRA training step: the frozen weights need the forward and the input gradients (2× forward), not
    /// their own gradients; the adapters (rank `rank` on `adaptedPerLayer` width×width matrices per block) cost
    /// 6 FLOPs per parameter and token. `headTokens` tokens go through the LM head (the loss's positions).
    public static func loraStep(_ s: TransformerShape, batch: Int, seq: Int, rank: Int, adaptedPerLayer: Int,
                                headTokens: Int? = nil) -> Double {
        let tokens = batch * seq
        let lora = Double(s.layers * adaptedPerLayer * rank * 2 * s.width)
        return 2 * forward(s, tokens: tokens, context: seq, headTokens: headTokens) + 6 * Double(tokens) * lora
    }

    /// Bytes a training step must move at least: the fp32 weights read in the forward and in the backward, their
    /// gradients written, and AdamW reading weight, gradient and both moments and writing weight and moments.
    public static func trainStepBytes(_ s: TransformerShape) -> Double {
        10 * 4 * Double(s.blockMatrixParameters + s.headParameters)
    }

    /// Bytes a LoRA step must move at least: the frozen weights read in the forward and in the backward.
    public static func loraStepBytes(_ s: TransformerShape) -> Double {
        2 * 4 * Double(s.blockMatrixParameters + s.headParameters)
    }

    /// One decoding step of `batch` sequences at context `context` (the new token attends over it).
    public static func decodeStep(_ s: TransformerShape, batch: Int, context: Int) -> Double {
        forward(s, tokens: batch, context: context)
    }

    /// Bytes a decoding step must read: every weight once (fp32) and the K and V of `context` positions of every
    /// layer for each sequence.
    public static func decodeStepBytes(_ s: TransformerShape, batch: Int, context: Int) -> Double {
        4 * Double(s.blockMatrixParameters + s.headParameters) + 4 * Double(batch * s.layers * 2 * context * s.width)
    }

    /// Generating `newTokens` tokens for `batch` sequences after a `prompt`-token prefill: FLOPs and bytes.
    public static func generate(_ s: TransformerShape, batch: Int, prompt: Int, newTokens: Int)
        -> (flops: Double, bytes: Double) {
        var flops = forward(s, tokens: batch * prompt, context: prompt, headTokens: batch)
        var bytes = 4 * Double(s.blockMatrixParameters + s.headParameters)
        for k in 1..<max(newTokens, 1) {
            flops += decodeStep(s, batch: batch, context: prompt + k)
            bytes += decodeStepBytes(s, batch: batch, context: prompt + k)
        }
        return (flops, bytes)
    }

    /// One GRPO step: `completions` completions of `completion` tokens generated after `prompt`-token prompts
    /// (batched together: the least work), the LoRA policy's forward and backward over prompt + completion with
    /// the LM head only where the loss reads (the completion), and, with `reference`, the frozen reference model's
    /// forward over the same rows. FLOPs and bytes.
    public static func grpoStep(_ s: TransformerShape, completions: Int, prompt: Int, completion: Int, rank: Int,
                                adaptedPerLayer: Int, reference: Bool) -> (flops: Double, bytes: Double) {
        let g = generate(s, batch: completions, prompt: prompt, newTokens: completion)
        let seq = prompt + completion, head = completions * completion
        var flops = g.flops + loraStep(s, batch: completions, seq: seq, rank: rank, adaptedPerLayer: adaptedPerLayer,
                                       headTokens: head)
        var bytes = g.bytes + loraStepBytes(s)
        if reference {
            flops += forward(s, tokens: completions * seq, context: seq, headTokens: head)
            bytes += 4 * Double(s.blockMatrixParameters + s.headParameters)
        }
        return (flops, bytes)
    }

    /// Encoding `lengths` sequences with an encoder (the sentence embedder): each attends over its own length.
    public static func encode(_ s: TransformerShape, lengths: [Int]) -> Double {
        lengths.reduce(0) { $0 + forward(s, tokens: $1, context: $1, headTokens: 0) }
    }
}

/// The hardware's limits measured on this machine, and the time they allow for a piece of work.
public struct Roofline: Codable, Equatable, Sendable {
    /// Measured sgemm throughput, FLOP/s.
    public var flopsPerSecond: Double
    /// Measured memory bandwidth, bytes/s.
    public var bytesPerSecond: Double

    public init(flopsPerSecond: Double, bytesPerSecond: Double) {
        self.flopsPerSecond = flopsPerSecond; self.bytesPerSecond = bytesPerSecond
    }

    /// The least time the work can take: FLOPs ÷ peak or bytes ÷ bandwidth, whichever is larger.
    public func bound(flops: Double, bytes: Double) -> Double {
        max(flops / flopsPerSecond, bytes / bytesPerSecond)
    }

    /// Which limit binds: "compute" or "memory".
    public func limit(flops: Double, bytes: Double) -> String {
        flops / flopsPerSecond >= bytes / bytesPerSecond ? "compute" : "memory"
    }

    /// The share of the bound a measured time achieves (1 = at the bound).
    public func fraction(flops: Double, bytes: Double, seconds: Double) -> Double {
        bound(flops: flops, bytes: bytes) / seconds
    }
}

extension TransformerShape {
    /// The shape in a transformers `config.json`: GPT-2 keys (`n_layer`, `n_embd`, `n_inner`, `vocab_size`) or BERT
    /// keys (`num_hidden_layers`, `hidden_size`, `intermediate_size`; an encoder, so no LM head).
    public init(configJSON path: String) throws {
        let bytes = try ByteReader(path: path).readAll()
        guard let o = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw CoreError.corrupt(path: path, reason: "not a JSON object")
        }
        func int(_ k: String) -> Int? { (o[k] as? NSNumber)?.intValue }
        if let l = int("n_layer"), let e = int("n_embd"), let v = int("vocab_size") {
            self.init(layers: l, width: e, inner: int("n_inner") ?? 4 * e, vocab: v)
        } else if let l = int("num_hidden_layers"), let e = int("hidden_size"), let i = int("intermediate_size") {
            self.init(layers: l, width: e, inner: i, vocab: 0)
        } else {
            throw CoreError.corrupt(path: path, reason: "neither GPT-2 (n_layer, n_embd, vocab_size) nor BERT "
                                   + "(num_hidden_layers, hidden_size, intermediate_size) keys")
        }
    }
}
