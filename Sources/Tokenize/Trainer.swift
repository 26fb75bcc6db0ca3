import Core
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Settings of `bpe-train`, mirroring `tokenizers`' `BpeTrainer` with a ByteLevel pre-tokenizer.
public struct TrainerOptions: Sendable {
    /// Size of the vocabulary to reach (bytes, special tokens and merges).
    public var vocabSize: Int = 50257
    /// Fewest occurrences a pair needs to be merged.
    public var minFrequency: Int64 = 50
    /// Tokens added first, matched verbatim.
    public var specialTokens: [String] = ["<pad>", "<unk>", "<s>"]
    /// Whether a space is added before a line that does not start with one.
    public var addPrefixSpace = false
    /// Start from all 256 byte symbols (`ByteLevel.alphabet()`), seen or not.
    public var initialAlphabet = true

    /// The defaults.
    public init() {}

    /// Every setting, as stage parameters.
    public var parameters: [String: String] {
        ["vocab_size": String(vocabSize), "min_frequency": String(minFrequency),
         "special_tokens": specialTokens.joined(separator: ","), "add_prefix_space": String(addPrefixSpace),
         "initial_alphabet": String(initialAlphabet)]
    }
}

/// A trained byte-level BPE model: the vocabulary (symbol strings, by id) and the merges in training order.
public struct TrainedBPE {
    /// Token id -> token as UTF-8 bytes of its byte-level symbol string (special tokens: their text).
    public var tokens: [[UInt8]]
    /// Merges in the order they were learned: (left id, right id, resulting id). The same pair can occur twice
    /// (as in `tokenizers`); serialized merges keep each pair once, at its last rank.
    public var merges: [(UInt32, UInt32, UInt32)]
    /// The special tokens, in id order.
    public var specialTokens: [String]
    /// Whether the tokenizer adds a prefix space.
    public var addPrefixSpace: Bool

    /// The merges as serialized by `tokenizers`: each pair once, ordered by its last position.
    public var serializedMerges: [(UInt32, UInt32)] {
        var last: [UInt64: Int] = [:]
        for (i, m) in merges.enumerated() { last[UInt64(m.0) << 32 | UInt64(m.1)] = i }
        var out: [(UInt32, UInt32)] = []
        for (i, m) in merges.enumerated() where last[UInt64(m.0) << 32 | UInt64(m.1)] == i { out.append((m.0, m.1)) }
        return out
    }
}

/// Byte-level BPE training, merge for merge and id for id the algorithm of `tokenizers`' BpeTrainer
/// (counts are 64-bit here; the reference's pair counts are 32-bit and wrap on huge corpora).
public enum BPETrainer {
    struct Entry {
        var count: Int64
        var a: UInt32
        var b: UInt32
        var list: Int32
    }

    /// Max-heap on (count, then smallest (a, b)).
    struct Heap {
        var items: [Entry] = []

        @inline(__always)
        static func above(_ x: Entry, _ y: Entry) -> Bool {
            if x.count != y.count { return x.count > y.count }
            if x.a != y.a { return x.a < y.a }
            return x.b < y.b
        }

        mutating func push(_ e: Entry) {
            items.append(e)
            var i = items.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                if !Heap.above(items[i], items[parent]) { break }
                items.swapAt(i, parent)
                i = parent
            }
        }

