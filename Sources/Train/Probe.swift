import COpenBLAS
import Core
import Foundation

/// Measures this machine's limits with the libraries the project links: the system OpenBLAS's sgemm and the memory
/// bandwidth of reading a large buffer. The benchmarks divide a step's FLOPs and bytes (`Cost`) by them.
public enum HardwareProbe {
    /// What the probe measured.
    public struct Result: Codable, Equatable, Sendable {
        /// The OpenBLAS kernel chosen for this CPU (e.g. "Haswell", "SkylakeX").
        public var kernel: String
        public var threads: Int
        /// Best sgemm GFLOP/s of `sgemmSize`³ products.
        public var sgemmGFLOPs: Double
        public var sgemmSize: Int
        /// Best read bandwidth in GB/s over a buffer of `readBytes` bytes.
        public var bandwidthGBs: Double
        public var readBytes: Int

        enum CodingKeys: String, CodingKey {
            case kernel, threads, sgemmGFLOPs = "sgemm_gflops", sgemmSize = "sgemm_size"
            case bandwidthGBs = "read_gbs", readBytes = "read_bytes"
        }

        /// The limits as a `Roofline`.
        public var roofline: Roofline {
            Roofline(flopsPerSecond: sgemmGFLOPs * 1e9, bytesPerSecond: bandwidthGBs * 1e9)
        }
    }

    /// The OpenBLAS kernel name.
    public static var kernel: String { String(cString: openblas_get_corename()) }

    /// sgemm GFLOP/s on `threads` threads: the best of `repeats` n×n×n products (after one warm-up).
    public static func sgemm(threads: Int, size n: Int = 2048, repeats: Int = 5) -> Double {
        Compute.configure(threads: threads)
        var rng = Xoshiro256(seed: 1)
        let a = (0..<n * n).map { _ in Float(rng.next() % 1000) / 1000 }
        let b = (0..<n * n).map { _ in Float(rng.next() % 1000) / 1000 }
        var c = [Float](repeating: 0, count: n * n)
        var best = 0.0
        for r in 0...repeats {
            let t = DispatchTime.now().uptimeNanoseconds
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    c.withUnsafeMutableBufferPointer { pc in
                        gemm(false, false, n, n, n, 1, pa.baseAddress!, n, pb.baseAddress!, n, 0, pc.baseAddress!, n)
                    }
                }
            }
            let s = Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
            if r > 0 { best = max(best, 2 * Double(n) * Double(n) * Double(n) / s / 1e9) }
        }
        return best
    }

    /// Read bandwidth in GB/s: `threads` threads sum disjoint parts of a `bytes`-byte buffer of floats (SIMD, 4
    /// accumulators), the best of `repeats` passes after one that faults the pages in. Reading is what the bound
    /// needs: weights and caches are read, not written.
    public static func bandwidth(threads: Int, bytes: Int = 256 << 20, repeats: Int = 5) -> Double {
        let count = bytes / 64 * 16
        let buffer = UnsafeMutablePointer<SIMD16<Float>>.allocate(capacity: count / 16)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: SIMD16(repeating: 1), count: count / 16)
        let parts = max(1, threads), vectors = count / 16, per = vectors / parts
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: parts)
        defer { sums.deallocate() }
        var best = 0.0
        for r in 0...repeats {
            let t = DispatchTime.now().uptimeNanoseconds
            DispatchQueue.concurrentPerform(iterations: parts) { i in
                let lo = i * per, hi = i == parts - 1 ? vectors : lo + per
                var a = SIMD16<Float>(), b = SIMD16<Float>(), c = SIMD16<Float>(), d = SIMD16<Float>()
                var j = lo
                while j + 4 <= hi {
                    a += buffer[j]; b += buffer[j + 1]; c += buffer[j + 2]; d += buffer[j + 3]
                    j += 4
                }
                while j < hi { a += buffer[j]; j += 1 }
                sums[i] = (a + b + c + d).sum()
            }
            let s = Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
            if r > 0 { best = max(best, Double(vectors * 64) / s / 1e9) }
        }
        // The sums are read, so the passes cannot be optimised away (the buffer holds ones: never NaN).
        precondition(!(0..<parts).reduce(Float(0), { $0 + sums[$1] }).isNaN)
        return best
    }

    /// Both measurements.
    public static func measure(threads: Int, sgemmSize: Int = 2048, readBytes: Int = 256 << 20) -> Result {
        let g = sgemm(threads: threads, size: sgemmSize)
        let b = bandwidth(threads: threads, bytes: readBytes)
        return Result(kernel: kernel, threads: threads, sgemmGFLOPs: g, sgemmSize: sgemmSize, bandwidthGBs: b,
                      readBytes: readBytes)
    }
}

extension GPT2Config {
    /// The shape the cost model counts (the LM head is the tied token embedding).
    public var shape: TransformerShape { TransformerShape(layers: nLayer, width: nEmbd, inner: inner, vocab: vocabSize) }

    /// A named config (`tiny`, `small`, `gpt2`) with vocabulary `vocab`, or nil.
    public static func named(_ name: String, vocabSize vocab: Int) -> GPT2Config? {
        switch name {
        case "tiny": return .tiny(vocabSize: vocab)
        case "small": return .small(vocabSize: vocab)
        case "gpt2": return .gpt2(vocabSize: vocab)
        default: return nil
        }
    }
}
