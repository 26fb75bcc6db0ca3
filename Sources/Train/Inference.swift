import COpenBLAS
import Foundation

/// Keys and values of every layer for a fixed number of sequences, each up to n_positions long.
public final class KVCache {
    /// Number of sequences the cache holds.
    public let sequences: Int
    let capacity: Int
    let keys: [FloatBuffer]
    let values: [FloatBuffer]
    /// Tokens stored per sequence.
    public private(set) var lengths: [Int]

    /// An empty cache for `sequences` sequences of up to `capacity` tokens (at most n_positions).
    public init(config c: GPT2Config, sequences: Int, capacity: Int? = nil) {
        self.sequences = sequences
        self.capacity = min(capacity ?? c.nPositions, c.nPositions)
        let n = sequences * self.capacity * c.nEmbd
        keys = (0..<c.nLayer).map { _ in FloatBuffer(n) }
        values = (0..<c.nLayer).map { _ in FloatBuffer(n) }
        lengths = Array(repeating: 0, count: sequences)
    }

    /// Empties every sequence.
    public func reset() { lengths = Array(repeating: 0, count: sequences) }
}

/// Incremental forward pass with a KV cache. One call takes any set of new tokens, each belonging to a
/// sequence at the next position(s) of that sequence: a prompt's prefill is many tokens of one sequence, a
/// decoding step one token of each live sequence. Matrix products run over all the tokens of the call at once.
public final class Decoder {
    /// The model decoded.
    public let model: GPT2
    /// The keys and values fed so far.
    public let cache: KVCache

    /// The weights repacked for decoding steps of several sequences (nil for one sequence, whose steps are
    /// bound by reading the weights, which the unpacked kernels do at the same speed without the copy).
    let packed: FewRows.Packed?

    /// A decoder for `sequences` sequences of up to `capacity` tokens. With two or more sequences the weights
    /// are repacked (a copy, made now: the model must not change while the decoder is used).
    public init(model: GPT2, sequences: Int, capacity: Int? = nil) {
        self.model = model
        cache = KVCache(config: model.config, sequences: sequences, capacity: capacity)
        packed = sequences >= 2 ? FewRows.Packed(model) : nil
    }

    /// Feeds `tokens[i]` to sequence `seqs[i]` (appended after what the sequence holds; a sequence's tokens
    /// must appear in order). Returns the logits [V] of the rows listed in `logitsFor` (indices into tokens).
    public func feed(tokens: [Int32], seqs: [Int], logitsFor: [Int]) throws -> [[Float]] {
        let c = model.config
        let N = tokens.count, E = c.nEmbd, H = c.nHead, D = c.headDim, V = c.vocabSize
        let cap = cache.capacity
        var positions = [Int](repeating: 0, count: N)
        var lengths = cache.lengths
        for i in 0..<N {
            let s = seqs[i]
            guard lengths[s] < cap else {
                throw TrainError.usage("sequence \(s) is longer than the model's \(cap) positions")
            }
            guard tokens[i] >= 0 && Int(tokens[i]) < V else {
                throw TrainError.usage("token id \(tokens[i]) is outside the vocabulary (0..<\(V))")
            }
            positions[i] = lengths[s]
            lengths[s] += 1
        }
        let w = workspace(rows: N, logits: logitsFor.count)
        let x = w.x.p, wte = model.wte.value.p
        tokens.withUnsafeBufferPointer { tk in
            Layers.embeddingForward(x, tokens: tk, positions: { positions[$0] }, wte: wte, wpe: model.wpe.value.p,
                                    rows: N, e: E)
        }
        // A decoding step's few rows go through the few-row kernels; a prefill's many through OpenBLAS.
        let few = N <= FewRows.maxRows
        let lora = model.lora.map { lora -> LoRAActs in
            if let a = w.lora, a.u.count >= w.rows * lora.r { return a }
            let a = LoRAActs(rows: w.rows, r: lora.r, inDim: 0, dropout: false)
            w.lora = a
            return a
        }
        // One residual stream (out = input); LN1 and LN2 share a buffer; GELU in place.
        let io = BlockBuffers(input: x, ln1: w.h.p, qkv: w.qkv.p, attOut: w.ao.p, res1: w.res1.p, ln2: w.h.p,
                              fc: w.fc.p, gelu: w.fc.p, out: x)
        for l in 0..<model.blocks.count {
            let kc = cache.keys[l].p, vc = cache.values[l].p
            Layers.blockForward(model, layer: l, io, rows: N, few: few, packed: packed, acts: { _ in lora }) { qkv, ao in
                for i in 0..<N {
                    let off = (seqs[i] * cap + positions[i]) * E
                    (kc + off).update(from: qkv + i * 3 * E + E, count: E)
                    (vc + off).update(from: qkv + i * 3 * E + 2 * E, count: E)
                }
                Layers.attentionDecode(qkv, keys: kc, values: vc, capacity: cap, seqs: seqs, positions: positions,
                                       ao, scores: w.scores.p, span: cap, rows: N, h: H, d: D)
            }
        }
        for i in 0..<N { cache.lengthsSet(seqs[i], positions[i] + 1) }
        guard !logitsFor.isEmpty else { return [] }
        let M = logitsFor.count
        for (r, i) in logitsFor.enumerated() { (w.sel.p + r * E).update(from: x + i * E, count: E) }
        layerNorm(w.sel.p, model.lnfW.value.p, model.lnfB.value.p, w.normed.p, nil, nil, rows: M, e: E,
                  eps: c.layerNormEpsilon)
        Layers.lmHead(w.normed.p, wte: wte, w.logits.p, runs: [0..<M], e: E, v: V, few: M <= FewRows.maxRows,
                      packed: packed)
        return (0..<M).map { Array(UnsafeBufferPointer(start: w.logits.p + $0 * V, count: V)) }
    }

