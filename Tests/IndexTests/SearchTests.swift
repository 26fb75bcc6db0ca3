import Core
import Foundation
@testable import Index
import XCTest

/// Makes an index database by hand (no model): given texts, with random unit vectors of dimension `dim`.
func makeIndexByHand(_ texts: [String], dim: Int = 8) throws -> String {
    let dir = NSTemporaryDirectory() + "search-\(UUID().uuidString)"
    try FileSystem.makeDirectory(dir)
    let path = dir + "/index.sqlite"
    let db = try SQLiteDB(path: path)
    try db.exec(IndexBuilder.schema)
    try db.exec("INSERT INTO meta VALUES ('dimension', '\(dim)'), ('model', 'none'), ('model_sha256', 'x')")
    let c = try db.prepare("INSERT INTO chunks VALUES (?, ?, 'd', 's.pdf', 1, 0, ?, ?)")
    let f = try db.prepare("INSERT INTO chunks_fts(rowid, text) VALUES (?, ?)")
    let e = try db.prepare("INSERT OR IGNORE INTO embeddings VALUES (?, ?)")
    var rng = SystemRandomNumberGenerator()
    for (i, t) in texts.enumerated() {
        let h = Hashing.sha256(t)
        c.bind(1, i + 1); c.bind(2, "c\(i)"); c.bind(3, t); c.bind(4, h); try c.run()
        f.bind(1, i + 1); f.bind(2, t); try f.run()
        var v = (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) }
        let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        v = v.map { $0 / n }
        v.withUnsafeBufferPointer { e.bind(1, h); e.bind(2, floats: $0) }
        try e.run()
    }
    db.close()
    return path
}

final class SearchTests: XCTestCase {
    let texts = [
        "The apple orchard grows red apples.", "Café au lait and croissants.", "NEAR the river bank",
        "Operators AND OR NOT are words here", "C++ templates and Swift generics", "東京 is the capital of Japan",
        "column:value pairs and star* wildcards", "\"quoted\" text with (parentheses)", "naïve résumé",
    ]

