import ArgumentParser
import Core
import Foundation
import Index

extension SearchMode: ExpressibleByArgument {}

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search the chunk index: dense (cosine), BM25 or hybrid (reciprocal rank fusion).",
        discussion: """
        Reads <workdir>/index/index.sqlite (made by `pipeline index`) and prints the top k chunks: rank, score, \
        source, page and a one-line excerpt. --json prints one JSON object {query, mode, k, results: [{rank, \
        score, chunk_id, doc_id, source, page, start_index, text}]} instead.

        Modes: dense — exact cosine top-k over every vector (the query is embedded by the index's own model: the \
        folder the index stage recorded, or --model; its sha256 must match the index); bm25 — FTS5 bm25() over \
        the chunk text, the \
        query reduced to its words joined by OR, so any text is a valid query (score = −bm25); hybrid (default) \
        — reciprocal rank fusion, score = Σ 1/(60 + rank), of the dense and BM25 top max(k, 20).
        """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The query text.")
    var query: String = ""

    @Option(name: .short, help: "Number of results (default 4).")
    var k = 4

    @Option(name: .long, help: "hybrid, dense or bm25 (default hybrid).")
    var mode: SearchMode = .hybrid

    @Flag(name: .long, help: "Print the results as one JSON object.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("The model folder the index was built with (default: the folder the "
                                                + "index stage recorded in its manifest, checked by sha256).",
                                             valueName: "dir"))
    var model: String?

    func validate() throws {
        if query.isEmpty { throw ValidationError("give a query text") }
        guard k > 0 else { throw ValidationError("-k must be at least 1") }
    }

    struct Output: Encodable {
        var query: String
        var mode: String
        var k: Int
        var results: [SearchHit]
    }

    func run() throws {
        global.apply()
        let index = try SearchIndex(path: global.work.stageDir("index") + "/" + IndexBuilder.databaseName)
        let embedder = QueryEmbedder(index: index, work: global.work, model: model)
        let hits = try index.search(query, k: k, mode: mode, embed: embedder.embed)
        if json {
            let output = Output(query: query, mode: mode.rawValue, k: k, results: hits)
            print(String(decoding: try JSON.encode(output), as: UTF8.self))
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
