import COpenBLAS
import Foundation

/// A contiguous, zero-initialised Float buffer with reference semantics (passed to sgemm and parallel loops).
public final class FloatBuffer: @unchecked Sendable {
    /// Number of elements.
    public let count: Int
    /// The storage (at least one element is allocated).
    public let p: UnsafeMutablePointer<Float>

    /// A buffer of `count` zeros.
    public init(_ count: Int) {
        self.count = count
        p = .allocate(capacity: max(count, 1))
        p.initialize(repeating: 0, count: max(count, 1))
    }

    /// A buffer holding a copy of `values`.
    public convenience init(_ values: [Float]) {
        self.init(values.count)
        values.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { p.deallocate() }

    /// Sets every element to 0.
    public func zero() { p.update(repeating: 0, count: count) }
    /// The elements as an array (a copy).
    public var array: [Float] { Array(UnsafeBufferPointer(start: p, count: count)) }
    /// The element at `i` (unchecked).
    public subscript(i: Int) -> Float {
        get { p[i] }
        set { p[i] = newValue }
    }
}

/// Both cores for the loops that are not matrix products: `body` gets disjoint row ranges, so results do not
/// depend on the thread count (every row is computed the same way whichever thread runs it).
@inline(__always)
func parallelRows(_ n: Int, minimum: Int = 8, _ body: (Range<Int>) -> Void) {
    let threads = Compute.threads
    if threads <= 1 || n < minimum * 2 {
        body(0..<n)
        return
    }
    let chunks = min(threads * 4, (n + minimum - 1) / minimum)
    let per = (n + chunks - 1) / chunks
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        let lo = c * per, hi = min(n, lo + per)
        if lo < hi { body(lo..<hi) }
    }
}

/// Thread settings of the training and inference kernels.
public enum Compute {
    /// Threads for the non-GEMM loops (OpenBLAS has its own setting, see `configure`).
    nonisolated(unsafe) public static var threads = 2

    /// Sets the thread count of both OpenBLAS and our loops (default: the machine's cores).
    public static func configure(threads n: Int) {
        threads = max(1, n)
        openblas_set_num_threads(Int32(threads))
    }
}

/// C[m×n] = alpha · op(A) · op(B) + beta · C, row-major.
@inline(__always)
func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
          _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
          _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}
