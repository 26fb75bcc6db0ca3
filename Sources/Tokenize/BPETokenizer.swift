import Core
import Foundation

/// A byte-level BPE tokenizer (GPT-2 style): encodes text to ids and back.
///
/// Loads our `tokenize` stage folder, a Hugging Face `tokenizer.json` (plain or .zst; BPE model with ByteLevel
/// pre-tokenizer), or a folder with GPT-2 `vocab.json` + `merges.txt`. Encoding equals tiktoken's
/// `encode_ordinary` / tokenizers' `encode` (for tokenizers: with `allowSpecial`, as added tokens are split out).
/// Thread-safe: `encode` serializes on a shared word cache; use `makeEncoder()` for one encoder per thread.
public final class BPETokenizer: @unchecked Sendable {
    /// Token id -> byte-level symbol string (UTF-8), or the text of an added token.
    public let tokens: [[UInt8]]
    /// Token id -> raw bytes it stands for (added tokens: their UTF-8 text).
    let raw: [[UInt8]]
    let isAdded: [Bool]
    /// Added (special) tokens: text and id, longest first.
    let added: [([UInt8], Int)]
    /// Byte -> id of its one-symbol token (-1 when the vocabulary lacks it: such bytes are dropped, as
    /// tokenizers does).
    let byteId: [Int32]
    let mergeIndex: U64Index
    /// Symbol string -> id.
    let vocabIndex: ByteTable
    let mergeRank: [UInt32]
    let mergeResult: [UInt32]
    /// Whether a space is added before text that does not start with one (ByteLevel's `add_prefix_space`).
    public let addPrefixSpace: Bool
    /// One more than the largest id.
    public var vocabSize: Int { tokens.count }
    /// Ids must stay below this (16,777,216).
    public static let maxId = 1 << 24
    private let lock = NSLock()
    private var shared: Encoder?

    init(vocab: [([UInt8], Int)], merges: [([UInt8], [UInt8])], added: [([UInt8], Int)], addPrefixSpace: Bool,
         source: String) throws {
        var size = 0
        // Checked before `id + 1`: an added token's id comes straight from the file and may be Int.max.
        for (_, id) in vocab + added {
            guard id < BPETokenizer.maxId else {
                let limit = BPETokenizer.maxId - 1
                throw TokenizeError.badTokenizer(path: source, reason: "token id \(id) is too large (limit \(limit))")
            }
            size = max(size, id + 1)
        }
        var tokens = [[UInt8]](repeating: [], count: size)
        var raw = [[UInt8]](repeating: [], count: size)
        var isAdded = [Bool](repeating: false, count: size)
        let ids = ByteTable(capacity: vocab.count + 16)
        func idOf(_ t: [UInt8]) -> Int? {
            t.withUnsafeBufferPointer { b -> Int? in
                guard let base = b.baseAddress else { return nil }
                return ids.lookup(base, b.count).map { Int(ids.value($0)) }
            }
        }
        for (t, id) in vocab {
            guard id >= 0 else { throw TokenizeError.badTokenizer(path: source, reason: "negative id \(id)") }
            tokens[id] = t
            t.withUnsafeBufferPointer { b in
                guard let base = b.baseAddress else { return }
                let e = ids.add(base, b.count, 0)
                ids.setValue(e, Int64(id))
            }
            raw[id] = ByteLevel.decode(t) ?? t
        }
        for (t, id) in added {
            tokens[id] = t
            raw[id] = t
            isAdded[id] = true
        }
        var byteId = [Int32](repeating: -1, count: 256)
        for b in 0..<256 { if let id = idOf(ByteLevel.byteToUTF8[b]) { byteId[b] = Int32(id) } }
        var index = U64Index(capacity: merges.count + 16)
        var rank: [UInt32] = []
        var result: [UInt32] = []
        rank.reserveCapacity(merges.count)
        result.reserveCapacity(merges.count)
        var joined: [UInt8] = []
        for (r, m) in merges.enumerated() {
            guard let a = idOf(m.0), let b = idOf(m.1) else {
                throw TokenizeError.badTokenizer(path: source,
                                                 reason: "merge \(r + 1) uses a token missing from the vocabulary")
            }
            joined.removeAll(keepingCapacity: true)
            joined.append(contentsOf: m.0)
            joined.append(contentsOf: m.1)
            guard let c = idOf(joined) else {
                throw TokenizeError.badTokenizer(path: source,
                                                 reason: "the result of merge \(r + 1) is missing from the vocabulary")
            }
            let (i, inserted) = index.getOrInsert(UInt64(a) << 32 | UInt64(b))
            if inserted {
                rank.append(UInt32(r)); result.append(UInt32(c))
            } else {
                rank[Int(i)] = UInt32(r); result[Int(i)] = UInt32(c)
            }
        }
        self.tokens = tokens
        vocabIndex = ids
        self.raw = raw
        self.isAdded = isAdded
        self.added = added.sorted { $0.0.count > $1.0.count }
        self.byteId = byteId
        mergeIndex = index
        mergeRank = rank
        mergeResult = result
        self.addPrefixSpace = addPrefixSpace
    }