        mutating func pop() -> Entry? {
            guard let top = items.first else { return nil }
            let last = items.removeLast()
            if !items.isEmpty {
                items[0] = last
                var i = 0
                let n = items.count
                while true {
                    let l = 2 * i + 1, r = l + 1
                    var best = i
                    if l < n && Heap.above(items[l], items[best]) { best = l }
                    if r < n && Heap.above(items[r], items[best]) { best = r }
                    if best == i { break }
                    items.swapAt(i, best)
                    i = best
                }
            }
            return top
        }
    }

    /// Trains on word counts (keys: raw bytes of pre-tokenized pieces).
    static func train(words table: ByteTable, options: TrainerOptions, progress: Core.Progress? = nil) -> TrainedBPE {
        // Tokens by id, in one arena: entry index == id (tokens are unique and added in id order).
        let vocab = ByteTable(capacity: 4096)
        func idOf(_ t: [UInt8]) -> UInt32? {
            t.withUnsafeBufferPointer { b in vocab.lookup(b.baseAddress!, b.count).map { UInt32($0) } }
        }
        func addToken(_ t: [UInt8]) {
            t.withUnsafeBufferPointer { b in
                if vocab.lookup(b.baseAddress!, b.count) == nil { vocab.add(b.baseAddress!, b.count, 0) }
            }
        }
        // 1. Special tokens, in the given order.
        for s in options.specialTokens { addToken(Array(s.utf8)) }
        // 2. The alphabet: every byte seen (and all 256 with the initial alphabet), sorted by symbol scalar.
        var seen = [Bool](repeating: options.initialAlphabet, count: 256)
        for e in 0..<table.count {
            table.key(e) { p, n in for i in 0..<n { seen[Int(p[i])] = true } }
        }
        let alphabet = (0..<256).filter { seen[$0] }.sorted { ByteLevel.byteToScalar[$0] < ByteLevel.byteToScalar[$1] }
        for b in alphabet { addToken(ByteLevel.byteToUTF8[b]) }
        var byteId = [UInt32](repeating: 0, count: 256)
        for b in 0..<256 { byteId[b] = idOf(ByteLevel.byteToUTF8[b]) ?? UInt32.max }

        // 3. Words as symbol ids.
        let wordCount = table.count
        var symbols: [UInt32] = []
        symbols.reserveCapacity(table.keyBytesTotal)
        var wStart = [Int](repeating: 0, count: wordCount)
        var wLen = [Int32](repeating: 0, count: wordCount)
        var wCount = [Int64](repeating: 0, count: wordCount)
        for e in 0..<wordCount {
            wStart[e] = symbols.count
            table.key(e) { p, n in for i in 0..<n { symbols.append(byteId[Int(p[i])]) } }
            wLen[e] = Int32(symbols.count - wStart[e])
            wCount[e] = table.value(e)
        }

        // 4. Pair counts and where each pair occurs.
        var pairIndex = U64Index(capacity: 1 << 12)
        var pairKey: [UInt64] = []
        var pairCount: [Int64] = []
        var pending: [Int32] = [] // per pair: list being collected, or -1
        var lists: [[Int32]] = []
        var freeLists: [Int32] = []
        func newList() -> Int32 {
            if let l = freeLists.popLast() { return l }
            lists.append([])
            return Int32(lists.count - 1)
        }
        @inline(__always) func pairId(_ k: UInt64) -> Int {
            let (i, inserted) = pairIndex.getOrInsert(k)
            if inserted { pairKey.append(k); pairCount.append(0); pending.append(-1) }
            return Int(i)
        }
        var touched: [Int32] = []
        @inline(__always) func note(_ pid: Int, _ w: Int32) {
            var l = pending[pid]
            if l < 0 {
                l = newList()
                pending[pid] = l
                touched.append(Int32(pid))
            }
            if lists[Int(l)].last != w { lists[Int(l)].append(w) }
        }
        for w in 0..<wordCount {
            let s = wStart[w], n = Int(wLen[w])
            if n < 2 { continue }
            for i in s..<(s + n - 1) {
                let pid = pairId(UInt64(symbols[i]) << 32 | UInt64(symbols[i + 1]))
                pairCount[pid] += wCount[w]
                note(pid, Int32(w))
            }
        }
        var heap = Heap()
        heap.items.reserveCapacity(touched.count)
        func flush() {
            for pid in touched {
                let p = Int(pid)
                let l = pending[p]
                pending[p] = -1
                let c = pairCount[p]
                if c > 0 {
                    heap.push(Entry(count: c, a: UInt32(pairKey[p] >> 32), b: UInt32(truncatingIfNeeded: pairKey[p]),
                                    list: l))
                } else {
                    lists[Int(l)].removeAll(keepingCapacity: true)
                    freeLists.append(l)
                }
            }
            touched.removeAll(keepingCapacity: true)
        }
        flush()

        // 5. Merges.
        var merges: [(UInt32, UInt32, UInt32)] = []
        var joined: [UInt8] = []
        while vocab.count < options.vocabSize {
            guard var top = heap.pop() else { break }
            let pid = Int(pairIndex.get(UInt64(top.a) << 32 | UInt64(top.b))!)
            let current = pairCount[pid]
            if top.count != current {
                top.count = current
                heap.push(top)
                continue
            }
            if top.count < 1 || options.minFrequency > top.count { break }
            joined.removeAll(keepingCapacity: true)
            vocab.key(Int(top.a)) { p, n in joined.append(contentsOf: UnsafeBufferPointer(start: p, count: n)) }
            vocab.key(Int(top.b)) { p, n in joined.append(contentsOf: UnsafeBufferPointer(start: p, count: n)) }
            let newId: UInt32 = joined.withUnsafeBufferPointer { b in
                if let existing = vocab.lookup(b.baseAddress!, b.count) { return UInt32(existing) }
                return UInt32(vocab.add(b.baseAddress!, b.count, 0))
            }
            merges.append((top.a, top.b, newId))
            progress?.advance(by: 1)

            let a = top.a, b = top.b
            let words = lists[Int(top.list)]
            for w32 in words {
                let w = Int(w32)
                let s = wStart[w], n = Int(wLen[w])
                let count = wCount[w]
                var r = 0, o = 0
                while r < n {
                    if r + 1 < n && symbols[s + r] == a && symbols[s + r + 1] == b {
                        if o > 0 {
                            let prev = UInt64(symbols[s + o - 1]) << 32
                            let p1 = pairId(prev | UInt64(a))
                            pairCount[p1] -= count
                            let p2 = pairId(prev | UInt64(newId))
                            pairCount[p2] += count
                            note(p2, w32)
                        }
                        if r + 2 < n {
                            let next = UInt64(symbols[s + r + 2])
                            let p1 = pairId(UInt64(b) << 32 | next)
                            pairCount[p1] -= count
                            let p2 = pairId(UInt64(newId) << 32 | next)
                            pairCount[p2] += count
                            note(p2, w32)
                        }
                        symbols[s + o] = newId
                        o += 1
                        r += 2
                    } else {
                        symbols[s + o] = symbols[s + r]
                        o += 1
                        r += 1
                    }
                }
                wLen[w] = Int32(o)
            }
            lists[Int(top.list)] = []
            freeLists.append(top.list)
            flush()
        }
        Core.log.debug("""
            merge loop done: rss \(residentMB()) MB, \(vocab.count) tokens, \(pairKey.count) pairs, \
            \(lists.count) lists
            """)
        // Free the merge-phase structures before building the result.
        lists = []
        freeLists = []
        heap.items = []
        pairKey = []
        pairCount = []
        pending = []
        pairIndex = U64Index(capacity: 0)
        symbols = []
        wStart = []
        wLen = []
        wCount = []
        releaseFreeMemory()
        let tokens = (0..<vocab.count).map { vocab.keyBytes($0) }
        return TrainedBPE(tokens: tokens, merges: merges, specialTokens: options.specialTokens,
                          addPrefixSpace: options.addPrefixSpace)
    }

    /// Counts the words of `files` (only the blocks `owns` accepts: a shard's) into a counter.
    public static func count(files: [String], options: TrainerOptions, threads: Int = max(1, Machine.cores),
                             blockSize: Int = 1 << 20, owns: ((Int) -> Bool)? = nil) throws -> WordCounter {
        _ = UnicodeClasses.tables
        let counter = WordCounter(addPrefixSpace: options.addPrefixSpace, threads: threads, blockSize: blockSize)
        for f in files {
            let progress = Core.Progress("count words: \((f as NSString).lastPathComponent)", unit: "bytes")
            try counter.add(file: f, progress: progress, owns: owns)
            progress.finish()
        }
        return counter
    }

    /// Counts the words of `files` and trains.
    public static func train(files: [String], options: TrainerOptions, threads: Int = max(1, Machine.cores),
                             log: ((String) -> Void)? = nil) throws -> TrainedBPE {
        let t0 = Date()
        let counter = try count(files: files, options: options, threads: threads)
        return try train(counter: counter, options: options, log: log, since: t0)
    }

    /// Trains on the counts of `counter` (counted here, or merged from shards).
    public static func train(counter: WordCounter, options: TrainerOptions, log: ((String) -> Void)? = nil,
                             since t0: Date = Date()) throws -> TrainedBPE {
        Core.log.debug("""
            counting: \(Date().timeIntervalSince(t0)) s, rss \(residentMB()) MB; \
            parallel sections \(Double(counter.parallelNanos) / 1e9) s, \
            worker time \(Double(counter.workerNanos) / 1e9) s
            """)
        let words = counter.result()
        releaseFreeMemory()
        Core.log.debug("merged counts: \(Date().timeIntervalSince(t0)) s")
        log?("counted \(words.count) distinct words in \(counter.lines) lines (\(counter.bytesRead) bytes)")
        let progress = Core.Progress("merges", total: max(0, options.vocabSize - 256 - options.specialTokens.count),
                                     unit: "merges")
        let model = train(words: words, options: options, progress: progress)
        progress.finish()
        Core.log.debug("merges: \(Date().timeIntervalSince(t0)) s, rss \(residentMB()) MB")
        return model
    }
}

