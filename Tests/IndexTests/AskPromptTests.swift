import Core
import Foundation
@testable import Index
import Tokenize
import XCTest

/// The prompt of `pipeline ask`: retrieval into numbered context in rank order, and the truncation rule.
final class AskPromptTests: XCTestCase {
    /// Committed text: each chunk about one thing, so the chunk answering a question is known.
    static let chunks = [
        ("emperor",
         "Emperor penguins breed in the Antarctic winter; the male keeps the egg on his feet for two months."),
        ("sourdough", "A sourdough starter is flour and water fermented by wild yeast and lactic acid bacteria."),
        ("chromo", "Quantum chromodynamics describes the strong force between quarks, carried by gluons."),
        ("market", "Stock markets fell sharply on Monday after the central bank raised interest rates."),
        ("tides", "Tides are caused mainly by the gravitational pull of the Moon on the oceans of the Earth."),
        ("lora", "LoRA freezes the pretrained weights and trains two small low-rank matrices per adapted layer."),
    ]

    func hit(_ rank: Int, _ id: String, _ text: String, page: Int? = 2) -> SearchHit {
        SearchHit(rank: rank, score: 1 / Double(60 + rank), chunkId: id, docId: "d", source: "\(id).pdf", page: page,
                  startIndex: 0, text: text)
    }

    /// The GPT-2 tokenizer of the shared data (skips when absent).
    func gpt2Tokenizer() throws -> BPETokenizer {
        guard let dir = SharedData.directory().map({ $0 + "/gpt2-tokenizer" }), FileSystem.isDirectory(dir) else {
            throw XCTSkip(SharedData.absentMessage)
        }
        return try BPETokenizer(path: dir)
    }

    /// The tiny GPT-2 fixture's positions (Tests/TrainTests/Fixtures/gpt2_tiny: 64).
    func tinyModelPositions() throws -> Int {
        let path = SharedData.packageRoot() + "/Tests/TrainTests/Fixtures/gpt2_tiny/model/config.json"
        let config = try JSONSerialization.jsonObject(with: Data(ByteReader(path: path).readAll())) as? [String: Any]
        return try XCTUnwrap(config?["n_positions"] as? Int)
    }

    func testRetrievedSourcesAreInThePromptInRankOrder() throws {
        let model = try modelFolder()
        let embedder = try sharedEmbedder()
        let wd = NSTemporaryDirectory() + "ask-\(UUID().uuidString)"
        defer { FileSystem.remove(wd) }
        try FileSystem.makeDirectory(wd + "/chunk")
        let w = try JSONLWriter<ChunkRecord>(path: wd + "/chunk/chunks.jsonl.zst")
        for (i, (id, text)) in Self.chunks.enumerated() {
            try w.write(ChunkRecord(chunkId: id, docId: "doc\(i)", source: "\(id).pdf", page: i, startIndex: 0,
                                    text: text))
        }
        try w.close()
        XCTAssertNotNil(try IndexBuilder.run(workdir: Workdir(path: wd), modelDir: model, force: false))
        let index = try SearchIndex(path: wd + "/index/index.sqlite")
        let question = "How long does the male emperor penguin keep the egg on his feet?"
        let hits = try index.search(question, k: 3, mode: .hybrid) { embedder.embed([$0]) }
        XCTAssertEqual(hits.first?.chunkId, "emperor")
        XCTAssertEqual(hits.map(\.rank), [1, 2, 3])

        let prompt = try XCTUnwrap(AskPrompt())
        let f = try prompt.fit(question: question, hits: hits, budget: 10_000) { $0.split(separator: " ").count }
        XCTAssertEqual(f.hits.map(\.chunkId), hits.map(\.chunkId), "everything fits")
        XCTAssertEqual(f.dropped, 0); XCTAssertFalse(f.truncated)
        // Each block is "[n] (source, page P)\n<text>", the blocks in rank order, then the question and the cue.
        var last = f.prompt.startIndex
        for (i, h) in hits.enumerated() {
            let place = h.page.map { "\(h.source), page \($0)" } ?? h.source
            let block = "[\(i + 1)] (\(place))\n\(h.text)"
            let r = try XCTUnwrap(f.prompt.range(of: block), "block \(i + 1) in the prompt")
            XCTAssertGreaterThanOrEqual(r.lowerBound, last, "block \(i + 1) after block \(i)")
            last = r.upperBound
        }
        XCTAssertTrue(f.prompt.hasPrefix("[1] (emperor.pdf"), f.prompt)
        XCTAssertTrue(f.prompt.hasSuffix("\n\nQuestion: \(question)\nAnswer:"), f.prompt)
        XCTAssertEqual(f.prompt, prompt.render(question: question, hits: hits))
    }