    /// Builds the tokenizer of a freshly trained model.
    public convenience init(_ model: TrainedBPE) throws {
        let special = Set(model.specialTokens.map { Array($0.utf8) })
        var vocab: [([UInt8], Int)] = []
        var added: [([UInt8], Int)] = []
        for (id, t) in model.tokens.enumerated() {
            vocab.append((t, id))
            if special.contains(t) { added.append((t, id)) }
        }
        let merges = model.serializedMerges.map { (model.tokens[Int($0.0)], model.tokens[Int($0.1)]) }
        try self.init(vocab: vocab, merges: merges, added: added, addPrefixSpace: model.addPrefixSpace, source: "model")
    }

    // MARK: Encoding

    /// Ids of `text`, every character as plain text (like tiktoken's `encode_ordinary`).
    public func encode(_ text: String) -> [Int] {
        encode(text, allowSpecial: false)
    }

    /// Ids of `text`; with `allowSpecial`, occurrences of added tokens (e.g. `<pad>`) become their ids and the
    /// text between them is encoded piece by piece, as `tokenizers`' `Tokenizer.encode` does.
    public func encode(_ text: String, allowSpecial: Bool) -> [Int] {
        lock.lock()
        defer { lock.unlock() }
        if shared == nil { shared = Encoder(self, retaining: false) }
        var out: [UInt32] = []
        var s = text
        s.withUTF8 { shared!.encode($0, allowSpecial: allowSpecial, into: &out) }
        return out.map { Int($0) }
    }

    /// A new encoder with its own word cache (not thread-safe; use one per thread).
    public func makeEncoder() -> Encoder { Encoder(self) }

    // MARK: Decoding

    /// Whether `id` names a token.
    public func isKnown(_ id: Int) -> Bool {
        id >= 0 && id < raw.count && !(raw[id].isEmpty && tokens[id].isEmpty)
    }

    /// Throws `TokenizeError.unknownId` for the first id that names no token.
    public func check(_ ids: [Int]) throws {
        if let bad = ids.first(where: { !isKnown($0) }) { throw TokenizeError.unknownId(bad) }
    }

    /// The bytes that `ids` stand for (ids that name no token are skipped, as tokenizers' decode does).
    public func decodeBytes(_ ids: [Int]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(ids.count * 4)
        for id in ids where isKnown(id) { out.append(contentsOf: raw[id]) }
        return out
    }

    /// The text of `ids` (byte sequences that are not UTF-8 become U+FFFD, as in tokenizers and tiktoken;
    /// unknown ids are skipped — use `check` first to reject them). Added tokens are rendered as their text.
    public func decode(_ ids: [Int]) -> String {
        String(decoding: decodeBytes(ids), as: UTF8.self)
    }

    /// The id of a token given by its text: an added (special) token such as `<pad>`, or a vocabulary entry as
    /// written in vocab.json (byte-level symbols, e.g. `Ġthe`). Nil when there is none.
    public func tokenId(_ text: String) -> Int? {
        let b = Array(text.utf8)
        if let a = added.first(where: { $0.0 == b }) { return a.1 }
        return b.withUnsafeBufferPointer { p -> Int? in
            guard let base = p.baseAddress else { return nil }
            return vocabIndex.lookup(base, p.count).map { Int(vocabIndex.value($0)) }
        }
    }

    /// The symbol string of one token (for display).
    public func token(_ id: Int) -> String? {
        guard id >= 0, id < tokens.count, !tokens[id].isEmpty else { return nil }
        return String(decoding: tokens[id], as: UTF8.self)
    }
}

/// Encodes with a cache of word -> ids. One per thread.
public final class Encoder {
    /// Not counted: the tokenizer's own shared encoder would otherwise keep it alive (tokenizer → encoder →
    /// tokenizer), leaking both; `owner` holds it for every other encoder, so `t` never dangles.
    unowned(unsafe) let t: BPETokenizer
    private let owner: BPETokenizer?
    let scanner = PreTokenizer()
    private let cache = ByteTable(capacity: 1 << 16)
    private var cacheIds: [UInt32] = []
    var sym: [UInt32] = []
    private var ranks: [UInt32] = []
    private var scratch: [UInt8] = []
    static let maxCached = 64
    static let cacheLimit = 1 << 20

