/// Up to six symbols packed into 128 bits so that comparing keys compares the symbol sequences
/// lexicographically (a missing symbol is 0, below every symbol, so a shorter sequence sorts first).
struct NGramKey: Comparable, Equatable {
    var hi: UInt64
    var lo: UInt64

    @inline(__always)
    static func < (a: NGramKey, b: NGramKey) -> Bool { a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

    /// Sorts in place without allocating (quicksort, median of three, insertion sort below 16 keys): the profiles
    /// of short texts are sorted millions of times. With `singleWord` every key's `lo` is 0 and only `hi` is compared.
    static func sort(_ a: UnsafeMutableBufferPointer<NGramKey>, singleWord: Bool) {
        @inline(__always) func less(_ x: NGramKey, _ y: NGramKey) -> Bool { singleWord ? x.hi < y.hi : x < y }
        var lo = 0, hi = a.count - 1
        while hi - lo >= 16 {
            let mid = lo + (hi - lo) / 2
            if less(a[mid], a[lo]) { a.swapAt(mid, lo) }
            if less(a[hi], a[lo]) { a.swapAt(hi, lo) }
            if less(a[hi], a[mid]) { a.swapAt(hi, mid) }
            let pivot = a[mid]
            var i = lo, j = hi
            while i <= j {
                while less(a[i], pivot) { i += 1 }
                while less(pivot, a[j]) { j -= 1 }
                if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
            }
            // Recurse into the smaller side, loop on the larger (stack depth O(log n)).
            if j - lo < hi - i {
                if lo < j { sort(UnsafeMutableBufferPointer(rebasing: a[lo...j]), singleWord: singleWord) }
                lo = i
            } else {
                if i < hi { sort(UnsafeMutableBufferPointer(rebasing: a[i...hi]), singleWord: singleWord) }
                hi = j
            }
        }
        if hi > lo {
            for k in (lo + 1)...hi {
                let x = a[k]
                var m = k
                while m > lo && less(x, a[m - 1]) { a[m] = a[m - 1]; m -= 1 }
                a[m] = x
            }
        }
    }
}

/// The n-grams of one symbol sequence, every order at once: one key per start position holding the next
/// `maxOrder` symbols, sorted. Equal n-grams of any order n ≤ maxOrder are then neighbours, so counting and
/// matching are linear scans (no hashing). Symbols must be below 2^bits.
struct NGramProfile {
    let keys: [NGramKey]
    let length: Int
    let layout: NGramLayout

    init(_ symbols: UnsafeBufferPointer<UInt32>, layout: NGramLayout) {
        self.layout = layout
        length = symbols.count
        var keys = [NGramKey](repeating: NGramKey(hi: 0, lo: 0), count: symbols.count)
        let perWord = layout.perWord, bits = UInt64(layout.bits)
        for i in 0..<symbols.count {
            var hi: UInt64 = 0, lo: UInt64 = 0
            let end = min(symbols.count, i + layout.maxOrder)
            for k in i..<end {
                let slot = k - i
                let v = UInt64(symbols[k]) &+ 1
                if slot < perWord {
                    hi |= v << (bits * UInt64(perWord - 1 - slot))
                } else {
                    lo |= v << (bits * UInt64(2 * perWord - 1 - slot))
                }
            }
            keys[i] = NGramKey(hi: hi, lo: lo)
        }
        keys.withUnsafeMutableBufferPointer { NGramKey.sort($0, singleWord: layout.maxOrder <= layout.perWord) }
        self.keys = keys
    }

    /// Σ over the n-grams of order n of min(count here, count in `other`): a merge of the two sorted key lists.
    func clippedMatches(_ other: NGramProfile, order n: Int) -> Int {
        let mask = layout.masks[n - 1], last = layout.lastSlot[n - 1]
        return keys.withUnsafeBufferPointer { a in
            other.keys.withUnsafeBufferPointer { b in
                @inline(__always) func valid(_ k: NGramKey) -> Bool { (k.hi & last.hi) | (k.lo & last.lo) != 0 }
                @inline(__always) func prefix(_ k: NGramKey) -> NGramKey {
                    NGramKey(hi: k.hi & mask.hi, lo: k.lo & mask.lo)
                }
                var i = 0, j = 0, total = 0
                while true {
                    while i < a.count && !valid(a[i]) { i += 1 }
                    while j < b.count && !valid(b[j]) { j += 1 }
                    if i == a.count || j == b.count { return total }
                    let pa = prefix(a[i]), pb = prefix(b[j])
                    if pa < pb { i += 1 } else if pb < pa { j += 1 } else {
                        // A shorter key never has this prefix, so each run is contiguous.
                        var ca = 0, cb = 0
                        while i < a.count && prefix(a[i]) == pa { ca += 1; i += 1 }
                        while j < b.count && prefix(b[j]) == pb { cb += 1; j += 1 }
                        total += min(ca, cb)
                    }
                }
            }
        }
    }

