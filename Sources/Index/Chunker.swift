import Core

/// Errors of the `chunk` stage.
public enum ChunkError: PipelineError {
    case usage(String)
    case missingInput(path: String)
    case badRecord(path: String, line: Int, reason: String)

    /// The one-line message naming the file or option at fault.
    public var message: String {
        switch self {
        case let .usage(text): return text
        case let .missingInput(path): return "\(path): no such file (run `pipeline ingest` first)"
        case let .badRecord(path, line, reason): return "\(path):\(line): \(reason)"
        }
    }

    /// The exit status: usage for a usage error, otherwise failed.
    public var exitStatus: ExitStatus {
        if case .usage = self { return .usage }
        return .failed
    }
}

/// One chunk of a text: `text[start..<end]` (code-point offsets), and `startIndex` as LangChain's
/// `add_start_index=True` computes it (`text.find(chunk, max(0, previous_index + previous_len - overlap))`).
public struct ChunkSpan: Equatable, Sendable {
    /// Offset of the chunk's first code point.
    public var start: Int
    /// Offset after the chunk's last code point.
    public var end: Int
    /// The chunk's `start_index` (LangChain's, from `text.find`).
    public var startIndex: Int
    /// Length in code points.
    public var count: Int { end - start }
}

/// LangChain's `RecursiveCharacterTextSplitter(separators=["\n\n", "\n", " ", ""], chunk_size, chunk_overlap,
/// keep_separator=True, strip_whitespace=True, length_function=len, add_start_index=True)`, reproduced exactly on
/// Unicode code points (Python `len`), in time linear in the input plus the output.
///
/// The reference's rules, as implemented here:
/// - `_split_text`: the separator is the first of the list that occurs in the text ("" always matches); the text
///   is split at its leftmost non-overlapping occurrences, each separator starting the following piece; empty
///   pieces are dropped. Pieces strictly shorter than `size` are collected; a longer one first flushes the
///   collected run through `_merge_splits`, then is split again with the remaining separators (or, at the ""
///   level, emitted as it is, unstripped).
/// - `_merge_splits` (joiner ""): pieces are appended while `total + len <= size`; otherwise the current pieces
///   are joined, stripped (Python `str.strip`) and emitted unless empty, then leading pieces are dropped while
///   `total > overlap` or (`total + len > size` and `total > 0`).
/// Every piece list is a run of adjacent pieces, so every chunk is a range of the text: totals are range lengths,
/// joins are ranges, and stripping uses precomputed next/previous non-space tables.
public struct RecursiveChunker: Sendable {
    /// Maximum chunk length in code points.
    public let size: Int
    /// Code points shared by consecutive chunks at most.
    public let overlap: Int

    /// Throws `ChunkError.usage` unless 1 <= size and 0 <= overlap < size.
    public init(size: Int, overlap: Int) throws {
        if let problem = RecursiveChunker.problem(size: size, overlap: overlap) { throw ChunkError.usage(problem) }
        self.size = size
        self.overlap = overlap
    }

    /// Why the options are invalid, or nil.
    public static func problem(size: Int, overlap: Int) -> String? {
        if size < 1 { return "--size must be at least 1 (got \(size))" }
        if overlap < 0 { return "--overlap must be at least 0 (got \(overlap))" }
        if overlap >= size { return "--overlap (\(overlap)) must be smaller than --size (\(size))" }
        return nil
    }

    /// The chunks of `text` (code points), in order, with their start indices.
    public func chunks(_ text: [UInt32]) -> [ChunkSpan] {
        if text.isEmpty { return [] }
        var work = Work(text: text, size: size, overlap: overlap)
        text.withUnsafeBufferPointer { t in
            work.split(t, lo: 0, hi: t.count, level: 0)
        }
        var spans = work.out
        // create_documents: start indices.
        var index = 0
        var previousLength = 0
        text.withUnsafeBufferPointer { t in
            for k in spans.indices {
                let offset = index + previousLength - overlap
                index = Self.find(t, patternStart: spans[k].start, patternEnd: spans[k].end, from: max(0, offset))
                spans[k].startIndex = index
                previousLength = spans[k].count
            }
        }
        return spans
    }

    /// The chunks of a string, as strings with their start indices.
    public func chunks(_ text: String) -> [(text: String, startIndex: Int)] {
        let cps = PythonText.codePoints(text)
        return chunks(cps).map { (PythonText.string(cps[$0.start..<$0.end]), $0.startIndex) }
    }

    /// Python's `text.find(text[patternStart..<patternEnd], from)`: the first occurrence at or after `from`, or -1.
    static func find(_ t: UnsafeBufferPointer<UInt32>, patternStart ps: Int, patternEnd pe: Int, from: Int) -> Int {
        let n = t.count, m = pe - ps
        if from > n { return -1 }
        if m == 0 { return from }
        if from + m > n { return -1 }
        @inline(__always) func matches(at p: Int) -> Bool {
            if p == ps { return true }
            var k = 0
            while k < m && t[p + k] == t[ps + k] { k += 1 }
            return k == m
        }
        if matches(at: from) { return from }
        // Naive scan with a work budget (the occurrence at `ps` ends it when ps >= from), then KMP.
        let first = t[ps]
        var budget = 4 * m + 2 * max(0, ps - from) + 64
        var p = from + 1
        while p + m <= n && budget > 0 {
            if t[p] == first {
                if p == ps { return p }
                var k = 1
                while k < m && t[p + k] == t[ps + k] { k += 1 }
                if k == m { return p }
                budget -= k
            }
            budget -= 1
            p += 1
        }
        if p + m > n { return -1 }
        // Knuth–Morris–Pratt from p: linear in m plus the distance scanned.
        var fail = [Int](repeating: 0, count: m)
        var k = 0
        for i in 1..<max(1, m) {
            while k > 0 && t[ps + i] != t[ps + k] { k = fail[k - 1] }
            if t[ps + i] == t[ps + k] { k += 1 }
            fail[i] = k
        }
        k = 0
        var i = p
        while i < n {
            while k > 0 && t[i] != t[ps + k] { k = fail[k - 1] }
            if t[i] == t[ps + k] { k += 1 }
            if k == m { return i - m + 1 }
            i += 1
        }
        return -1
    }

