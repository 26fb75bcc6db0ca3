import COpenBLAS
import Core
import Foundation

/// How a search ranks chunks: dense vectors, BM25, or both fused.
public enum SearchMode: String, CaseIterable, Sendable {
    case hybrid, dense, bm25
}

/// One result of a search.
public struct SearchHit: Codable, Equatable, Sendable {
    /// 1-based rank.
    public var rank: Int
    /// dense: cosine similarity; bm25: −bm25() (higher is better); hybrid: reciprocal-rank-fusion score.
    public var score: Double
    /// The chunk's id.
    public var chunkId: String
    /// The document's id.
    public var docId: String
    /// The document's source path.
    public var source: String
    /// The page the chunk is on, when known.
    public var page: Int?
    /// The chunk's `start_index` in its page text.
    public var startIndex: Int
    /// The chunk's text.
    public var text: String

    enum CodingKeys: String, CodingKey {
        case rank, score, chunkId = "chunk_id", docId = "doc_id", source, page, startIndex = "start_index", text
    }
}

/// Exact dense top-k, BM25 through FTS5, and their reciprocal-rank fusion over an `index.sqlite`.
public final class SearchIndex {
    /// The database file.
    public let path: String
    /// The `meta` table (model, dimension, …).
    public let meta: [String: String]
    /// Length of the stored vectors.
    public let dimension: Int
    let db: SQLiteDB
    /// Chunk ids (`chunks.id`) and their vectors, row-major, loaded on first dense search.
    private var ids: [Int] = []
    private var matrix: [Float] = []
    private var loaded = false

    /// RRF constant, as in the reciprocal rank fusion paper and LangChain's EnsembleRetriever.
    public static let rrfK = 60.0

    /// Opens the index at `path`; an error when there is none or it is unreadable.
    public init(path: String) throws {
        guard FileSystem.exists(path) else {
            throw IndexError.search("\(path): no index (run `pipeline index` first)")
        }
        self.path = path
        db = try SQLiteDB(path: path, readOnly: true)
        var meta: [String: String] = [:]
        do {
            let q = try db.prepare("SELECT key, value FROM meta")
            while try q.step() { meta[q.string(0)] = q.string(1) }
        } catch {
            throw IndexError.search("\(path): not an index database (\(error))")
        }
        guard let d = meta["dimension"].flatMap(Int.init), d > 0 else {
            throw IndexError.search("\(path): meta table has no dimension")
        }
        self.meta = meta
        dimension = d
    }

    /// Loads every chunk's vector into one contiguous matrix (chunk order).
    public func loadVectors() throws {
        guard !loaded else { return }
        let q = try db.prepare("""
            SELECT c.id, e.vector FROM chunks c JOIN embeddings e ON e.text_sha256 = c.text_sha256 ORDER BY c.id
            """)
        var ids: [Int] = []
        var m: [Float] = []
        let bytes = dimension * 4
        while try q.step() {
            let blob = q.blob(1)
            guard blob.count == bytes else {
                throw IndexError.search("\(path): chunk \(q.int(0)) has a \(blob.count)-byte vector, expected \(bytes)")
            }
            ids.append(q.int(0))
            let start = m.count
            m.append(contentsOf: repeatElement(0, count: dimension))
            m.withUnsafeMutableBytes { dst in
                dst.baseAddress!.advanced(by: start * 4).copyMemory(from: blob.baseAddress!, byteCount: bytes)
            }
        }
        self.ids = ids
        matrix = m
        loaded = true
    }

    /// Number of stored vectors (0 until the first dense search loads them).
    public var vectorCount: Int { ids.count }

    /// Exact top-k by inner product (cosine: all vectors are unit length) of a unit query vector.
    public func dense(_ query: [Float], k: Int) throws -> [(id: Int, score: Double)] {
        try loadVectors()
        guard query.count == dimension else {
            throw IndexError.search("query vector has dimension \(query.count), index \(dimension)")
        }
        let top = matrix.withUnsafeBufferPointer { m in
            query.withUnsafeBufferPointer { q in
                SearchIndex.denseTopK(matrix: m.baseAddress!, rows: ids.count, dim: dimension,
                                      query: q.baseAddress!, k: k)
            }
        }
        return top.map { (ids[$0.row], Double($0.score)) }
    }

