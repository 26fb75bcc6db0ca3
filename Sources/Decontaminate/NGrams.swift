import Core
import Foundation

/// A text as normalised words, the way lm-evaluation-harness's `Janitor.normalize_string` and `word_ngrams`
/// see it (the GPT-3 paper's contamination rule: "a lowercase, whitespace delimited word with no punctuation"):
/// ASCII letters lower-cased, the 32 ASCII punctuation characters (Python's `string.punctuation`) deleted, then
/// split on Python's whitespace (`str.split()`). Deletion comes before splitting, so `don't` is `dont` and
/// `3-4` is `34`; other characters are kept as they are.
///
/// The words are kept joined by single spaces in one byte buffer, so an n-gram is one slice of it.
public struct NormalizedWords {
    /// The words, UTF-8, separated by one space.
    public private(set) var bytes: [UInt8] = []
    /// Each word's first byte in `bytes`.
    public private(set) var starts: [Int] = []
    /// Each word's end (one past its last byte) in `bytes`.
    public private(set) var ends: [Int] = []
    /// Each word's 64-bit FNV-1a hash.
    public private(set) var hashes: [UInt64] = []

    /// No words.
    public init() {}

    /// The words of `text`.
    public init(_ text: String) { append(text) }

    /// The number of words.
    public var count: Int { starts.count }

    /// Forgets every word, keeping the buffers' capacity (one value reused over a stream of texts).
    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true); starts.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true); hashes.removeAll(keepingCapacity: true)
    }

    /// Adds the words of `text` after the current ones (a word boundary between them).
    public mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { append(utf8: $0) }
    }

    /// Adds the words of valid UTF-8 `utf8`.
    public mutating func append(utf8 buf: UnsafeBufferPointer<UInt8>) {
        var inWord = false
        var hash: UInt64 = 0
        func endWord() {
            if inWord { ends.append(bytes.count); hashes.append(hash); inWord = false }
        }
        func add(_ b: UInt8) {
            if !inWord {
                if !bytes.isEmpty { bytes.append(0x20) }
                starts.append(bytes.count)
                hash = NormalizedWords.fnvOffset
                inWord = true
            }
            bytes.append(b)
            hash = (hash ^ UInt64(b)) &* NormalizedWords.fnvPrime
        }
        var i = 0
        let n = buf.count
        while i < n {
            let b = buf[i]
            if b < 0x80 {
                if NormalizedWords.isASCIISpace(b) { endWord() } else if !NormalizedWords.isPunctuation(b) {
                    add(b >= 0x41 && b <= 0x5A ? b + 0x20 : b)
                }
                i += 1
                continue
            }
            // A multi-byte scalar: decoded only to ask whether it is Python whitespace.
            let length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
            guard i + length <= n else { break }
            var v = UInt32(b & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07))
            for k in 1..<length { v = v << 6 | UInt32(buf[i + k] & 0x3F) }
            if PythonText.isSpace(v) { endWord() } else { for k in 0..<length { add(buf[i + k]) } }
            i += length
        }
        endWord()
    }

    /// The words `i ..< i + n` as one slice (joined by single spaces).
    public func gram(_ i: Int, _ n: Int) -> ArraySlice<UInt8> { bytes[starts[i] ..< ends[i + n - 1]] }

    /// The words `i ..< i + n` as a string.
    public func gramText(_ i: Int, _ n: Int) -> String { String(decoding: gram(i, n), as: UTF8.self) }

    /// Every n-gram as a string, in order (none when there are fewer than `n` words): what `word_ngrams` yields.
    public func ngrams(_ n: Int) -> [String] {
        count < n ? [] : (0...(count - n)).map { gramText($0, n) }
    }

    /// The hash of the n-gram at each position `0 ... count - n`, rolled over the word hashes (a polynomial in
    /// `gramBase`), in one pass; `body(position, hash)` for each.
    public func forEachGramHash(_ n: Int, _ body: (Int, UInt64) -> Void) {
        guard n >= 1, count >= n else { return }
        var top: UInt64 = 1 // gramBase^(n-1)
        for _ in 1..<max(1, n) { top = top &* NormalizedWords.gramBase }
        var h: UInt64 = 0
        for k in 0..<n { h = h &* NormalizedWords.gramBase &+ hashes[k] }
        body(0, h)
        var i = 1
        while i + n <= count {
            h = (h &- hashes[i - 1] &* top) &* NormalizedWords.gramBase &+ hashes[i + n - 1]
            body(i, h)
            i += 1
        }
    }

    /// The hash `forEachGramHash` gives the n-gram of the words `i ..< i + n`.
    public func gramHash(_ i: Int, _ n: Int) -> UInt64 {
        var h: UInt64 = 0
        for k in i..<(i + n) { h = h &* NormalizedWords.gramBase &+ hashes[k] }
        return h
    }

    static let fnvOffset: UInt64 = 0xCBF2_9CE4_8422_2325
    static let fnvPrime: UInt64 = 0x0000_0100_0000_01B3
    static let gramBase: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// Python's ASCII whitespace: \t \n \v \f \r, U+001C–U+001F and space.
    @inline(__always) static func isASCIISpace(_ b: UInt8) -> Bool { PythonText.isSpace(UInt32(b)) }

    /// Python's `string.punctuation`: !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~.
    @inline(__always) static func isPunctuation(_ b: UInt8) -> Bool {
        (b >= 0x21 && b <= 0x2F) || (b >= 0x3A && b <= 0x40) || (b >= 0x5B && b <= 0x60) || (b >= 0x7B && b <= 0x7E)
    }
}