    /// Buffers of a `feed` of up to `rows` tokens, kept between calls: sized for the largest call so far, so that
    /// decoding steps allocate nothing.
    final class Workspace {
        let rows: Int, logitRows: Int
        let x, h, qkv, ao, res1, fc, scores: FloatBuffer
        let sel, normed, logits: FloatBuffer
        var lora: LoRAActs?

        init(_ c: GPT2Config, rows: Int, logitRows: Int, span: Int) {
            self.rows = rows; self.logitRows = logitRows
            let E = c.nEmbd
            x = FloatBuffer(rows * E); h = FloatBuffer(rows * E); qkv = FloatBuffer(rows * 3 * E)
            ao = FloatBuffer(rows * E); res1 = FloatBuffer(rows * E); fc = FloatBuffer(rows * c.inner)
            scores = FloatBuffer(rows * c.nHead * span)
            sel = FloatBuffer(logitRows * E); normed = FloatBuffer(logitRows * E)
            logits = FloatBuffer(logitRows * c.vocabSize)
        }
    }

    var work: Workspace?

    func workspace(rows: Int, logits: Int) -> Workspace {
        if let w = work, w.rows >= rows, w.logitRows >= logits { return w }
        let w = Workspace(model.config, rows: max(rows, work?.rows ?? 0), logitRows: max(logits, work?.logitRows ?? 0),
                          span: cache.capacity)
        work = w
        return w
    }
}

extension KVCache {
    func lengthsSet(_ s: Int, _ n: Int) { lengths[s] = n }
}

/// How to pick the next token: greedy (argmax, as generate(do_sample=False)) or sampling with temperature,
/// then top-k, then top-p (nucleus), in transformers' order.
public struct SamplingOptions: Sendable {
    /// Tokens generated per sequence at most.
    public var maxNewTokens = 64
    /// Always pick the most likely token (the other options then do not apply).
    public var greedy = false
    /// Temperature the logits are divided by.
    public var temperature: Float = 1
    /// Keep only the k most likely tokens (0: off).
    public var topK = 0
    /// Keep the smallest set of tokens whose mass reaches top-p (1: off).
    public var topP: Float = 1
    /// Stop a sequence at this token (nil: only at the length limit).
    public var eosTokenId: Int?
    /// Random seed of the draws.
    public var seed: UInt64 = 0
    /// The defaults (sampling at temperature 1, 64 tokens).
    public init() {}
}

