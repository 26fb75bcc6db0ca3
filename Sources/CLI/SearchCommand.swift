import ArgumentParser
import Core
import Foundation
import Index

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search the chunk index: dense (cosine), BM25 or hybrid (reciprocal rank fusion).",
        discussion: """
        Reads <workdir>/index/index.sqlite (made by `pipeline index`) and prints the top k chunks: rank, score, \
        source, page and a one-line excerpt. --json prints one JSON object {query, mode, k, results: [{rank, \
        score, chunk_id, doc_id, source, page, start_index, text}]} instead.

        Modes: dense — exact cosine top-k over every vector (the query is embedded by the index's own model: the \
        folder the index stage recorded, or --model; its sha256 must match the index); bm25 — FTS5 bm25() over the chunk text, the \
        query reduced to its words joined by OR, so any text is a valid query (score = −bm25); hybrid (default) \
        — reciprocal rank fusion, score = Σ 1/(60 + rank), of the dense and BM25 top max(k, 20).
        """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The query text.")
    var query: String = ""

    @Option(name: .long, help: ArgumentHelp("Benchmark only: dense top-k latency over N random 384-d vectors vs memcpy.",
                                             valueName: "n", visibility: .hidden))
    var benchDense: Int?

    @Option(name: .short, help: "Number of results (default 4).")
    var k = 4

    @Option(name: .long, help: "hybrid, dense or bm25 (default hybrid).")
    var mode = "hybrid"

    @Flag(name: .long, help: "Print the results as one JSON object.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("The model folder the index was built with (default: the folder the index stage recorded in its manifest, checked by sha256).", valueName: "dir"))
    var model: String?

    func validate() throws {
        if benchDense == nil, query.isEmpty { throw ValidationError("give a query text") }
        guard k > 0 else { throw ValidationError("-k must be at least 1") }
        guard SearchMode(rawValue: mode) != nil else { throw ValidationError("--mode must be hybrid, dense or bm25, not \(mode)") }
    }

    struct Output: Encodable {
        var query: String
        var mode: String
        var k: Int
        var results: [SearchHit]
    }

    func run() throws {
        global.apply()
        if let n = benchDense {
            denseBenchmark(rows: n)
            return
        }
        let mode = SearchMode(rawValue: self.mode)!
        let index = try SearchIndex(path: global.work.stageDir("index") + "/" + IndexBuilder.databaseName)
        let embedder = QueryEmbedder(index: index, work: global.work, model: model)
        let hits = try index.search(query, k: k, mode: mode, embed: embedder.embed)
        if json {
            print(String(decoding: try JSON.encode(Output(query: query, mode: mode.rawValue, k: k, results: hits)), as: UTF8.self))
            return
        }
        if hits.isEmpty { print("no results"); return }
        for h in hits {
            let page = h.page.map { " p.\($0)" } ?? ""
            print(String(format: "%d. %.4f  ", h.rank, h.score) + "\(h.source)\(page)  [\(h.chunkId)]")
            print("   " + SearchIndex.excerpt(h.text))
        }
    }
}

extension SearchCommand {
    /// `--bench-dense N`: median latency of an exact dense top-k over N unit vectors (in memory), against the time
    /// memcpy needs to read the same bytes (best of several copies of a same-size buffer).
    func denseBenchmark(rows: Int) {
        let dim = 384, count = rows * dim
        let m = UnsafeMutablePointer<Float>.allocate(capacity: count); defer { m.deallocate() }
        let dst = UnsafeMutablePointer<Float>.allocate(capacity: count); defer { dst.deallocate() }
        var state: UInt64 = 0x9E3779B97F4A7C15
        for i in 0..<count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            m[i] = Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
        }
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: rows); defer { scores.deallocate() }
        func seconds(_ body: () -> Void) -> Double {
            let t = DispatchTime.now().uptimeNanoseconds
            body()
            return Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
        }
        var copies: [Double] = []
        for _ in 0..<15 { copies.append(seconds { dst.update(from: m, count: count) }) }
        var searches: [Double] = []
        for q in 0..<31 {
            let query = Array(UnsafeBufferPointer(start: m + (q * 7919 % rows) * dim, count: dim))
            searches.append(seconds { _ = SearchIndex.denseTopK(matrix: m, rows: rows, dim: dim, query: query, k: k, scratch: scores) })
        }
        copies.sort(); searches.sort()
        let bytes = Double(count * 4)
        // memcpy reads and writes every byte; its read bandwidth is bytes / time (the write is overlapped).
        let memcpyBW = bytes / copies[0]
        let searchBW = bytes / searches[searches.count / 2]
        print(String(format: "{\"rows\": %d, \"bytes\": %.0f, \"search_ms_median\": %.3f, \"memcpy_ms_best\": %.3f, "
                     + "\"search_GBps\": %.2f, \"memcpy_GBps\": %.2f, \"fraction_of_memcpy\": %.3f}",
                     rows, bytes, searches[searches.count / 2] * 1e3, copies[0] * 1e3, searchBW / 1e9, memcpyBW / 1e9,
                     searchBW / memcpyBW))
    }
}