    init(_ t: BPETokenizer, retaining: Bool = true) {
        self.t = t
        owner = retaining ? t : nil
    }
    deinit { scanner.deallocate() }

    /// Ids of `text` appended to `out`.
    public func encode(_ text: String, allowSpecial: Bool = false, into out: inout [UInt32]) {
        var s = text
        s.withUTF8 { encode($0, allowSpecial: allowSpecial, into: &out) }
    }

    /// Ids of UTF-8 `text` appended to `out` (the text must be valid UTF-8: invalid sequences and what follows
    /// them on the piece are skipped; callers decode bytes with replacement first).
    /// `prefix: false` suppresses the tokenizer's prefix space (for text that continues an earlier part).
    public func encode(_ text: UnsafeBufferPointer<UInt8>, allowSpecial: Bool = false, prefix: Bool = true,
                       into out: inout [UInt32]) {
        guard let base = text.baseAddress, text.count > 0 else { return }
        if !allowSpecial || t.added.isEmpty {
            encodeSegment(base, text.count, prefix: prefix, into: &out)
            return
        }
        // Split out added tokens (leftmost, then longest).
        var start = 0
        var i = 0
        let n = text.count
        while i < n {
            var matched: ([UInt8], Int)? = nil
            for a in t.added where a.0.count <= n - i && a.0.count > 0 {
                if a.0.withUnsafeBufferPointer({ memcmp($0.baseAddress!, base + i, a.0.count) == 0 }) {
                    matched = a
                    break // longest first
                }
            }
            if let m = matched {
                if i > start { encodeSegment(base + start, i - start, into: &out) }
                out.append(UInt32(m.1))
                i += m.0.count
                start = i
            } else {
                i += 1
            }
        }
        if n > start { encodeSegment(base + start, n - start, into: &out) }
    }

    /// Encodes one segment; returns false (output unchanged) when it is not valid UTF-8.
    @discardableResult
    func encodeSegment(_ p: UnsafePointer<UInt8>, _ n: Int, prefix: Bool = true, into out: inout [UInt32]) -> Bool {
        let before = out.count
        var bad: Int? = nil
        if prefix && t.addPrefixSpace && p[0] != 0x20 {
            if scratch.count < n + 1 { scratch = [UInt8](repeating: 0, count: n + 1) }
            scratch.withUnsafeMutableBufferPointer { s in
                s[0] = 0x20
                (s.baseAddress! + 1).update(from: p, count: n)
                let sp = UnsafePointer(s.baseAddress!)
                bad = scanner.split(sp, n + 1) { a, z in piece(sp + a, z - a, into: &out) }
            }
        } else {
            bad = scanner.split(p, n) { a, z in piece(p + a, z - a, into: &out) }
        }
        if bad != nil {
            out.removeSubrange(before...)
            return false
        }
        return true
    }

    /// Encodes UTF-8 bytes without special tokens; returns false (output unchanged) when they are not valid UTF-8.
    func encodeIfValid(_ text: UnsafeBufferPointer<UInt8>, prefix: Bool, into out: inout [UInt32]) -> Bool {
        guard let base = text.baseAddress, text.count > 0 else { return true }
        return encodeSegment(base, text.count, prefix: prefix, into: &out)
    }