    /// State of one text's split.
    struct Work {
        let size: Int
        let overlap: Int
        /// nextNonSpace[i]: the first index >= i holding a non-space (n if none); prevNonSpace[i]: the last index
        /// < i holding a non-space, plus one (0 if none).
        var nextNonSpace: [Int32] = []
        var prevNonSpace: [Int32] = []
        var out: [ChunkSpan] = []

        init(text: [UInt32], size: Int, overlap: Int) {
            self.size = size
            self.overlap = overlap
            let n = text.count
            nextNonSpace = [Int32](repeating: Int32(n), count: n + 1)
            prevNonSpace = [Int32](repeating: 0, count: n + 1)
            text.withUnsafeBufferPointer { t in
                nextNonSpace.withUnsafeMutableBufferPointer { next in
                    var k = n - 1
                    while k >= 0 {
                        next[k] = PythonText.isSpace(t[k]) ? next[k + 1] : Int32(k)
                        k -= 1
                    }
                }
                prevNonSpace.withUnsafeMutableBufferPointer { prev in
                    for k in 0..<n { prev[k + 1] = PythonText.isSpace(t[k]) ? prev[k] : Int32(k + 1) }
                }
            }
        }

        /// `_join_docs` of the pieces covering lo..<hi: stripped, dropped when empty.
        @inline(__always)
        mutating func emitStripped(_ lo: Int, _ hi: Int) {
            let s = Int(nextNonSpace[lo])
            if s >= hi { return }
            let e = Int(prevNonSpace[hi])
            out.append(ChunkSpan(start: s, end: e, startIndex: 0))
        }

        /// Whether separator `level` ("\n\n", "\n", " ") occurs in t[lo..<hi].
        static func contains(_ t: UnsafeBufferPointer<UInt32>, _ lo: Int, _ hi: Int, level: Int) -> Bool {
            switch level {
            case 0:
                var i = lo
                while i + 1 < hi {
                    if t[i + 1] == 10 {
                        if t[i] == 10 { return true }
                        i += 1
                    } else {
                        i += 2
                    }
                }
                return false
            case 1:
                for i in lo..<hi where t[i] == 10 { return true }
                return false
            default:
                for i in lo..<hi where t[i] == 32 { return true }
                return false
            }
        }

        /// Piece boundaries of `_split_text_with_regex(text, sep, keep_separator=True)` with empty pieces
        /// dropped: piece j is bounds[j]..<bounds[j+1].
        static func boundaries(_ t: UnsafeBufferPointer<UInt32>, _ lo: Int, _ hi: Int, level: Int) -> [Int] {
            var b: [Int] = [lo]
            switch level {
            case 0:
                var i = lo
                while i + 1 < hi {
                    if t[i] == 10 && t[i + 1] == 10 {
                        if i != lo { b.append(i) }
                        i += 2
                    } else {
                        i += 1
                    }
                }
            case 1, 2:
                let c: UInt32 = level == 1 ? 10 : 32
                var i = lo
                while i < hi {
                    if t[i] == c && i != lo { b.append(i) }
                    i += 1
                }
            default:
                b.reserveCapacity(hi - lo + 1)
                var i = lo + 1
                while i < hi { b.append(i); i += 1 }
            }
            b.append(hi)
            return b
        }

        /// `_split_text(t[lo..<hi], separators[level...])`.
        mutating func split(_ t: UnsafeBufferPointer<UInt32>, lo: Int, hi: Int, level: Int) {
            var sep = 3
            var l = level
            while l < 3 {
                if Work.contains(t, lo, hi, level: l) { sep = l; break }
                l += 1
            }
            let b = Work.boundaries(t, lo, hi, level: sep)
            let pieces = b.count - 1
            var runStart = -1
            for j in 0..<pieces {
                if b[j + 1] - b[j] < size {
                    if runStart < 0 { runStart = j }
                    continue
                }
                if runStart >= 0 {
                    merge(b, runStart, j)
                    runStart = -1
                }
                if sep == 3 {
                    out.append(ChunkSpan(start: b[j], end: b[j + 1], startIndex: 0))
                } else {
                    split(t, lo: b[j], hi: b[j + 1], level: sep + 1)
                }
            }
            if runStart >= 0 { merge(b, runStart, pieces) }
        }

        /// `_merge_splits` of pieces a..<z (joiner "", so totals are range lengths).
        mutating func merge(_ b: [Int], _ a: Int, _ z: Int) {
            var qs = a, qe = a
            for j in a..<z {
                let len = b[j + 1] - b[j]
                var total = b[qe] - b[qs]
                if total + len > size && qe > qs {
                    emitStripped(b[qs], b[qe])
                    while total > overlap || (total + len > size && total > 0) {
                        qs += 1
                        total = b[qe] - b[qs]
                    }
                }
                qe = j + 1
            }
            if qe > qs { emitStripped(b[qs], b[qe]) }
        }
    }
}