/// The n-grams of an evaluation set, to look training texts up in: every n-gram (`n` normalised words) of every
/// item, and for an item shorter than `n` words the whole item (the GPT-3 paper's rule: "or that overlap with the
/// whole example when it is shorter than 13-grams"). Lookups hash the n-gram and compare its bytes, so a hash
/// collision never makes a false overlap.
///
/// Stored flat (one byte buffer, one array per field, a hash table of first grams with chains through `next`):
/// about 100 bytes per distinct gram, instead of an array allocation or two for each.
public struct EvalNGrams {
    /// The n-gram length (13 in the GPT-3 paper).
    public let n: Int
    /// The items' ids, in the order added.
    public private(set) var itemIDs: [String] = []
    /// Items with no word at all (nothing to look for).
    public private(set) var emptyItems = 0
    /// Every distinct gram's bytes, one after the other; gram `g` is `bytes[offsets[g] ..< offsets[g + 1]]`.
    private var bytes: [UInt8] = []
    private var offsets: [Int] = [0]
    /// The first item each gram occurs in; the later ones (few: a gram shared by items) in `moreItems`.
    private var firstItem: [Int32] = []
    private var moreItems: [Int32: [Int32]] = [:]
    /// The next gram with the same length and hash (-1: none).
    private var next: [Int32] = []
    /// Gram length in words → gram hash → the first gram of its chain.
    private var tables: [Int: [UInt64: Int32]] = [:]

    /// An empty set of `n`-grams.
    public init(n: Int) { self.n = n }

    /// The number of distinct grams.
    public var count: Int { firstItem.count }
    /// The gram lengths looked up: `n`, and each shorter item's length.
    public var lengths: [Int] { tables.keys.sorted() }

    /// The gram of `table` with this hash and these bytes, if any.
    private func find(_ table: [UInt64: Int32], _ h: UInt64, _ gram: ArraySlice<UInt8>) -> Int32? {
        var g = table[h] ?? -1
        while g >= 0 {
            if bytes[offsets[Int(g)] ..< offsets[Int(g) + 1]].elementsEqual(gram) { return g }
            g = next[Int(g)]
        }
        return nil
    }

    /// The items gram `g` occurs in, ascending.
    public func items(_ g: Int32) -> [Int32] { [firstItem[Int(g)]] + (moreItems[g] ?? []) }

    /// A gram's text.
    public func text(_ g: Int32) -> String {
        String(decoding: bytes[offsets[Int(g)] ..< offsets[Int(g) + 1]], as: UTF8.self)
    }

    /// Adds an item's grams (the item is `itemIDs.count` before the call).
    public mutating func add(id: String, words: NormalizedWords) {
        let item = Int32(itemIDs.count)
        itemIDs.append(id)
        guard words.count > 0 else { emptyItems += 1; return }
        let length = min(n, words.count)
        var table = tables.removeValue(forKey: length) ?? [:] // unique while it grows
        words.forEachGramHash(length) { i, h in
            let gram = words.gram(i, length)
            if let g = find(table, h, gram) {
                let last = moreItems[g]?.last ?? firstItem[Int(g)]
                if last != item { moreItems[g, default: []].append(item) }
            } else {
                let g = Int32(firstItem.count)
                bytes.append(contentsOf: gram)
                offsets.append(bytes.count)
                firstItem.append(item)
                next.append(table[h] ?? -1)
                table[h] = g
            }
        }
        tables[length] = table
    }

    /// The distinct grams of this set that `words` contains, each with the position of its first occurrence,
    /// ordered by that position, then by length.
    public func matches(in words: NormalizedWords) -> [(gram: Int32, position: Int, length: Int)] {
        var found: [(gram: Int32, position: Int, length: Int)] = []
        var seen = Set<Int32>()
        for (length, table) in tables.sorted(by: { $0.key < $1.key }) where words.count >= length {
            words.forEachGramHash(length) { i, h in
                guard table[h] != nil, let g = find(table, h, words.gram(i, length)), seen.insert(g).inserted else {
                    return
                }
                found.append((g, i, length))
            }
        }
        if tables.count > 1 { found.sort { ($0.position, $0.length) < ($1.position, $1.length) } }
        return found
    }

    /// The overlaps of one training text, per evaluation item (in item order): the first shared gram's text (in
    /// training order) and the number of distinct shared grams.
    public func overlaps(in words: NormalizedWords) -> [(item: Int32, ngram: String, shared: Int)] {
        var perItem: [Int32: (first: Int32, shared: Int)] = [:]
        for m in matches(in: words) {
            for item in items(m.gram) {
                let p = perItem[item]
                perItem[item] = (p?.first ?? m.gram, (p?.shared ?? 0) + 1)
            }
        }
        return perItem.keys.sorted().map { item in (item, text(perItem[item]!.first), perItem[item]!.shared) }
    }
}
