import Core
import Foundation

/// Counts pre-tokenized words over text files exactly as `tokenizers`' `train(files)` does: each file is read as
/// lines split after `\n` (the `\n` kept), each line is pre-tokenized on its own (with a leading space added when
/// `addPrefixSpace` and the line does not start with one), and every piece's bytes are counted.
/// Streams the input in blocks; two (or `threads`) workers scan and count in parallel.
public final class WordCounter {
    /// Whether a space is added before a line that does not start with one.
    public let addPrefixSpace: Bool
    let threads: Int
    let blockSize: Int
    private var tables: [ByteTable]
    /// Input bytes read so far.
    public private(set) var bytesRead: Int64 = 0
    /// Lines counted so far.
    public private(set) var lines: Int = 0
    /// Time spent in the parallel sections, and summed over the workers (for debug logs).
    public private(set) var parallelNanos: UInt64 = 0
    /// Time summed over the workers.
    public private(set) var workerNanos: UInt64 = 0

    /// A counter with `threads` workers reading blocks of `blockSize` bytes.
    public init(addPrefixSpace: Bool, threads: Int = max(1, Machine.cores), blockSize: Int = 1 << 20) {
        self.addPrefixSpace = addPrefixSpace
        self.threads = max(1, threads)
        self.blockSize = blockSize
        tables = (0..<max(1, threads)).map { _ in ByteTable(capacity: 1 << 14) }
    }

    /// The number of the next block read (across files): a shard counts only the blocks it `owns`.
    private var nextBlock = 0

