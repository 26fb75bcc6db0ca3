import Core
import Foundation

/// Encoding of large inputs: streamed in blocks, two (or more) threads, output in input order.
public final class ParallelEncoder {
    /// The tokenizer the encoders were made from.
    public let tokenizer: BPETokenizer
    let encoders: [Encoder]
    /// Number of encoding threads.
    public var threads: Int { encoders.count }
    /// Lines whose bytes were not valid UTF-8 (encoded after U+FFFD replacement).
    public private(set) var replacedLines = 0
    /// Lines encoded so far.
    public private(set) var lines = 0
    /// Input bytes read so far.
    public private(set) var bytes: Int64 = 0
    /// Whether occurrences of the tokenizer's added tokens become their ids (as `encode(_:allowSpecial:)`).
    public let allowSpecial: Bool

    /// An encoder over `threads` copies of `tokenizer`'s encoder; `allowSpecial` matches added tokens in the text.
    public init(tokenizer: BPETokenizer, threads: Int = max(1, Machine.cores), allowSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.allowSpecial = allowSpecial
        encoders = (0..<max(1, threads)).map { _ in tokenizer.makeEncoder() }
    }

    /// Encodes each line of a file separately (split after `\n`, the `\n` kept: the segmentation of training),
    /// calling `sink` with the ids of consecutive blocks in order.
    ///
    /// `owns` (a shard's test of a block number; nil: every block) skips the blocks it refuses: they are read but
    /// not encoded or counted. `block(b, ids)` is told the number of ids of each encoded block. Blocks are cut
    /// from the data alone (`blockSize` bytes, back to the last `\n`), so a block's number does not depend on
    /// the machine.
    public func encodeLines(file path: String, progress: Core.Progress? = nil, blockSize: Int = 4 << 20,
                            owns: ((Int) -> Bool)? = nil, block: (Int, Int) -> Void = { _, _ in },
                            _ sink: ([UInt32]) throws -> Void) throws {
        var number = 0
        try blocks(file: path, blockSize: blockSize, progress: progress) { buffer, count in
            defer { number += 1 }
            guard owns?(number) ?? true else { return }
            bytes += Int64(count)
            var ids = 0
            try encodeBlock(buffer, count, perLine: true) { out in
                ids += out.count
                try sink(out)
            }
            block(number, ids)
        }
    }

    /// Encodes a whole file as one text (identical to encoding its full content at once: blocks are cut only
    /// after a `\n` between two non-whitespace characters, where the pre-tokenizer always splits).
    public func encodeText(file path: String, blockSize: Int = 4 << 20, _ sink: ([UInt32]) throws -> Void) throws {
        var first = true
        try blocks(file: path, blockSize: blockSize, progress: nil, safeCut: true) { buffer, count in
            bytes += Int64(count)
            try encodeBlock(buffer, count, perLine: false, first: first, sink)
            first = false
        }
    }

