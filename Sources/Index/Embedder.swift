import COpenBLAS
import Core
import Foundation
import Tokenize

/// How token vectors become one sentence vector (from `1_Pooling/config.json`).
public enum Pooling: String, Sendable {
    case mean, cls
}

/// A sentence-transformers BERT encoder computed natively on OpenBLAS: WordPiece ids → embeddings (word +
/// position + token type 0, LayerNorm) → N encoder layers (self-attention, exact-erf GELU feed-forward,
/// post-LayerNorm) → mean (or CLS) pooling over the real tokens → L2 normalisation.
///
/// Sequences of a batch are packed row after row: the dense layers see one `[rows, hidden]` matrix, attention runs
/// per sequence and head. Texts are sorted by length into batches.
///
/// Batch-invariant: a text's vector does not depend on which other texts share its batch, bit for bit. BLAS kernels
/// compute the rows of a partial register tile (the last few rows of a call) with other instruction sequences than
/// full tiles, so each sequence starts at a multiple of `rowAlignment` rows and is padded to one (zero rows whose
/// results are dropped), and the row blocks handed to the cores are cut at those multiples: every real row then
/// sits in a full tile at the same place relative to its sequence, whatever the batch.
public final class SentenceEmbedder: @unchecked Sendable {
    /// The model folder.
    public let folder: String
    /// The model's WordPiece tokenizer.
    public let tokenizer: WordPieceTokenizer
    /// Length of the embeddings.
    public let dimension: Int
    /// Tokens per input at most (longer inputs are truncated).
    public let maxSeqLength: Int
    /// How token vectors are pooled into one embedding.
    public let pooling: Pooling
    /// The model's name (the folder's last component).
    public let modelName: String
    /// Tokens per packed batch (the dense layers' row count).
    public var batchTokens = 8192
    /// Rows each sequence is aligned and padded to: a multiple of the sgemm kernels' column blocks (OpenBLAS
    /// Haswell/Zen work in blocks of 12 and 8 rows, SkylakeX in 16 and 8; measured: 16 is not enough on Haswell,
    /// 12 and 24 are).
    static let rowAlignment = 24

    let hidden: Int, heads: Int, headDim: Int, intermediate: Int, eps: Float
    let wordEmb: [Float], posEmb: [Float], typeEmb: [Float], embLNg: [Float], embLNb: [Float]
    let layers: [Layer]

    struct Layer {
        var qkvW: [Float], qkvB: [Float]          // [3H, H], [3H]
        var attnOutW: [Float], attnOutB: [Float]  // [H, H]
        var ln1g: [Float], ln1b: [Float]
        var interW: [Float], interB: [Float]      // [I, H]
        var outW: [Float], outB: [Float]          // [H, I]
        var ln2g: [Float], ln2b: [Float]
    }