    /// Counts the words of one file (plain or zstd). `owns` (a shard's test of a block number; nil: all) skips the
    /// blocks of other shards; blocks are `blockSize` bytes cut back to a line end, numbered across files, so a
    /// block's number depends on the bytes alone.
    public func add(file path: String, progress: Core.Progress? = nil, owns: ((Int) -> Bool)? = nil) throws {
        let reader = try ByteReader(path: path)
        var buffer = [UInt8](repeating: 0, count: blockSize)
        var filled = 0
        var eof = false
        while !eof {
            if filled == buffer.count { buffer.append(contentsOf: [UInt8](repeating: 0, count: buffer.count)) }
            let n = try buffer.withUnsafeMutableBytes { b in
                try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: b[filled...]))
            }
            if n == 0 { eof = true } else { filled += n; bytesRead += Int64(n); progress?.advance(by: n) }
            if !eof && filled < buffer.count { continue }
            // Process every complete line (all of it at the end of the file).
            var end = filled
            if !eof {
                guard let nl = buffer.withUnsafeBufferPointer({ b -> Int? in
                    var i = filled - 1
                    while i >= 0 { if b[i] == 0x0A { return i }; i -= 1 }
                    return nil
                }) else { continue } // a line longer than the buffer: grow and read on
                end = nl + 1
            }
            if owns?(nextBlock) ?? true { try process(buffer: buffer, count: end, path: path) }
            nextBlock += 1
            if end < filled {
                buffer.withUnsafeMutableBufferPointer { b in
                    _ = memmove(b.baseAddress!, b.baseAddress! + end, filled - end)
                }
            }
            filled -= end
        }
    }

    /// The counts as bytes: per word a UInt32 LE length, its bytes, an Int64 LE count (a shard's `counts.bin.zst`).
    public func serializedCounts() -> [UInt8] {
        let table = result()
        var out: [UInt8] = []
        out.reserveCapacity(table.keyBytesTotal + table.count * 12)
        for e in 0..<table.count {
            table.key(e) { p, n in
                withUnsafeBytes(of: UInt32(n).littleEndian) { out.append(contentsOf: $0) }
                out.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
            }
            withUnsafeBytes(of: table.value(e).littleEndian) { out.append(contentsOf: $0) }
        }
        return out
    }

    /// Adds counts written by `serializedCounts` (a shard's) to this counter's; `path` names them in errors.
    public func addCounts(_ bytes: [UInt8], path: String) throws {
        let table = tables[0]
        var i = 0
        try bytes.withUnsafeBufferPointer { b in
            let base = b.baseAddress!
            while i < b.count {
                guard i + 4 <= b.count else { throw CoreError.truncated(path: path) }
                var n32: UInt32 = 0
                memcpy(&n32, base + i, 4)
                let n = Int(UInt32(littleEndian: n32))
                guard i + 4 + n + 8 <= b.count else { throw CoreError.truncated(path: path) }
                var v: Int64 = 0
                memcpy(&v, base + i + 4 + n, 8)
                _ = table.add(base + i + 4, n, Int64(littleEndian: v))
                i += 4 + n + 8
            }
        }
    }

    /// The merged counts, in a deterministic order.
    func result() -> ByteTable {
        let first = tables[0]
        for t in tables.dropFirst() {
            for e in 0..<t.count {
                let v = t.value(e)
                _ = t.key(e) { p, n in first.add(p, n, v) }
            }
        }
        tables = [first]
        return first
    }

    private func process(buffer: [UInt8], count: Int, path: String) throws {
        guard count > 0 else { return }
        // Split into one range per worker, at line ends.
        var cuts = [0]
        buffer.withUnsafeBufferPointer { b in
            for t in 1..<threads {
                var c = max(count * t / threads, cuts.last!)
                while c < count && b[c - 1] != 0x0A { c += 1 }
                cuts.append(min(c, count))
            }
        }
        cuts.append(count)
        let lineCounts = UnsafeMutablePointer<Int>.allocate(capacity: threads)
        let errors = UnsafeMutablePointer<Int>.allocate(capacity: threads)
        defer { lineCounts.deallocate(); errors.deallocate() }
        let tables = self.tables
        let prefix = addPrefixSpace
        let started = DispatchTime.now().uptimeNanoseconds
        let busy = UnsafeMutablePointer<UInt64>.allocate(capacity: threads)
        defer { busy.deallocate() }
        buffer.withUnsafeBufferPointer { b in
            let base = b.baseAddress!
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let t0 = DispatchTime.now().uptimeNanoseconds
                let (lc, err) = WordCounter.count(base + cuts[t], cuts[t + 1] - cuts[t], into: tables[t],
                                                  addPrefixSpace: prefix)
                busy[t] = DispatchTime.now().uptimeNanoseconds - t0
                lineCounts[t] = lc
                errors[t] = err ?? -1
            }
        }
        parallelNanos += DispatchTime.now().uptimeNanoseconds - started
        for t in 0..<threads { workerNanos += busy[t] }
        var before = lines
        for t in 0..<threads {
            if errors[t] >= 0 { throw TokenizeError.invalidUTF8(path: path, line: before + errors[t] + 1) }
            before += lineCounts[t]
        }
        lines = before
    }

    /// Counts the words of the lines in `p[0..<n]`; returns (lines seen, index of a line with invalid UTF-8).
    static func count(_ p: UnsafePointer<UInt8>, _ n: Int, into table: ByteTable, addPrefixSpace: Bool) -> (Int, Int?) {
        let scanner = PreTokenizer()
        defer { scanner.deallocate() }
        var scratch = [UInt8](repeating: 0, count: 4096)
        var start = 0
        var line = 0
        while start < n {
            var end = n
            if let nl = memchr(p + start, 0x0A, n - start) {
                end = p.distance(to: nl.assumingMemoryBound(to: UInt8.self)) + 1
            }
            let len = end - start
            var bad: Int? = nil
            if addPrefixSpace && p[start] != 0x20 {
                if scratch.count < len + 1 { scratch = [UInt8](repeating: 0, count: len * 2 + 1) }
                scratch.withUnsafeMutableBufferPointer { s in
                    let sp = s.baseAddress!
                    sp[0] = 0x20
                    (sp + 1).update(from: p + start, count: len)
                    bad = scanner.split(UnsafePointer(sp), len + 1) { a, z in table.add(sp + a, z - a, 1) }
                }
            } else {
                let lp = p + start
                bad = scanner.split(lp, len) { a, z in table.add(lp + a, z - a, 1) }
            }
            if bad != nil { return (line, line) }
            line += 1
            start = end
        }
        return (line, nil)
    }
}
