import Core
import Foundation
@testable import GSM8K
import XCTest

final class GSM8KTests: XCTestCase {
    struct Expected: Decodable {
        struct Text: Decodable { let text: String; let answer: String?; let reasoning: String }
        struct Value: Decodable { let answer: String; let value: AnswerValue? }
        let records: [GSM8KRecord]
        let counts: [String: Int]
        let texts: [Text]
        let answer_values: [Value]
        struct Synthetic: Decodable { let row: [String: String]; let line: String }
        let lines: [String]
        let synthetic: [Synthetic]
    }

    static let expected: Expected = {
        let path = SharedData.packageRoot(filePath: #filePath) + "/Tests/GSM8KTests/Fixtures/gsm8k_expected.json"
        return try! JSONDecoder().decode(Expected.self, from: FileManager.default.contents(atPath: path)!)
    }()

    var temp: String = ""

    override func setUpWithError() throws {
        temp = NSTemporaryDirectory() + "gsm8k-tests-\(getpid())-\(UUID().uuidString)"
        try FileSystem.makeDirectory(temp)
        Progress.enabled = false
    }

    override func tearDown() { FileSystem.remove(temp) }

    func write(_ name: String, _ text: String) throws -> String {
        let path = temp + "/" + name
        try FileSystem.atomicWrite(text, to: path)
        return path
    }

    func records(_ path: String) throws -> [GSM8KRecord] { try JSONLReader.readAll(GSM8KRecord.self, path: path) }
    func rejects(_ path: String) throws -> [GSM8KReject] { try JSONLReader.readAll(GSM8KReject.self, path: path) }

    // MARK: Real data

    func testRealSplitsGiveExactCountsAndReferenceRecords() throws {
        guard let shared = SharedData.directory() else { throw XCTSkip(SharedData.absentMessage) }
        let work = Workdir(path: temp + "/work")
        let files = [shared + "/gsm8k/train.jsonl", shared + "/gsm8k/test.jsonl"]
        let outcome = try GSM8KStage.run(workdir: work, files: files)
        XCTAssertTrue(outcome.ran)
        XCTAssertEqual(outcome.splits.map(\.name), ["train", "test"])
        XCTAssertEqual(outcome.splits.map(\.records), [7473, 1319])
        XCTAssertEqual(outcome.skipped, 0)
        XCTAssertEqual(Self.expected.counts, ["train": 7473, "test": 1319])

        var byID: [String: GSM8KRecord] = [:]
        for split in ["train", "test"] {
            let recs = try records(work.stageDir("gsm8k") + "/\(split).jsonl.zst")
            XCTAssertEqual(recs.count, Self.expected.counts[split])
            XCTAssertEqual(recs.map(\.id), (0..<recs.count).map { "\(split)-\($0)" })
            for r in recs { byID[r.id] = r }
        }
        XCTAssertEqual(try rejects(work.stageDir("gsm8k") + "/rejects.jsonl.zst").count, 0)
        XCTAssertEqual(work.manifest("gsm8k")?.records, ["train": 7473, "test": 1319, "rejects": 0])
        XCTAssertGreaterThanOrEqual(Self.expected.records.count, 10)
        XCTAssertEqual(Self.expected.lines.count, Self.expected.records.count)
        for (e, line) in zip(Self.expected.records, Self.expected.lines) {
            guard let got = byID[e.id] else { XCTFail("missing \(e.id)"); continue }
            XCTAssertEqual(String(decoding: got.jsonLine(), as: UTF8.self), line, "bytes of \(e.id) as Python writes them")
            XCTAssertEqual(got.question, e.question, e.id)
            XCTAssertEqual(got.answer, e.answer, e.id)
            XCTAssertEqual(got.answerValue, e.answerValue, e.id)
            XCTAssertEqual(got.reasoning, e.reasoning, e.id)
            XCTAssertEqual(got.rawAnswer, e.rawAnswer, e.id)
            XCTAssertEqual(got.prompt, e.prompt, e.id)
            XCTAssertEqual(got.promptText, e.promptText, e.id)
            XCTAssertEqual(got.targetText, e.targetText, e.id)
            XCTAssertEqual(got, e)
        }
        // Up to date on a second run; re-run with --force gives the same bytes.
        let before = work.manifest("gsm8k")!.outputs
        XCTAssertFalse(try GSM8KStage.run(workdir: work, files: files).ran)
        XCTAssertTrue(try GSM8KStage.run(workdir: work, files: files, force: true).ran)
        XCTAssertEqual(work.manifest("gsm8k")!.outputs, before)
    }

    func testDeterministicAcrossWorkdirsAndCompressedInput() throws {
        guard let shared = SharedData.directory() else { throw XCTSkip(SharedData.absentMessage) }
        let plain = shared + "/gsm8k/test.jsonl"
        let zst = temp + "/test.jsonl.zst"
        try FileSystem.atomicWrite(Zstd.compress(try ByteReader(path: plain).readAll()), to: zst)
        let w1 = Workdir(path: temp + "/w1"), w2 = Workdir(path: temp + "/w2")
        _ = try GSM8KStage.run(workdir: w1, files: [plain])
        _ = try GSM8KStage.run(workdir: w2, files: [zst])
        XCTAssertEqual(try Hashing.sha256(path: w1.stageDir("gsm8k") + "/test.jsonl.zst"),
                       try Hashing.sha256(path: w2.stageDir("gsm8k") + "/test.jsonl.zst"))
    }

    // MARK: Rejects

    func testRejectsCarryLineNumbers() throws {
        let text = """
        {"question": "q0", "answer": "a\\n#### 1"}

        {"question": "q1", "answer": "no hashes"}
        {"question": "q2", "answer": "x #### 2"
        {"question": "q3"}
        {"question": 4, "answer": "#### 4"}
        [1, 2]
        {"question": "q5", "answer": "b <<2*3=6>>6\\n#### 6", "extra": true}

        """
        let file = try write("mini.jsonl", text)
        let work = Workdir(path: temp + "/work")
        let outcome = try GSM8KStage.run(workdir: work, files: [file], split: "mini")
        XCTAssertEqual(outcome.splits.first?.records, 2)
        XCTAssertEqual(outcome.skipped, 5)
        XCTAssertEqual(outcome.splits.first?.skippedLines, [3, 4, 5, 6, 7])
        let recs = try records(work.stageDir("gsm8k") + "/mini.jsonl.zst")
        XCTAssertEqual(recs.map(\.id), ["mini-0", "mini-6"])
        XCTAssertEqual(recs.last?.reasoning, "b 6")
        XCTAssertEqual(recs.last?.answerValue, .integer(6))
        let rej = try rejects(work.stageDir("gsm8k") + "/rejects.jsonl.zst")
        XCTAssertEqual(rej.map(\.line), [3, 4, 5, 6, 7])
        XCTAssertEqual(rej.map(\.row), [1, 2, 3, 4, 5])
        XCTAssertEqual(rej.map(\.reason), ["no '####' in the answer", "invalid JSON", "missing field 'answer'",
                                           "wrong type for 'question'", "not a JSON object"])
        XCTAssertEqual(Set(rej.map(\.file)), [file])
        XCTAssertEqual(work.manifest("gsm8k")?.records["rejects"], 5)
    }

    func testJSONArrayFile() throws {
        let text = """
        [
          {"question": "q0",
           "answer": "w [x] {y} \\"z\\" <<1+1=2>>2\\n#### 2"},
          {"question": "q1", "answer": "none"},
          {"question": "q2", "answer": tru},
          {"question": "q3", "answer": "#### 3,000"}
        ]
        """
        let file = try write("arr.json", text)
        let work = Workdir(path: temp + "/work")
        let outcome = try GSM8KStage.run(workdir: work, files: [file])
        XCTAssertEqual(outcome.splits.map(\.name), ["arr"])
        let recs = try records(work.stageDir("gsm8k") + "/arr.jsonl.zst")
        XCTAssertEqual(recs.map(\.id), ["arr-0", "arr-3"])
        XCTAssertEqual(recs[0].reasoning, "w [x] {y} \"z\" 2")
        XCTAssertEqual(recs[1].answer, "3,000")
        XCTAssertEqual(recs[1].answerValue, .integer(3000))
        let rej = try rejects(work.stageDir("gsm8k") + "/rejects.jsonl.zst")
        XCTAssertEqual(rej.map(\.line), [4, 5])
        XCTAssertEqual(rej.map(\.reason), ["no '####' in the answer", "invalid JSON"])
    }

    func testEmptyAndBrokenInputsAreErrors() throws {
        let work = Workdir(path: temp + "/work")
        for (name, text) in [("e1.jsonl", ""), ("e2.jsonl", "\n  \n"), ("e3.json", " [ ] ")] {
            let file = try write(name, text)
            XCTAssertThrowsError(try GSM8KStage.run(workdir: work, files: [file])) { error in
                XCTAssertEqual((error as? PipelineError)?.message, "\(file): no GSM8K rows (the input is empty)")
            }
        }
        let open = try write("open.json", "[{\"question\": \"q\", \"answer\": \"#### 1\"},\n")
        XCTAssertThrowsError(try GSM8KStage.run(workdir: work, files: [open])) { error in
            XCTAssertEqual((error as? PipelineError)?.message,
                           "\(open):2: the JSON array is not closed (file ends inside it)")
        }
        XCTAssertThrowsError(try GSM8KStage.run(workdir: work, files: [temp + "/missing.jsonl"]))
        XCTAssertNil(work.manifest("gsm8k"), "a failed run commits nothing")
    }

    func testSplitNames() throws {
        XCTAssertEqual(GSM8KStage.splitName(for: "/d/train.jsonl.zst"), "train")
        XCTAssertEqual(GSM8KStage.splitName(for: "test.json"), "test")
        XCTAssertEqual(GSM8KStage.splitName(for: "x/dev.jsonl"), "dev")
        XCTAssertThrowsError(try GSM8KStage.splitNames(files: ["a.jsonl", "b.jsonl"], split: "s"))
        XCTAssertThrowsError(try GSM8KStage.splitNames(files: ["a/t.jsonl", "b/t.jsonl.zst"], split: nil))
        XCTAssertThrowsError(try GSM8KStage.splitNames(files: ["rejects.jsonl"], split: nil))
        XCTAssertEqual(try GSM8KStage.splitNames(files: ["a/t.jsonl"], split: "main"), ["main"])
    }

    // MARK: Pieces against the Python reference

    func testHashAnswerAndReasoningMatchPython() {
        for t in Self.expected.texts {
            XCTAssertEqual(GSM8K.extractHashAnswer(t.text), t.answer, t.text.debugDescription)
            XCTAssertEqual(GSM8K.reasoning(t.text), t.reasoning, t.text.debugDescription)
        }
        for v in Self.expected.answer_values {
            XCTAssertEqual(GSM8K.answerValue(v.answer), v.value, v.answer.debugDescription)
        }
    }

    /// Records written byte for byte as Python's json.dumps(sort_keys=True, ensure_ascii=False) writes them:
    /// control characters, quotes, U+2028, decimals in Python's float repr.
    func testRecordBytesMatchPythonJSON() {
        for (i, s) in Self.expected.synthetic.enumerated() {
            let r = GSM8K.record(id: "syn-\(i)", question: s.row["question"]!, answer: s.row["answer"]!)!
            XCTAssertEqual(String(decoding: r.jsonLine(), as: UTF8.self), s.line)
            // And it reads back as the same record (a JSON number does not say integer or decimal: compare values).
            var back = try! JSONDecoder().decode(GSM8KRecord.self, from: Data(r.jsonLine()))
            XCTAssertEqual(back.answerValue?.doubleValue, r.answerValue?.doubleValue)
            back.answerValue = r.answerValue
            XCTAssertEqual(back, r)
        }
        XCTAssertEqual(PythonText.floatRepr(1e16), "1e+16")
        XCTAssertEqual(PythonText.floatRepr(1234567890123456.0), "1234567890123456.0")
        XCTAssertEqual(PythonText.floatRepr(0.0001), "0.0001")
        XCTAssertEqual(PythonText.floatRepr(-2.5e-7), "-2.5e-07")
        XCTAssertEqual(PythonText.floatRepr(Double.leastNonzeroMagnitude), "5e-324")
        XCTAssertEqual(PythonText.floatRepr(1.7976931348623157e308), "1.7976931348623157e+308")
    }

    func testPromptRenderingAndTarget() {
        let r = GSM8K.record(id: "t-0", question: "What is 2+2?", answer: "2+2 = <<2+2=4>>4\n#### 4")!
        XCTAssertEqual(r.promptText, "System:\n" + ChatFormat.systemPrompt() + "\n\nUser:\nWhat is 2+2?\n\nAssistant:\n")
        XCTAssertEqual(r.promptText, ChatFormat.plainTextPrompt(question: "What is 2+2?"))
        XCTAssertEqual(ChatFormat.systemPrompt(), """
            You are given a problem.
            Think about the problem and provide your working out.
            Place it between <start_working_out> and <end_working_out>.
            Then, provide your solution between <SOLUTION></SOLUTION>
            """)
        XCTAssertEqual(r.targetText, "<start_working_out>2+2 = 4<end_working_out><SOLUTION>4</SOLUTION>")
        let m = ReasoningMarkers(reasoningStart: "<think>", reasoningEnd: "</think>", solutionStart: "<a>", solutionEnd: "</a>")
        let c = GSM8K.record(id: "t-0", question: "q", answer: "w #### 4", markers: m)!
        XCTAssertEqual(c.targetText, "<think>w</think><a>4</a>")
        XCTAssertTrue(c.prompt[0].content.hasSuffix("between <think> and </think>.\nThen, provide your solution between <a></a>"))
        // answer_value is written as null when the answer is not numeric.
        let n = GSM8K.record(id: "t-1", question: "q", answer: "w #### four")!
        let line = String(decoding: try! JSON.encode(n), as: UTF8.self)
        XCTAssertTrue(line.contains("\"answer_value\":null"), line)
    }
}