    /// Loads the sentence-transformers model in `folder`; an error for a missing file or an unsupported config.
    public init(folder: String) throws {
        self.folder = folder
        modelName = URL(fileURLWithPath: folder).standardizedFileURL.lastPathComponent
        func json(_ name: String, required: Bool) throws -> [String: Any]? {
            let p = folder + "/" + name
            guard let d = FileManager.default.contents(atPath: p) else {
                if required {
                    throw IndexError.model(path: p, reason: "missing (is the model folder complete? run `make model`)")
                }
                return nil
            }
            guard let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else {
                throw IndexError.model(path: p, reason: "not a JSON object")
            }
            return o
        }
        let configPath = folder + "/config.json"
        let config = try json("config.json", required: true)!
        func int(_ k: String) throws -> Int {
            guard let v = config[k] as? Int, v > 0 else {
                throw IndexError.model(path: configPath, reason: "no positive integer \(k)")
            }
            return v
        }
        if let t = config["model_type"] as? String, t != "bert" {
            throw IndexError.model(path: configPath, reason: "model_type \(t) is not bert")
        }
        if let act = config["hidden_act"] as? String, act != "gelu" {
            throw IndexError.model(path: configPath, reason: "hidden_act \(act) is not supported (only exact gelu)")
        }
        if let pe = config["position_embedding_type"] as? String, pe != "absolute" {
            throw IndexError.model(path: configPath, reason: "position_embedding_type \(pe) is not supported")
        }
        hidden = try int("hidden_size")
        heads = try int("num_attention_heads")
        guard hidden % heads == 0 else {
            throw IndexError.model(path: configPath, reason: "hidden_size is not a multiple of num_attention_heads")
        }
        headDim = hidden / heads
        intermediate = try int("intermediate_size")
        let nLayers = try int("num_hidden_layers")
        let vocabSize = try int("vocab_size")
        let maxPos = try int("max_position_embeddings")
        let typeVocab = (config["type_vocab_size"] as? Int) ?? 2
        eps = Float((config["layer_norm_eps"] as? Double) ?? 1e-12)

        let sbert = try json("sentence_bert_config.json", required: false)
        maxSeqLength = min((sbert?["max_seq_length"] as? Int) ?? maxPos, maxPos)
        let poolPath = folder + "/1_Pooling/config.json"
        if let pool = try json("1_Pooling/config.json", required: false) {
            let cls = (pool["pooling_mode_cls_token"] as? Bool) ?? false
            let mean = (pool["pooling_mode_mean_tokens"] as? Bool) ?? false
            let other = ["pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                         "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"]
                .contains { (pool[$0] as? Bool) == true }
            guard cls != mean, !other else {
                throw IndexError.model(path: poolPath, reason: "only one of mean or CLS pooling is supported")
            }
            pooling = cls ? .cls : .mean
            if let d = pool["word_embedding_dimension"] as? Int, d != hidden {
                throw IndexError.model(path: poolPath,
                                       reason: "word_embedding_dimension \(d) differs from hidden_size \(hidden)")
            }
        } else {
            pooling = .mean
        }
        dimension = hidden
        tokenizer = try WordPieceTokenizer(folder: folder)

        let st = try SafeTensors(path: folder + "/model.safetensors")
        let prefix = st.entries["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        let H = hidden, I = intermediate
        func t(_ name: String, _ shape: [Int]) throws -> [Float] { try st.floats(prefix + name, shape: shape) }
        wordEmb = try t("embeddings.word_embeddings.weight", [vocabSize, H])
        posEmb = try t("embeddings.position_embeddings.weight", [maxPos, H])
        typeEmb = try t("embeddings.token_type_embeddings.weight", [typeVocab, H])
        embLNg = try t("embeddings.LayerNorm.weight", [H])
        embLNb = try t("embeddings.LayerNorm.bias", [H])
        var layers: [Layer] = []
        for l in 0..<nLayers {
            let p = "encoder.layer.\(l)."
            let qkvW = try t(p + "attention.self.query.weight", [H, H]) + t(p + "attention.self.key.weight", [H, H])
                + t(p + "attention.self.value.weight", [H, H])
            let qkvB = try t(p + "attention.self.query.bias", [H]) + t(p + "attention.self.key.bias", [H])
                + t(p + "attention.self.value.bias", [H])
            layers.append(Layer(
                qkvW: qkvW, qkvB: qkvB,
                attnOutW: try t(p + "attention.output.dense.weight", [H, H]),
                attnOutB: try t(p + "attention.output.dense.bias", [H]),
                ln1g: try t(p + "attention.output.LayerNorm.weight", [H]),
                ln1b: try t(p + "attention.output.LayerNorm.bias", [H]),
                interW: try t(p + "intermediate.dense.weight", [I, H]),
                interB: try t(p + "intermediate.dense.bias", [I]),
                outW: try t(p + "output.dense.weight", [H, I]), outB: try t(p + "output.dense.bias", [H]),
                ln2g: try t(p + "output.LayerNorm.weight", [H]), ln2b: try t(p + "output.LayerNorm.bias", [H])))
        }
        self.layers = layers
        for id in tokenizer.vocab.values where Int(id) >= vocabSize {
            throw IndexError.model(path: folder, reason: "tokenizer id \(id) exceeds vocab_size \(vocabSize)")
        }
    }

    /// Token ids of `text` as the model sees them: `[CLS] … [SEP]`, at most `maxSeqLength`.
    public func encode(_ text: String) -> [Int32] {
        tokenizer.encode(text, maxLength: maxSeqLength)
    }

    /// L2-normalised embeddings of `texts`, row-major `[texts.count, dimension]`, in input order.
    public func embed(_ texts: [String]) -> [Float] {
        var ids = [[Int32]](repeating: [], count: texts.count)
        ids.withUnsafeMutableBufferPointer { out in
            let n = texts.count
            let parts = min(Machine.cores, max(1, n / 64))
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                for i in stride(from: p, to: n, by: parts) { out[i] = encode(texts[i]) }
            }
        }
        return embed(ids: ids)
    }

    /// Embeddings of already encoded sequences (each with `[CLS]`/`[SEP]`, at most `maxSeqLength` ids).
    public func embed(ids: [[Int32]]) -> [Float] {
        // The cores are shared out here (row blocks, attention jobs); OpenBLAS runs single-threaded inside them,
        // which also makes every row's result independent of how rows are split.
        let blasThreads = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(blasThreads) }
        let order = ids.indices.sorted { ids[$0].count != ids[$1].count ? ids[$0].count < ids[$1].count : $0 < $1 }
        var result = [Float](repeating: 0, count: ids.count * dimension)
        var start = 0
        while start < order.count {
            var end = start, tokens = 0
            while end < order.count, end == start || tokens + ids[order[end]].count <= batchTokens {
                tokens += ids[order[end]].count; end += 1
            }
            let batch = order[start..<end].map { ids[$0] }
            let vecs = forward(batch)
            for (k, i) in order[start..<end].enumerated() {
                for d in 0..<dimension { result[i * dimension + d] = vecs[k * dimension + d] }
            }
            start = end
        }
        return result
    }

