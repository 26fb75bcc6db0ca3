import Core
import Foundation
import XCTest

/// The artifact records of Core/Records: the bytes they write and what lenient reading accepts.
final class RecordTests: XCTestCase {
    func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(json.utf8))
    }

    /// GRPOMetrics writes what the `[String: Double]` it replaced wrote: sorted keys, NaN values left out.
    func testGRPOMetricsWritesTheDictionaryItReplaced() throws {
        var m = GRPOMetrics(step: 3)
        m.epoch = 0.5; m.loss = 1e-7; m.gradNorm = .nan; m.learningRate = 0; m.kl = 2.5
        m.completionsMeanLength = 48; m.rewardMeans = ["check_answer": -1.5]; m.rewardStds = ["check_answer": .nan]
        m.reward = 3; m.stepTime = 0.25
        let dict: [String: Double] = ["step": 3, "epoch": 0.5, "loss": 1e-7, "learning_rate": 0, "kl": 2.5,
                                      "completions/mean_length": 48, "rewards/check_answer/mean": -1.5,
                                      "reward": 3, "step_time": 0.25]
        XCTAssertEqual(try JSON.encode(m), try JSON.encode(dict))
        let back = try JSONDecoder().decode(GRPOMetrics.self, from: Data(try JSON.encode(m)))
        XCTAssertEqual(back.values, dict)
        XCTAssertEqual(back["rewards/check_answer/mean"], -1.5)
        XCTAssertNil(back["grad_norm"])
        XCTAssertEqual(back.step, 3)
    }

    /// The report's values of a Float field are what the file's text reads as (as JSONSerialization gave them).
    func testLoggedFloatsReadAsTheirText() throws {
        let m = PretrainMetrics(step: 2, train_loss: 6.7967033, val_loss: nil, lr: 0.00020000001, grad_norm: 8.207387)
        let line = try JSON.encode(m)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        for (name, value) in m.logged {
            XCTAssertEqual(value, (obj[name] as? NSNumber)?.doubleValue, name)
        }
        XCTAssertEqual(m.logged.map { $0.name }, ["train_loss", "lr", "grad_norm"])
    }

    /// An integer doc_id is read only leniently, and written back as an integer.
    func testIntegerDocIDsAreLenient() throws {
        let json = #"{"doc_id": 42, "page": 0, "source": "a.pdf", "text": "x"}"#
        XCTAssertThrowsError(try decode(PageRecord.self, json))
        let p = try decode(Lenient<PageRecord>.self, json).record
        XCTAssertEqual(p.docID, "42")
        XCTAssertTrue(p.docIDIsInteger)
        XCTAssertEqual(String(decoding: try JSON.encode(p), as: UTF8.self),
                       #"{"doc_id":42,"page":0,"source":"a.pdf","text":"x"}"#)
    }

    /// The chunk line is Python's `json.dumps(sort_keys=True, ensure_ascii=False)` layout.
    func testChunkLineLayout() {
        var line: [UInt8] = []
        ChunkRecord(chunkId: "d:d:0", docId: "d", source: "a \"b\".pdf", page: nil, startIndex: 3, text: "é\n")
            .appendJSONLine(to: &line)
        XCTAssertEqual(String(decoding: line, as: UTF8.self),
                       "{\"chunk_id\": \"d:d:0\", \"doc_id\": \"d\", \"page\": null, \"source\": \"a \\\"b\\\".pdf\", "
                       + "\"start_index\": 3, \"text\": \"é\\n\"}\n")
        line.removeAll()
        ChunkRecord.appendJSONLine(chunkId: "7:1:0", docId: "7", docIDIsInteger: true, source: "s", page: 1,
                                   startIndex: 0, text: [0x61], to: &line)
        XCTAssertEqual(String(decoding: line, as: UTF8.self),
                       "{\"chunk_id\": \"7:1:0\", \"doc_id\": 7, \"page\": 1, \"source\": \"s\", \"start_index\": 0, "
                       + "\"text\": \"a\"}\n")
    }

    /// Documents lacking fields are read leniently (the fields listed as absent), strictly they are errors.
    func testDocumentsLackingFieldsAreLenient() throws {
        let json = #"{"doc_id": "d", "source": null, "pages": 2, "duplicate_of": 5}"#
        XCTAssertThrowsError(try decode(DocumentRecord.self, json))
        let d = try decode(Lenient<DocumentRecord>.self, json).record
        XCTAssertEqual(d.absent, [.source, .sha256, .bytes, .status])
        XCTAssertNil(d.ifPresent(.source, d.source))
        XCTAssertEqual(d.ifPresent(.pages, d.pages), 2)
        XCTAssertNil(d.duplicateOf)
        let full = DocumentRecord(docID: "d", source: "s", sha256: "00", bytes: 1, pages: 0, title: nil, author: nil,
                                  created: nil, status: "ok", error: nil)
        XCTAssertEqual(try decode(DocumentRecord.self, String(decoding: try JSON.encode(full), as: UTF8.self)), full)
    }
}