    /// The number of n-grams of order n.
    @inline(__always)
    func total(order n: Int) -> Int { max(0, length - n + 1) }
}

/// How symbols are packed: `bits` per symbol, `perWord` symbols in each of the two 64-bit words.
struct NGramLayout {
    let bits: Int
    let perWord: Int
    let maxOrder: Int
    /// Masks keeping the first n symbols, for n = 1…maxOrder (index n - 1).
    let masks: [NGramKey]
    /// The bits of the n-th symbol alone (non-zero iff the key has an n-gram of order n).
    let lastSlot: [NGramKey]

    init(bits: Int, perWord: Int, maxOrder: Int) {
        precondition(maxOrder <= 2 * perWord && bits * perWord <= 64)
        self.bits = bits
        self.perWord = perWord
        self.maxOrder = maxOrder
        let slotMask: UInt64 = bits == 64 ? ~0 : (1 << UInt64(bits)) - 1
        func slot(_ s: Int) -> NGramKey {
            s < perWord ? NGramKey(hi: slotMask << UInt64(bits * (perWord - 1 - s)), lo: 0)
                        : NGramKey(hi: 0, lo: slotMask << UInt64(bits * (2 * perWord - 1 - s)))
        }
        var masks: [NGramKey] = [], last: [NGramKey] = []
        var acc = NGramKey(hi: 0, lo: 0)
        for s in 0..<maxOrder {
            let m = slot(s)
            acc = NGramKey(hi: acc.hi | m.hi, lo: acc.lo | m.lo)
            masks.append(acc)
            last.append(m)
        }
        self.masks = masks
        lastSlot = last
    }

    /// Characters (code points + 1 < 2^21), three to a word: up to 6-grams (chrF).
    static let characters = NGramLayout(bits: 21, perWord: 3, maxOrder: 6)
    /// Symbols + 1 < 2^10 (a text's alphabet numbered densely), all six in one word.
    static let denseCharacters = NGramLayout(bits: 10, perWord: 6, maxOrder: 6)
    /// Symbols + 1 < 2^16, all four in one word.
    static let denseTokens = NGramLayout(bits: 16, perWord: 4, maxOrder: 4)
    /// Token ids (+ 1 < 2^32), two to a word: up to 4-grams (BLEU).
    static let tokens = NGramLayout(bits: 32, perWord: 2, maxOrder: 4)
}

/// The distinct n-grams of one order and their counts, in key order.
struct NGramRuns {
    var keys: [NGramKey] = []
    var counts: [Int32] = []

    init(_ profile: NGramProfile, order n: Int) {
        let mask = profile.layout.masks[n - 1], last = profile.layout.lastSlot[n - 1]
        let keys = profile.keys
        self.keys.reserveCapacity(profile.total(order: n))
        self.counts.reserveCapacity(profile.total(order: n))
        var i = 0
        while i < keys.count {
            let k = keys[i]
            if k.hi & last.hi == 0 && k.lo & last.lo == 0 { i += 1; continue } // shorter than n
            let prefix = NGramKey(hi: k.hi & mask.hi, lo: k.lo & mask.lo)
            var j = i + 1
            while j < keys.count && keys[j].hi & mask.hi == prefix.hi && keys[j].lo & mask.lo == prefix.lo { j += 1 }
            self.keys.append(prefix)
            self.counts.append(Int32(j - i))
            i = j
        }
    }

    /// Raises `best[k]` to the count in `other` of this run list's k-th n-gram.
    func maximise(_ best: inout [Int32], countsIn other: NGramRuns) {
        var i = 0, j = 0
        while i < keys.count && j < other.keys.count {
            let a = keys[i], b = other.keys[j]
            if a < b { i += 1 } else if b < a { j += 1 } else {
                if other.counts[j] > best[i] { best[i] = other.counts[j] }
                i += 1; j += 1
            }
        }
    }
}

/// Numbers the distinct code points of a segment and its references 0, 1, 2… (only equality matters for the
/// counts), so that most texts' 6-grams fit one 64-bit word.
struct Alphabet {
    private var ascii = [Int32](repeating: -1, count: 128)
    private var others: [UInt32: UInt32] = [:]
    private(set) var count = 0

    mutating func ranks(_ codePoints: [UInt32]) -> [UInt32] {
        codePoints.map { v in
            if v < 128 {
                if ascii[Int(v)] < 0 { ascii[Int(v)] = Int32(count); count += 1 }
                return UInt32(ascii[Int(v)])
            }
            if let r = others[v] { return r }
            others[v] = UInt32(count)
            count += 1
            return UInt32(count - 1)
        }
    }
}