    /// The encoder on one packed batch; returns `[batch.count, dimension]` pooled, normalised vectors.
    func forward(_ batch: [[Int32]]) -> [Float] {
        let H = hidden, I = intermediate, H3 = 3 * hidden
        let lengths = batch.map { min($0.count, maxSeqLength) }
        let align = Self.rowAlignment
        var offsets = [Int](repeating: 0, count: batch.count + 1)
        for (i, l) in lengths.enumerated() { offsets[i + 1] = offsets[i] + (l + align - 1) / align * align }
        let T = offsets[batch.count]
        guard T > 0 else { return [Float](repeating: 0, count: batch.count * H) }
        func buffer(_ count: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
            p.initialize(repeating: 0, count: count)  // padding rows stay finite zeros
            return p
        }
        let x = buffer(T * H); defer { x.deallocate() }
        let x1 = buffer(T * H); defer { x1.deallocate() }
        let ctx = buffer(T * H); defer { ctx.deallocate() }
        let qkv = buffer(T * H3); defer { qkv.deallocate() }
        let inter = buffer(T * I); defer { inter.deallocate() }

        // Embeddings.
        for (s, seq) in batch.enumerated() {
            for p in 0..<lengths[s] {
                let row = x + (offsets[s] + p) * H
                let id = Int(seq[p])
                wordEmb.withUnsafeBufferPointer { w in
                    posEmb.withUnsafeBufferPointer { pe in
                        typeEmb.withUnsafeBufferPointer { te in
                            for d in 0..<H { row[d] = w[id * H + d] + pe[p * H + d] + te[d] }
                        }
                    }
                }
            }
        }
        parallelRows(T) { r0, r1 in self.layerNorm(x, rows: r0..<r1, g: self.embLNg, b: self.embLNb) }

        let maxLen = lengths.max() ?? 0
        let workers = Machine.cores
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: workers * maxLen * maxLen)
        defer { scratch.deallocate() }
        let scale = 1 / Float(headDim).squareRoot()
        let jobs = batch.count * heads