    func testContextIsDroppedFromTheLowestRankedChunkFirst() throws {
        let tok = try gpt2Tokenizer()
        let positions = try tinyModelPositions()
        let budget = positions - 16  // --max-new-tokens 16 on the tiny model
        let count: (String) -> Int = { tok.encode($0).count }
        let hits = Self.chunks.prefix(4).enumerated().map { hit($0.offset + 1, $0.element.0, $0.element.1) }
        let question = "What breeds in winter?"
        let prompt = try XCTUnwrap(AskPrompt())
        XCTAssertGreaterThan(count(prompt.render(question: question, hits: hits)), budget, "the test needs a cut")
        let f = try prompt.fit(question: question, hits: hits, budget: budget, count: count)
        XCTAssertEqual(f.tokens, count(f.prompt))
        XCTAssertLessThanOrEqual(f.tokens, budget)
        XCTAssertFalse(f.hits.isEmpty)
        // The kept chunks are the best-ranked ones, whole, and one more would not fit.
        XCTAssertEqual(f.hits.map(\.chunkId), hits.prefix(f.hits.count).map(\.chunkId))
        XCTAssertFalse(f.truncated)
        XCTAssertEqual(f.hits.map(\.text), hits.prefix(f.hits.count).map(\.text))
        XCTAssertEqual(f.dropped, hits.count - f.hits.count)
        let oneMore = Array(hits.prefix(f.hits.count + 1))
        XCTAssertGreaterThan(count(prompt.render(question: question, hits: oneMore)), budget)
        XCTAssertTrue(f.prompt.hasSuffix("Question: \(question)\nAnswer:"))
    }

    func testTheBestChunkIsCutWhenItAloneDoesNotFit() throws {
        let tok = try gpt2Tokenizer()
        let budget = try tinyModelPositions() - 16
        let count: (String) -> Int = { tok.encode($0).count }
        let long = Array(repeating: Self.chunks[0].1, count: 4).joined(separator: " ")
        let hits = [hit(1, "long", long), hit(2, "short", "Penguins swim.")]
        let question = "How long does the male keep the egg?"
        let prompt = try XCTUnwrap(AskPrompt())
        let f = try prompt.fit(question: question, hits: hits, budget: budget, count: count)
        XCTAssertTrue(f.truncated)
        XCTAssertEqual(f.hits.map(\.chunkId), ["long"], "the lower-ranked chunk goes; the best is cut")
        XCTAssertEqual(f.dropped, 1)
        let cut = try XCTUnwrap(f.hits.first?.text)
        XCTAssertTrue(long.hasPrefix(cut) && cut.count < long.count && !cut.isEmpty)
        XCTAssertLessThanOrEqual(f.tokens, budget)
        XCTAssertEqual(f.tokens, count(f.prompt))
        XCTAssertTrue(f.prompt.hasSuffix("Question: \(question)\nAnswer:"), "the question is whole")
        // The cut is the longest fitting prefix: one more character does not fit.
        var more = hits[0]
        more.text = String(long.prefix(cut.count + 1))
        XCTAssertGreaterThan(count(prompt.render(question: question, hits: [more])), budget)
    }

    func testAQuestionThatDoesNotFitIsAnError() throws {
        let tok = try gpt2Tokenizer()
        let budget = try tinyModelPositions() - 16
        let question = Array(repeating: "word", count: 80).joined(separator: " ")
        let prompt = try XCTUnwrap(AskPrompt())
        XCTAssertThrowsError(try prompt.fit(question: question, hits: [hit(1, "a", "text")], budget: budget) {
            tok.encode($0).count
        }) { error in XCTAssertTrue("\(error)".contains("without context"), "\(error)") }
    }

    func testTemplates() throws {
        XCTAssertNil(AskPrompt(template: "no placeholders"))
        XCTAssertNotNil(AskPrompt.problem(template: "{question} {question}"))
        XCTAssertNotNil(AskPrompt.problem(template: "{context}{context}{question}"))
        let p = try XCTUnwrap(AskPrompt(template: "Q: {question}\nContext:\n{context}\nA:"))
        let hits = [hit(1, "a", "alpha {question}", page: nil), hit(2, "b", "beta")]
        XCTAssertEqual(p.render(question: "why {context}?", hits: hits),
                       "Q: why {context}?\nContext:\n[1] (a.pdf)\nalpha {question}\n\n[2] (b.pdf, page 2)\nbeta\nA:")
        XCTAssertEqual(try XCTUnwrap(AskPrompt()).render(question: "q", hits: []), "\n\nQuestion: q\nAnswer:")
    }
}
