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

    /// y[rows, outDim] = x[rows, inDim] · W + b (W is `[inDim, outDim]`, GPT-2's Conv1D layout).
    static func linear(_ x: UnsafePointer<Float>, _ w: Parameter, _ b: Parameter?, _ y: UnsafeMutablePointer<Float>,
                       rows: Int, inDim: Int, outDim: Int) {
        let wp = UnsafePointer(w.value.p), bp = b.map { UnsafePointer($0.value.p) }
        split(outDim, align: 16) { c0, c1 in
            pl_rows_matmul(x, wp, bp, y, Int32(rows), Int32(inDim), Int32(outDim), Int32(c0), Int32(c1))
        }
    }

    /// logits[rows, V] = x[rows, E] · wteᵀ (the tied LM head; wte is `[V, E]`).
    static func head(_ x: UnsafePointer<Float>, _ wte: UnsafePointer<Float>, _ logits: UnsafeMutablePointer<Float>,
                     rows: Int, width: Int, vocab: Int) {
        split(vocab, align: 4) { v0, v1 in
            pl_rows_matmul_t(x, wte, logits, Int32(rows), Int32(width), Int32(vocab), Int32(v0), Int32(v1))
        }
    }
}
