import Foundation

/// MinHash signatures and LSH buckets with the defaults of datatrove's `MinhashConfig` (datatrove 0.10): 5-gram
/// word shingles of the simplified text (spaCy's English words), each hashed with XXH64 of its UTF-8 bytes
/// (words joined by one space), 14 buckets × 8 hashes, permutations `(h·a + b) mod (2⁶¹−1)` in wrapping 64-bit
/// arithmetic as numpy computes them, `a`, `b` drawn by `np.random.RandomState(1).randint`.
public struct MinHash: Sendable {
    /// Words per shingle.
    public let ngrams: Int
    /// LSH buckets (bands).
    public let buckets: Int
    /// Hashes per bucket (rows).
    public let hashesPerBucket: Int
    /// The permutations' multipliers and offsets, `buckets × hashesPerBucket` each.
    public let a: [UInt64], b: [UInt64]
    static let prime: UInt64 = (1 << 61) - 1

    /// datatrove's parameters for this configuration and `seed` (its `MinhashDedupSignature.parameters`).
    public init(ngrams: Int = 5, buckets: Int = 14, hashesPerBucket: Int = 8, seed: UInt32 = 1) {
        self.ngrams = ngrams; self.buckets = buckets; self.hashesPerBucket = hashesPerBucket
        var rng = LegacyRandom(seed: seed)
        a = rng.randint(1, MinHash.prime, count: buckets * hashesPerBucket)
        b = rng.randint(0, MinHash.prime, count: buckets * hashesPerBucket)
    }

    /// The number of hashes in a signature.
    public var count: Int { buckets * hashesPerBucket }

    /// The Jaccard similarity at which a pair is as likely found as not: (1/b)^(1/r).
    public var threshold: Double { pow(1 / Double(buckets), 1 / Double(hashesPerBucket)) }

    /// The shingle hashes of `text` (one per n-gram of its words, in order, repeats kept); empty when it has fewer
    /// than `ngrams` words.
    public func shingles(_ text: String) -> [UInt64] {
        let simple = SimplifiedText.simplify(text)
        let words = SpaCyWords.tokens(simple)
        guard words.count >= ngrams else { return [] }
        var out: [UInt64] = []
        out.reserveCapacity(words.count - ngrams + 1)
        var scratch: [UInt8] = []
        simple.withUnsafeBufferPointer { buf in
            for i in 0...(words.count - ngrams) {
                scratch.removeAll(keepingCapacity: true)
                for k in i..<i + ngrams {
                    if k > i { scratch.append(0x20) }
                    scratch.append(contentsOf: buf[words[k]])
                }
                out.append(scratch.withUnsafeBytes { XXHash64.hash($0) })
            }
        }
        return out
    }

    /// The signature of a document's shingles: per permutation, the least permuted hash; nil without shingles
    /// (datatrove writes no signature for such a document: it is never a duplicate).
    public func signature(shingles: [UInt64]) -> [UInt64]? {
        guard !shingles.isEmpty else { return nil }
        var sig = [UInt64](repeating: .max, count: count)
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                sig.withUnsafeMutableBufferPointer { sig in
                    for h in shingles {
                        for j in 0..<a.count {
                            let v = (h &* a[j] &+ b[j]) % MinHash.prime
                            if v < sig[j] { sig[j] = v }
                        }
                    }
                }
            }
        }
        return sig
    }

    /// The signature of `text`, nil without shingles.
    public func signature(_ text: String) -> [UInt64]? { signature(shingles: shingles(text)) }

    /// The duplicate pairs (earlier, later) of each bucket, in datatrove's order: bucket by bucket, the
    /// signatures' bucket slices sorted (ties by unit index), each unit paired with the one before it when their
    /// slices are equal. `signatures[i]` is unit i's (nil: none).
    public func pairs(_ signatures: [[UInt64]?]) -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        let r = hashesPerBucket
        var order = signatures.indices.filter { signatures[$0] != nil }
        for bucket in 0..<buckets {
            let lo = bucket * r
            order.sort { x, y in
                let sx = signatures[x]!, sy = signatures[y]!
                for k in lo..<lo + r where sx[k] != sy[k] { return sx[k] < sy[k] }
                return x < y
            }
            for (p, q) in zip(order, order.dropFirst()) {
                let sp = signatures[p]!, sq = signatures[q]!
                if (lo..<lo + r).allSatisfy({ sp[$0] == sq[$0] }) { out.append((p, q)) }
            }
        }
        return out
    }
}

/// datatrove's `MinhashDedupCluster`: union-find by size over the duplicate pairs in their order (the root of
/// the larger set stays root; on a tie, the first of the pair's); every unit in a pair whose root is not itself
/// is removed, so each cluster keeps its root.
public struct DuplicateClusters {
    private var parent: [Int]
    private var size: [Int]
    private var touched: [Bool]

    /// The clusters of `pairs` over `count` units.
    public init(count: Int, pairs: [(Int, Int)]) {
        parent = Array(0..<count); size = [Int](repeating: 1, count: count)
        touched = [Bool](repeating: false, count: count)
        for (x, y) in pairs { union(x, y) }
    }

    mutating func find(_ x: Int) -> Int {
        var root = x
        while parent[root] != root { root = parent[root] }
        var y = x
        while parent[y] != root { let next = parent[y]; parent[y] = root; y = next }
        return root
    }

    mutating func union(_ x: Int, _ y: Int) {
        touched[x] = true; touched[y] = true
        var ra = find(x), rb = find(y)
        guard ra != rb else { return }
        if size[ra] < size[rb] { swap(&ra, &rb) }
        parent[rb] = ra
        size[ra] += size[rb]
    }

    /// Each cluster (of two or more units): its kept root and its removed members, in unit order; clusters in
    /// the order of their roots.
    public mutating func clusters() -> [(kept: Int, removed: [Int])] {
        var members: [Int: [Int]] = [:]
        for i in parent.indices where touched[i] {
            let r = find(i)
            if r != i { members[r, default: []].append(i) }
        }
        return members.keys.sorted().map { ($0, members[$0]!) }
    }
}