/// Resident memory of this process in MB (Linux; 0 elsewhere), for debug logs.
func residentMB() -> Int {
    guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let parts = s.split(separator: " ")
    guard parts.count > 1, let pages = Int(parts[1]) else { return 0 }
    return pages * 4096 / 1_000_000
}

/// Returns freed heap memory to the system (glibc keeps it otherwise; this lowers the peak resident size of the
/// later phases, e.g. after counting and before the stage commit).
public func releaseFreeMemory() {
    #if canImport(Glibc)
    mallocTrim?(0)
    #endif
}

/// Asks glibc to give freed memory back to the system as soon as 64 KiB are free at the top of a heap
/// (`mallopt(M_TRIM_THRESHOLD, 65536)`; the default threshold adapts upwards and keeps megabytes resident).
public func keepHeapTrimmed() {
    #if canImport(Glibc)
    if let sym = dlsym(nil, "mallopt") {
        let mallopt = unsafeBitCast(sym, to: (@convention(c) (Int32, Int32) -> Int32).self)
        _ = mallopt(-1 /* M_TRIM_THRESHOLD */, 65536)
    }
    #endif
}

#if canImport(Glibc)
/// glibc's `malloc_trim`, looked up at run time (its header is not part of the Glibc module).
private let mallocTrim: (@convention(c) (Int) -> Int32)? = {
    guard let sym = dlsym(nil, "malloc_trim") else { return nil }
    return unsafeBitCast(sym, to: (@convention(c) (Int) -> Int32).self)
}()
#endif
