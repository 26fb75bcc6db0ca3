import CKernels
import Foundation

/// Matrix products of a decoding step: a few rows (one new token per sequence) against whole weight matrices.
/// A packed GEMM copies every weight into its panels on each call, which for so few rows costs more than the
/// multiplication; these kernels (Sources/CKernels) read each weight once, the columns split over the cores. Each
/// row's result depends on that row alone, so a sequence's decoding does not depend on the batch it is in.
enum FewRows {
    /// Calls with at most this many rows use the few-row kernels.
    static let maxRows = 16

    /// The column ranges (starting at multiples of `align`) the cores take.
    @inline(__always)
    static func split(_ n: Int, align: Int, _ body: @escaping (Int, Int) -> Void) {
        let parts = min(Compute.threads, max(1, n / 64))
        let per = (n / parts + align - 1) / align * align
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            let c0 = min(n, p * per), c1 = p == parts - 1 ? n : min(n, c0 + per)
            if c1 > c0 { body(c0, c1) }
        }
    }

    /// y[rows, outDim] = x[rows, inDim] · W + b (W is `[inDim, outDim]`, GPT-2's Conv1D layout). With `packed`
    /// (W's strips from `Packed`), the strips are read from it, the same bits.
    static func linear(_ x: UnsafePointer<Float>, _ w: Parameter, _ b: Parameter?, _ y: UnsafeMutablePointer<Float>,
                       rows: Int, inDim: Int, outDim: Int, packed: FloatBuffer? = nil) {
        let wp = UnsafePointer(w.value.p), bp = b.map { UnsafePointer($0.value.p) }
        guard let packed else {
            split(outDim, align: 16) { c0, c1 in
                pl_rows_matmul(x, wp, bp, y, Int32(rows), Int32(inDim), Int32(outDim), Int32(c0), Int32(c1))
            }
            return
        }
        let done = packedProduct(x, packed, bp, y, rows: rows, inDim: inDim, outDim: outDim)
        if done < outDim {
            pl_rows_matmul(x, wp, bp, y, Int32(rows), Int32(inDim), Int32(outDim), Int32(done), Int32(outDim))
        }
    }

    /// The columns of the whole strips of `packed` (split over the cores); returns how many that is (the rest, fewer
    /// than 16, are the caller's).
    static func packedProduct(_ x: UnsafePointer<Float>, _ packed: FloatBuffer, _ bias: UnsafePointer<Float>?,
                              _ y: UnsafeMutablePointer<Float>, rows: Int, inDim: Int, outDim: Int) -> Int {
        let strips = outDim / 16, pp = UnsafePointer(packed.p)
        split(strips * 16, align: 16) { c0, c1 in
            pl_rows_matmul_packed(x, pp, bias, y, Int32(rows), Int32(inDim), Int32(outDim), Int32(c0 / 16),
                                  Int32(c1 / 16))
        }
        return strips * 16
    }

    /// logits[rows, V] = x[rows, E] · wteᵀ (the tied LM head; wte is `[V, E]`). With `packed` (wte's strips from
    /// `Packed`), one FMA chain per logit over the packed strips.
    static func head(_ x: UnsafePointer<Float>, _ wte: UnsafePointer<Float>, _ logits: UnsafeMutablePointer<Float>,
                     rows: Int, width: Int, vocab: Int, packed: FloatBuffer? = nil) {
        guard let packed else {
            split(vocab, align: 4) { v0, v1 in
                pl_rows_matmul_t(x, wte, logits, Int32(rows), Int32(width), Int32(vocab), Int32(v0), Int32(v1))
            }
            return
        }
        let done = packedProduct(x, packed, nil, logits, rows: rows, inDim: width, outDim: vocab)
        if done < vocab {
            pl_rows_matmul_t(x, wte, logits, Int32(rows), Int32(width), Int32(vocab), Int32(done), Int32(vocab))
        }
    }

    /// A model's weights repacked for batched decoding steps: every linear weight and the LM head as contiguous
    /// strips of 16 output columns (k-major), so that a few rows read each strip front to back, where the
    /// prefetchers follow, and keep 8 accumulators in registers. A copy of the weights (it does not follow later
    /// updates: made for one generation call, during which the base weights are fixed).
    final class Packed {
        let linear: [ObjectIdentifier: FloatBuffer]
        let head: FloatBuffer

        init(_ model: GPT2) {
            let c = model.config
            let weights = model.blocks.flatMap { [$0.attnW, $0.projW, $0.fcW, $0.fcProjW] }
            let bufs = weights.map { FloatBuffer(max(1, $0.shape[0] * ($0.shape[1] / 16) * 16)) }
            let head = FloatBuffer(max(1, (c.vocabSize / 16) * 16 * c.nEmbd))
            DispatchQueue.concurrentPerform(iterations: weights.count + 1) { i in
                if i == weights.count {
                    pl_pack_strips_t(model.wte.value.p, head.p, Int32(c.vocabSize), Int32(c.nEmbd))
                } else {
                    let w = weights[i]
                    pl_pack_strips(w.value.p, bufs[i].p, Int32(w.shape[0]), Int32(w.shape[1]))
                }
            }
            var map: [ObjectIdentifier: FloatBuffer] = [:]
            for (w, b) in zip(weights, bufs) { map[ObjectIdentifier(w)] = b }
            self.linear = map
            self.head = head
        }
    }
}