    @inline(__always)
    func piece(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [UInt32]) {
        if n <= Encoder.maxCached, let e = cache.lookup(p, n) {
            let v = Int(cache.value(e))
            let off = v >> 8, cnt = v & 0xFF
            cacheIds.withUnsafeBufferPointer {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: $0[off..<(off + cnt)]))
            }
            return
        }
        let before = out.count
        bpe(p, n, into: &out)
        if n <= Encoder.maxCached {
            if cache.count >= Encoder.cacheLimit { cache.removeAll(); cacheIds.removeAll(keepingCapacity: true) }
            let off = cacheIds.count
            cacheIds.append(contentsOf: out[before...])
            cache.add(p, n, Int64(off << 8 | (out.count - before)))
        }
    }

    @inline(__always)
    func rankOf(_ a: UInt32, _ b: UInt32) -> UInt32 {
        if let i = t.mergeIndex.get(UInt64(a) << 32 | UInt64(b)) { return t.mergeRank[Int(i)] }
        return UInt32.max
    }

    /// BPE on one piece: repeatedly merge the adjacent pair with the lowest merge rank (leftmost on ties).
    func bpe(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [UInt32]) {
        sym.removeAll(keepingCapacity: true)
        for i in 0..<n {
            let id = t.byteId[Int(p[i])]
            if id >= 0 { sym.append(UInt32(id)) }
        }
        if sym.count < 2 { out.append(contentsOf: sym); return }
        if sym.count > 128 { bpeLong(into: &out); return }
        mergeShort(into: &out)
    }

    func mergeShort(into out: inout [UInt32]) {
        ranks.removeAll(keepingCapacity: true)
        for i in 0..<(sym.count - 1) { ranks.append(rankOf(sym[i], sym[i + 1])) }
        while true {
            var best = UInt32.max
            var at = -1
            for i in 0..<ranks.count where ranks[i] < best { best = ranks[i]; at = i }
            if at < 0 { break }
            let i = t.mergeIndex.get(UInt64(sym[at]) << 32 | UInt64(sym[at + 1]))!
            sym[at] = t.mergeResult[Int(i)]
            sym.remove(at: at + 1)
            ranks.remove(at: at)
            if at > 0 { ranks[at - 1] = rankOf(sym[at - 1], sym[at]) }
            if at < ranks.count { ranks[at] = rankOf(sym[at], sym[at + 1]) }
        }
        out.append(contentsOf: sym)
    }

    /// The same for long pieces, in O(n log n): a linked list of symbols and a min-heap of (rank, position).
    func bpeLong(into out: inout [UInt32]) {
        let n = sym.count
        var next = [Int](0..<n).map { $0 + 1 }
        next[n - 1] = -1
        var prev = [Int](0..<n).map { $0 - 1 }
        var alive = [Bool](repeating: true, count: n)
        var heap: [(UInt32, Int)] = []
        func less(_ x: (UInt32, Int), _ y: (UInt32, Int)) -> Bool { x.0 != y.0 ? x.0 < y.0 : x.1 < y.1 }
        func push(_ e: (UInt32, Int)) {
            heap.append(e)
            var i = heap.count - 1
            while i > 0 {
                let pa = (i - 1) / 2
                if !less(heap[i], heap[pa]) { break }
                heap.swapAt(i, pa); i = pa
            }
        }
        func pop() -> (UInt32, Int)? {
            guard let top = heap.first else { return nil }
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var i = 0
                while true {
                    let l = 2 * i + 1, r = l + 1
                    var m = i
                    if l < heap.count && less(heap[l], heap[m]) { m = l }
                    if r < heap.count && less(heap[r], heap[m]) { m = r }
                    if m == i { break }
                    heap.swapAt(i, m); i = m
                }
            }
            return top
        }
        for i in 0..<(n - 1) {
            let r = rankOf(sym[i], sym[i + 1])
            if r != UInt32.max { push((r, i)) }
        }
        while let (r, pos) = pop() {
            guard alive[pos], next[pos] >= 0 else { continue }
            let q = next[pos]
            guard let idx = t.mergeIndex.get(UInt64(sym[pos]) << 32 | UInt64(sym[q])), t.mergeRank[Int(idx)] == r else {
                continue
            }
            sym[pos] = t.mergeResult[Int(idx)]
            alive[q] = false
            next[pos] = next[q]
            if next[q] >= 0 { prev[next[q]] = pos }
            if prev[pos] >= 0 {
                let pr = rankOf(sym[prev[pos]], sym[pos])
                if pr != UInt32.max { push((pr, prev[pos])) }
            }
            if next[pos] >= 0 {
                let nr = rankOf(sym[pos], sym[next[pos]])
                if nr != UInt32.max { push((nr, pos)) }
            }
        }
        var i = 0
        while i >= 0 { out.append(sym[i]); i = next[i] }
    }
}

extension Encoder {
    /// The quadratic path on a piece of any length (tests compare it with `bpeLong`).
    func bpeShortForTesting(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [UInt32]) {
        sym.removeAll(keepingCapacity: true)
        for i in 0..<n {
            let id = t.byteId[Int(p[i])]
            if id >= 0 { sym.append(UInt32(id)) }
        }
        if sym.count < 2 { out.append(contentsOf: sym); return }
        mergeShort(into: &out)
    }
}

/// Text input from files: bytes that are not UTF-8 are replaced by U+FFFD (one per maximal invalid subpart, as
/// Python's `errors="replace"` and tiktoken/tokenizers callers reading files that way).
public enum TextInput {
    /// `bytes` as a string, invalid UTF-8 replaced by U+FFFD.
    public static func decode(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
}