/// Token selection and batched generation with the KV cache.
public enum Generator {
    /// Picks a token from `logits` (modified in place), in O(V) plus a sort of the kept candidates only:
    /// temperature, then top-k (every token tied with the k-th is kept, as transformers' `TopKLogitsWarper`), then
    /// top-p over the candidates (a token is kept while the mass before it, in descending order, is below top_p,
    /// as `TopPLogitsWarper`; at least one), then one draw from the renormalised softmax. The full vocabulary
    /// (no top-k, top-p 1) is drawn from in index order, a filtered set in descending order of logit (ties: lower
    /// id first); either way the same seed gives the same tokens.
    static func pick(_ logits: inout [Float], _ o: SamplingOptions, _ rng: inout Xoshiro256) -> Int {
        let V = logits.count
        if o.greedy || o.temperature == 0 {
            var best = 0
            for i in 1..<V where logits[i] > logits[best] { best = i }
            return best
        }
        var mx = -Float.infinity
        for i in 0..<V { logits[i] /= o.temperature; if logits[i] > mx { mx = logits[i] } }
        var threshold = -Float.infinity
        if o.topK > 0 && o.topK < V { threshold = kthLargest(logits, o.topK) }
        if threshold == -Float.infinity && o.topP >= 1 {
            // The whole vocabulary: the weights once, then one walk for the draw.
            var weights = [Double](repeating: 0, count: V)
            var sum = 0.0
            for i in 0..<V { weights[i] = Foundation.exp(Double(logits[i] - mx)); sum += weights[i] }
            var u = rng.uniform() * sum
            for i in 0..<V {
                u -= weights[i]
                if u < 0 { return i }
            }
            return V - 1
        }
        var kept: [(id: Int, logit: Float, weight: Double)] = []
        var sum = 0.0
        for i in 0..<V where logits[i] >= threshold {
            let w = Foundation.exp(Double(logits[i] - mx))
            kept.append((i, logits[i], w))
            sum += w
        }
        if o.topP < 1 {
            // The nucleus holds only tokens with probability ≥ (1 − top_p) / n: the others together weigh at most
            // 1 − top_p, so the heavier ones alone reach top_p. Only those are sorted.
            let floor = (1 - Double(o.topP)) / Double(kept.count) * sum
            kept.removeAll { $0.weight < floor }
        }
        kept.sort { $0.logit > $1.logit || ($0.logit == $1.logit && $0.id < $1.id) }
        let candidates = kept.map(\.id)
        var probs = kept.map(\.weight)
        var keep = candidates.count
        if o.topP < 1 {
            var before = 0.0, cut = keep
            for r in 0..<keep {
                if before / sum >= Double(o.topP) { cut = r; break }
                before += probs[r]
            }
            keep = max(1, cut)
            sum = probs[0..<keep].reduce(0, +)
            probs.removeSubrange(keep...)
        }
        var u = rng.uniform() * sum
        for r in 0..<keep {
            u -= probs[r]
            if u < 0 { return candidates[r] }
        }
        return candidates[keep - 1]
    }

    /// The k-th largest value of `values` (1-based), by selection (expected O(n)); NaN-free input.
    static func kthLargest(_ values: [Float], _ k: Int) -> Float {
        var a = values
        var lo = 0, hi = a.count - 1
        let target = k - 1  // index in descending order
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        while lo < hi {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let pivot = a[lo + Int((state >> 33) % UInt64(hi - lo + 1))]
            var i = lo, j = hi
            while i <= j {  // Hoare partition, descending: [lo, j] ≥ pivot ≥ [i, hi]
                while a[i] > pivot { i += 1 }
                while a[j] < pivot { j -= 1 }
                if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
            }
            if target <= j { hi = j } else if target >= i { lo = i } else { return a[target] }
        }
        return a[target]
    }

    /// Generates continuations for every prompt at once (one KV cache row per prompt); each stops at EOS
    /// (included in its output), after `maxNewTokens`, or at the model's last position.
    public static func generate(model: GPT2, prompts: [[Int]], options o: SamplingOptions) throws -> [[Int]] {
        guard !prompts.isEmpty else { return [] }
        let P = model.config.nPositions
        for (i, p) in prompts.enumerated() {
            guard !p.isEmpty else { throw TrainError.usage("prompt \(i + 1) is empty") }
            guard p.count < P else {
                throw TrainError.usage("prompt \(i + 1) has \(p.count) tokens; the model has \(P) positions")
            }
        }
        let capacity = min(P, prompts.map(\.count).max()! + o.maxNewTokens)
        let dec = Decoder(model: model, sequences: prompts.count, capacity: capacity)
        var rng = Xoshiro256(seed: o.seed)
        var tokens: [Int32] = [], seqs: [Int] = [], last: [Int] = []
        for (s, p) in prompts.enumerated() {
            tokens += p.map { Int32($0) }
            seqs += Array(repeating: s, count: p.count)
            last.append(tokens.count - 1)
        }
        var logits = try dec.feed(tokens: tokens, seqs: seqs, logitsFor: last)
        var out = Array(repeating: [Int](), count: prompts.count)
        var live = Array(0..<prompts.count)
        while !live.isEmpty {
            var next: [Int32] = [], nextSeqs: [Int] = []
            for (r, s) in live.enumerated() {
                let t = pick(&logits[r], o, &rng)
                out[s].append(t)
                let done = t == o.eosTokenId || out[s].count >= o.maxNewTokens || dec.cache.lengths[s] >= capacity
                if !done { next.append(Int32(t)); nextSeqs.append(s) }
            }
            live = nextSeqs
            if live.isEmpty { break }
            logits = try dec.feed(tokens: next, seqs: nextSeqs, logitsFor: Array(0..<next.count))
        }
        return out
    }
}