    /// Reads blocks of whole lines (or of text cut at safe points) and hands them to `body`.
    func blocks(file path: String, blockSize: Int, progress: Core.Progress?, safeCut: Bool = false,
                _ body: ([UInt8], Int) throws -> Void) throws {
        let reader = try ByteReader(path: path)
        var buffer = [UInt8](repeating: 0, count: blockSize)
        var filled = 0
        var eof = false
        while !eof {
            if filled == buffer.count { buffer.append(contentsOf: [UInt8](repeating: 0, count: buffer.count)) }
            let n = try buffer.withUnsafeMutableBytes { b in
                try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: b[filled...]))
            }
            if n == 0 { eof = true } else { filled += n; progress?.advance(by: n) }
            if !eof && filled < buffer.count { continue }
            var end = filled
            if !eof {
                guard let cut = buffer.withUnsafeBufferPointer({
                    ParallelEncoder.cutPoint($0.baseAddress!, filled, safe: safeCut)
                }) else {
                    continue
                }
                end = cut
            }
            try body(buffer, end)
            if end < filled {
                buffer.withUnsafeMutableBufferPointer { b in
                    _ = memmove(b.baseAddress!, b.baseAddress! + end, filled - end)
                }
            }
            filled -= end
        }
    }

    /// Whether text may be cut right after the `\n` at `p[i]` without changing the encoding: the characters
    /// before and after it are not whitespace (the pattern then always ends a piece before the `\n`, makes the
    /// `\n` a piece of its own, and starts a new piece after it).
    static func isSafeAround(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Bool {
        guard i > 0, i + 1 < n else { return false }
        // The character after.
        let (next, ln) = PreTokenizer.decode(p, i + 1, n)
        if ln == 0 || UnicodeClasses.rawClass(next) == CharClass.space.rawValue { return false }
        // The character before: find its first byte (at most 3 continuation bytes back).
        var s = i - 1
        while s > 0 && i - s < 4 && p[s] & 0xC0 == 0x80 { s -= 1 }
        let (prev, lp) = PreTokenizer.decode(p, s, i)
        if lp == 0 || s + lp != i || UnicodeClasses.rawClass(prev) == CharClass.space.rawValue { return false }
        return true
    }

    /// The end of the last complete line (or safe cut) in `p[0..<n]`, or nil.
    static func cutPoint(_ p: UnsafePointer<UInt8>, _ n: Int, safe: Bool) -> Int? {
        var i = n - 1
        while i >= 0 {
            if p[i] == 0x0A && (!safe || isSafeAround(p, i, n)) { return i + 1 }
            i -= 1
        }
        return nil
    }

    /// Splits `buffer[0..<count]` among the threads (at cut points) and encodes the parts in parallel.
    func encodeBlock(_ buffer: [UInt8], _ count: Int, perLine: Bool, first: Bool = true,
                     _ sink: ([UInt32]) throws -> Void) throws {
        guard count > 0 else { return }
        let t = encoders.count
        var cuts = [0]
        buffer.withUnsafeBufferPointer { b in
            let base = b.baseAddress!
            for k in 1..<t {
                var c = max(count * k / t, cuts.last!)
                while c < count {
                    if base[c - 1] == 0x0A && (perLine || ParallelEncoder.isSafeAround(base, c - 1, count)) { break }
                    c += 1
                }
                cuts.append(min(c, count))
            }
        }
        cuts.append(count)
        var outputs = [[UInt32]](repeating: [], count: t)
        let replaced = UnsafeMutablePointer<Int>.allocate(capacity: t)
        let lineCounts = UnsafeMutablePointer<Int>.allocate(capacity: t)
        defer { replaced.deallocate(); lineCounts.deallocate() }
        let encoders = self.encoders, special = allowSpecial
        outputs.withUnsafeMutableBufferPointer { outs in
            buffer.withUnsafeBufferPointer { b in
                let base = b.baseAddress!
                DispatchQueue.concurrentPerform(iterations: t) { k in
                    var out: [UInt32] = []
                    out.reserveCapacity((cuts[k + 1] - cuts[k]) / 3)
                    // Only the start of the whole text may get the tokenizer's prefix space.
                    let prefix = perLine || (k == 0 && first)
                    let (r, l) = ParallelEncoder.encodeRange(base + cuts[k], cuts[k + 1] - cuts[k], perLine: perLine,
                                                             prefix: prefix, special: special, encoder: encoders[k],
                                                             into: &out)
                    replaced[k] = r
                    lineCounts[k] = l
                    outs[k] = out
                }
            }
        }
        for k in 0..<t {
            replacedLines += replaced[k]
            lines += lineCounts[k]
            try sink(outputs[k])
        }
    }

    /// Encodes `p[0..<n]` line by line (or as one text); returns (lines with invalid UTF-8, lines).
    static func encodeRange(_ p: UnsafePointer<UInt8>, _ n: Int, perLine: Bool, prefix: Bool = true,
                            special: Bool = false, encoder: Encoder, into out: inout [UInt32]) -> (Int, Int) {
        var replaced = 0
        var lines = 0
        func one(_ q: UnsafePointer<UInt8>, _ len: Int) {
            let buf = UnsafeBufferPointer(start: q, count: len)
            if special {  // added tokens split out first; invalid UTF-8 replaced (and counted) as below
                var s = String(decoding: buf, as: UTF8.self)
                if !s.utf8.elementsEqual(buf) { replaced += 1 }
                s.withUTF8 { encoder.encode($0, allowSpecial: true, prefix: prefix, into: &out) }
                return
            }
            if !encoder.encodeIfValid(buf, prefix: prefix, into: &out) {
                replaced += 1
                var s = String(decoding: buf, as: UTF8.self)
                s.withUTF8 { encoder.encode($0, prefix: prefix, into: &out) }
            }
        }
        if !perLine {
            one(p, n)
            var i = 0
            while i < n { if p[i] == 0x0A { lines += 1 }; i += 1 }
            return (replaced, lines)
        }
        var start = 0
        while start < n {
            var end = n
            if let nl = memchr(p + start, 0x0A, n - start) {
                end = p.distance(to: nl.assumingMemoryBound(to: UInt8.self)) + 1
            }
            one(p + start, end - start)
            lines += 1
            start = end
        }
        return (replaced, lines)
    }
}