    func testSanitisedQueriesAreAlwaysValid() throws {
        let index = try SearchIndex(path: try makeIndexByHand(texts))
        let hostile = [
            "", " ", "\"", "\"\"", "'", "*", "**", ":", "text:apple", "chunks_fts:apple", "^apple", "apple*", "-apple",
            "+apple", "apple AND", "AND", "OR", "NOT", "NOT apple", "apple NOT", "NEAR", "NEAR(apple river)",
            "NEAR(apple river, 3)", "(apple", "apple)", "((()))", "{text}: apple", "a\"b", "\"apple", "apple\"",
            "; DROP TABLE chunks; --", "%", "_", "\\", "\u{0}", "\u{1}apple", "🍎 apple", "東京", "résumé", "resume",
            "c++", "\u{301}", "a\u{301}", "\u{FEFF}", String(repeating: "apple OR ", count: 500),
            String(repeating: "(", count: 1000), "x" + String(repeating: "\"", count: 99),
        ]
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("ab \"'*:^()-+{}[],.;NEAROTDnearotd\\/\u{301}é東🍎\t\n")
        var queries = hostile
        for _ in 0..<300 {
            queries.append(String((0..<Int.random(in: 0...20, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }))
        }
        for q in queries {
            XCTAssertNoThrow(try index.bm25(q, k: 4), "query \(q.debugDescription)")
        }
        func top(_ q: String) throws -> String? {
            try index.bm25(q, k: 1).first.map { "c\($0.id - 1)" }
        }
        XCTAssertEqual(try top("NOT apple"), "c0")
        XCTAssertEqual(try top("apple*"), "c0")
        XCTAssertEqual(try top("NEAR(river"), "c2")
        XCTAssertEqual(try top("cafe"), "c1") // diacritics folded
        XCTAssertEqual(try top("resume"), "c8")
        XCTAssertEqual(try top("東京"), "c5")
        XCTAssertEqual(try top("column:value"), "c6")
        XCTAssertEqual(try top("\"quoted"), "c7")
        XCTAssertEqual(try index.bm25("", k: 4).count, 0)
        XCTAssertEqual(try index.bm25("*** ::: ((", k: 4).count, 0)
        XCTAssertNil(SearchIndex.ftsQuery("  ()*: "))
        XCTAssertEqual(SearchIndex.ftsQuery("apple AND \"pie\" apple"), "\"apple\" OR \"AND\" OR \"pie\"")
    }

    func testDenseTopKIsExact() throws {
        let rows = 1000, dim = 16
        var rng = SystemRandomNumberGenerator()
        var m = (0..<(rows * dim)).map { _ in Float.random(in: -1...1, using: &rng) }
        // Rows L2-normalised as in the index (so a row is its own best match), and a duplicate row gives tied
        // scores: the lower row must come first.
        for r in 0..<rows {
            let norm = (0..<dim).reduce(Float(0)) { $0 + m[r * dim + $1] * m[r * dim + $1] }.squareRoot()
            for d in 0..<dim { m[r * dim + d] /= norm }
        }
        for d in 0..<dim { m[500 * dim + d] = m[7 * dim + d] }
        let q = (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) }
        for k in [1, 4, 10, 999, 1000, 5000] {
            let got = SearchIndex.denseTopK(matrix: m, rows: rows, dim: dim, query: q, k: k)
            let scores = (0..<rows).map { r in (0..<dim).reduce(Float(0)) { $0 + m[r * dim + $1] * q[$1] } }
            let want = (0..<rows).sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }.prefix(k)
            XCTAssertEqual(got.count, min(k, rows))
            for (g, w) in zip(got, want) {
                XCTAssertEqual(g.score, scores[w], accuracy: 1e-5)
            }
            // Exactly sorted, and ties in row order.
            for i in 1..<got.count {
                XCTAssertTrue(got[i - 1].score > got[i].score || (got[i - 1].score == got[i].score && got[i - 1].row < got[i].row))
            }
        }
        let withTie = SearchIndex.denseTopK(matrix: m, rows: rows, dim: dim, query: Array(m[(7 * dim)..<(8 * dim)]), k: 2)
        XCTAssertEqual(withTie.map(\.row), [7, 500])
    }

    func testReciprocalRankFusion() {
        let dense: [(id: Int, score: Double)] = [(1, 0.9), (2, 0.8), (3, 0.7)]
        let bm25: [(id: Int, score: Double)] = [(3, 9), (4, 8), (1, 7)]
        let fused = SearchIndex.fuse([dense, bm25], k: 10)
        XCTAssertEqual(fused.map(\.id), [1, 3, 2, 4])
        XCTAssertEqual(fused[0].score, 1.0 / 61 + 1.0 / 63, accuracy: 1e-12)
        XCTAssertEqual(fused[1].score, 1.0 / 63 + 1.0 / 61, accuracy: 1e-12)
        XCTAssertEqual(fused[2].score, 1.0 / 62, accuracy: 1e-12)
        XCTAssertEqual(SearchIndex.fuse([dense, bm25], k: 2).count, 2)
        XCTAssertEqual(SearchIndex.fuse([[], []], k: 4).count, 0)
    }

    func testExcerpt() {
        XCTAssertEqual(SearchIndex.excerpt("  a\n\n b\tc  "), "a b c")
        XCTAssertEqual(SearchIndex.excerpt(String(repeating: "x", count: 300), limit: 10), "xxxxxxxxxx…")
    }

    func testMissingIndexIsAClearError() {
        XCTAssertThrowsError(try SearchIndex(path: "/nonexistent/index.sqlite")) { e in
            XCTAssertTrue("\(e)".contains("pipeline index"), "\(e)")
        }
    }
}
