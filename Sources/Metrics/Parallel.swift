import Core
import Dispatch

/// Per-item work spread over the machine's cores, results in item order (so sums over them do not depend on
/// the number of threads).
enum Parallel {
    /// Threads to use (default: all cores); 1 runs on the calling thread.
    nonisolated(unsafe) static var threads = Machine.cores

    static func map<T>(_ indices: Range<Int>, _ body: (Int) -> T) -> [T] {
        let n = indices.count
        let workers = min(max(1, threads), max(1, n / 64))
        if workers == 1 { return indices.map(body) }
        var out = [T?](repeating: nil, count: n)
        out.withUnsafeMutableBufferPointer { buf in
            let base = buf.baseAddress!
            let chunk = (n + workers * 8 - 1) / (workers * 8)
            DispatchQueue.concurrentPerform(iterations: (n + chunk - 1) / chunk) { c in
                let lo = c * chunk, hi = min(n, lo + chunk)
                for i in lo..<hi { base[i] = body(indices.lowerBound + i) }
            }
        }
        return out.map { $0! }
    }
}