        for layer in layers {
            linear(x, rows: T, inDim: H, w: layer.qkvW, b: layer.qkvB, outDim: H3, y: qkv)
            // Self-attention per (sequence, head), spread over the cores.
            DispatchQueue.concurrentPerform(iterations: workers) { wk in
                let sc = scratch + wk * maxLen * maxLen
                var j = wk
                while j < jobs {
                    let s = j / heads, h = j % heads
                    let L = lengths[s], o = offsets[s]
                    let q = qkv + o * H3 + h * headDim
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(L), Int32(L), Int32(headDim), scale,
                                q, Int32(H3), q + H, Int32(H3), 0, sc, Int32(L))
                    for r in 0..<L { EmbedderMath.softmax(sc + r * L, count: L) }
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(L), Int32(headDim), Int32(L), 1,
                                sc, Int32(L), q + 2 * H, Int32(H3), 0, ctx + o * H + h * headDim, Int32(H))
                    j += workers
                }
            }
            linear(ctx, rows: T, inDim: H, w: layer.attnOutW, b: layer.attnOutB, outDim: H, y: x1)
            parallelRows(T) { r0, r1 in
                for i in (r0 * H)..<(r1 * H) { x1[i] += x[i] }
                self.layerNorm(x1, rows: r0..<r1, g: layer.ln1g, b: layer.ln1b)
            }
            linear(x1, rows: T, inDim: H, w: layer.interW, b: layer.interB, outDim: I, y: inter)
            parallelRows(T) { r0, r1 in
                EmbedderMath.gelu(inter + r0 * I, count: (r1 - r0) * I)
            }
            linear(inter, rows: T, inDim: I, w: layer.outW, b: layer.outB, outDim: H, y: x)
            parallelRows(T) { r0, r1 in
                for i in (r0 * H)..<(r1 * H) { x[i] += x1[i] }
                self.layerNorm(x, rows: r0..<r1, g: layer.ln2g, b: layer.ln2b)
            }
        }

        var out = [Float](repeating: 0, count: batch.count * H)
        for s in 0..<batch.count {
            var v = [Double](repeating: 0, count: H)
            let L = lengths[s]
            switch pooling {
            case .cls:
                for d in 0..<H { v[d] = Double(x[offsets[s] * H + d]) }
            case .mean:
                for p in 0..<L { let row = x + (offsets[s] + p) * H; for d in 0..<H { v[d] += Double(row[d]) } }
                for d in 0..<H { v[d] = Double(Float(v[d]) / Float(L)) }
            }
            var norm = 0.0
            for d in 0..<H { norm += v[d] * v[d] }
            let inv = 1 / max(norm.squareRoot(), 1e-12)
            for d in 0..<H { out[s * H + d] = Float(v[d] * inv) }
        }
        return out
    }

    /// y[rows, outDim] = x[rows, inDim] · wᵀ + b (w is `[outDim, inDim]`, as PyTorch stores Linear weights).
    private func linear(_ x: UnsafePointer<Float>, rows: Int, inDim: Int, w: [Float], b: [Float], outDim: Int,
                        y: UnsafeMutablePointer<Float>) {
        w.withUnsafeBufferPointer { wp in
            b.withUnsafeBufferPointer { bp in
                parallelRows(rows, unit: Self.rowAlignment) { r0, r1 in
                    guard r1 > r0 else { return }
                    for r in r0..<r1 { (y + r * outDim).update(from: bp.baseAddress!, count: outDim) }
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(r1 - r0), Int32(outDim), Int32(inDim), 1,
                                x + r0 * inDim, Int32(inDim), wp.baseAddress, Int32(inDim), 1,
                                y + r0 * outDim, Int32(outDim))
                }
            }
        }
    }

    private func layerNorm(_ x: UnsafeMutablePointer<Float>, rows: Range<Int>, g: [Float], b: [Float]) {
        let H = hidden
        g.withUnsafeBufferPointer { g in
            b.withUnsafeBufferPointer { b in
                for r in rows {
                    let row = x + r * H
                    var mean = 0.0
                    for d in 0..<H { mean += Double(row[d]) }
                    mean /= Double(H)
                    var v = 0.0
                    for d in 0..<H { let t = Double(row[d]) - mean; v += t * t }
                    v /= Double(H)
                    let inv = 1 / (v + Double(eps)).squareRoot()
                    for d in 0..<H { row[d] = Float((Double(row[d]) - mean) * inv) * g[d] + b[d] }
                }
            }
        }
    }

    /// Runs `body` on `Machine.cores` row blocks of `rows`, cut at multiples of `unit` rows.
    private func parallelRows(_ rows: Int, unit: Int = 1, _ body: (Int, Int) -> Void) {
        let units = (rows + unit - 1) / unit
        let parts = rows >= 32 ? min(Machine.cores, units) : 1
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            body(min(rows, units * p / parts * unit), min(rows, units * (p + 1) / parts * unit))
        }
    }
}