    /// Scores every row with one sgemv over the contiguous matrix, then keeps the k best (ties: lower row first).
    public static func denseTopK(matrix: UnsafePointer<Float>, rows: Int, dim: Int, query: UnsafePointer<Float>,
                                 k: Int, scratch: UnsafeMutablePointer<Float>? = nil) -> [(row: Int, score: Float)] {
        guard rows > 0, k > 0 else { return [] }
        let k = min(k, rows)  // a k beyond the index asks for every row
        let scores = scratch ?? UnsafeMutablePointer<Float>.allocate(capacity: rows)
        defer { if scratch == nil { scores.deallocate() } }
        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(rows), Int32(dim), 1, matrix, Int32(dim), query, 1, 0, scores, 1)
        // Sorted (descending) list of the best k; a new row enters only when strictly better than the last.
        var best: [(row: Int, score: Float)] = []
        best.reserveCapacity(k + 1)
        for r in 0..<rows {
            let s = scores[r]
            if best.count == k, !(s > best[k - 1].score) { continue }
            var i = best.count
            while i > 0, s > best[i - 1].score { i -= 1 }
            best.insert((r, s), at: i)
            if best.count > k { best.removeLast() }
        }
        return best
    }

    /// Turns any user text into a valid FTS5 query: the words (runs of letters, digits and marks) become
    /// double-quoted strings joined by OR, so operators (AND, OR, NOT, NEAR), `*`, `:`, `^`, quotes, parentheses
    /// and column filters are all searched as plain words. nil when the text has no word.
    public static func ftsQuery(_ text: String) -> String? {
        var terms: [String] = []
        var seen = Set<String>()
        var word = String.UnicodeScalarView()
        func end() {
            if !word.isEmpty {
                let w = String(word)
                if seen.insert(w).inserted, terms.count < 64 { terms.append("\"" + w + "\"") }
                word = String.UnicodeScalarView()
            }
        }
        for c in text.unicodeScalars {
            switch c.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
                 .decimalNumber, .letterNumber, .otherNumber, .nonspacingMark, .spacingMark, .enclosingMark:
                word.append(c)
            default:
                end()
            }
        }
        end()
        return terms.isEmpty ? nil : terms.joined(separator: " OR ")
    }

    /// BM25 top-k through FTS5 (score = −bm25(), higher is better).
    public func bm25(_ query: String, k: Int) throws -> [(id: Int, score: Double)] {
        guard let match = SearchIndex.ftsQuery(query), k > 0 else { return [] }
        let q = try db.prepare("""
            SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? \
            ORDER BY bm25(chunks_fts), rowid LIMIT ?
            """)
        q.bind(1, match); q.bind(2, k)
        var out: [(id: Int, score: Double)] = []
        while try q.step() { out.append((q.int(0), -q.double(1))) }
        return out
    }

    /// Reciprocal rank fusion: score(d) = Σ 1 / (60 + rank of d in list), ranks from 1; ties: lower id first.
    public static func fuse(_ lists: [[(id: Int, score: Double)]], k: Int) -> [(id: Int, score: Double)] {
        var scores: [Int: Double] = [:]
        for list in lists {
            for (i, item) in list.enumerated() { scores[item.id, default: 0] += 1 / (rrfK + Double(i + 1)) }
        }
        let sorted = scores.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        return sorted.prefix(k).map { ($0.key, $0.value) }
    }

    /// Searches with `mode`; `embed` turns the query into a unit vector (needed for dense and hybrid).
    public func search(_ query: String, k: Int, mode: SearchMode,
                       embed: (String) throws -> [Float]) throws -> [SearchHit] {
        let ranked: [(id: Int, score: Double)]
        switch mode {
        case .bm25:
            ranked = try bm25(query, k: k)
        case .dense:
            ranked = try dense(try embed(query), k: k)
        case .hybrid:
            let n = max(k, 20)
            ranked = SearchIndex.fuse([try dense(try embed(query), k: n), try bm25(query, k: n)], k: k)
        }
        return try hits(ranked)
    }

    func hits(_ ranked: [(id: Int, score: Double)]) throws -> [SearchHit] {
        let q = try db.prepare("SELECT chunk_id, doc_id, source, page, start_index, text FROM chunks WHERE id = ?")
        var out: [SearchHit] = []
        for (i, r) in ranked.enumerated() {
            q.bind(1, r.id)
            guard try q.step() else { q.reset(); continue }
            out.append(SearchHit(rank: i + 1, score: r.score, chunkId: q.string(0), docId: q.string(1),
                                 source: q.string(2), page: q.optionalInt(3), startIndex: q.int(4),
                                 text: q.string(5)))
            q.reset()
        }
        return out
    }

    /// A one-line excerpt: whitespace runs collapsed, at most `limit` characters.
    public static func excerpt(_ text: String, limit: Int = 200) -> String {
        var out = ""
        var space = false
        for ch in text {
            if ch.isWhitespace { space = !out.isEmpty; continue }
            if space { out.append(" "); space = false }
            out.append(ch)
            if out.count >= limit { return out + "…" }
        }
        return out
    }
}
