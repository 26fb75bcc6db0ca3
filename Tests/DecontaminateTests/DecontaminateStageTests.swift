import Core
@testable import Decontaminate
import Foundation
import GSM8K
import XCTest

/// The stage on planted leaks: a test question pasted into a document, a paraphrase that keeps a 13-gram and one
/// that keeps none, a GSM8K training record equal to a test record; the filtered copies and the report-only mode.
final class DecontaminateStageTests: XCTestCase {
    var root: String!
    var work: Workdir!

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "decon-" + UUID().uuidString
        try FileSystem.makeDirectory(root)
        work = Workdir(path: root + "/w")
    }

    override func tearDown() { FileSystem.remove(root) }

    static let fixtures = DecontaminationNGramTests.fixtures
    /// The eval set: three GSM8K test rows (Fixtures/eval.jsonl); the first is Janet's ducks.
    static var evalRows: [String] {
        let text = (try? String(contentsOfFile: fixtures + "/eval.jsonl", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    static let pasted = "Some notes on farms. Janet’s ducks lay 16 eggs per day. She eats three for breakfast every "
        + "morning and bakes muffins for her friends every day with four. She sells the remainder at the farmers' "
        + "market daily for $2 per fresh duck egg. How much in dollars does she make every day at the farmers' "
        + "market? End of the notes."
    /// Reworded, but 17 words in a row kept: shares 13-grams.
    static let closeParaphrase = "Every day Janet's ducks give sixteen eggs; she eats three for breakfast every "
        + "morning and bakes muffins for her friends every day with four, and sells what is left."
    /// Reworded throughout: no 13 words in a row kept.
    static let farParaphrase = "Each morning Janet has three of the sixteen eggs her ducks lay, uses four in muffins "
        + "for friends, and sells what is left at two dollars apiece. What does she earn daily?"

    /// Pages of four documents (the first two pages long), as ingest writes them; GSM8K test (the eval rows) and
    /// train (a copy of test row 1 between two clean rows) through the gsm8k stage.
    func makeInputs() throws {
        try FileSystem.makeDirectory(work.stageDir("ingest"))
        let pages = try JSONLWriter<PageRecord>(path: work.stageDir("ingest") + "/pages.jsonl.zst")
        let docs: [(String, String, [String])] = [
            ("0000000000000001", "clean.pdf", ["A clean page about tokenizers.", "Another clean page."]),
            ("0000000000000002", "notes.md", [Self.pasted]),
            ("0000000000000003", "close.txt", ["Page one.", Self.closeParaphrase]),
            ("0000000000000004", "far.txt", [Self.farParaphrase]),
        ]
        for (id, source, texts) in docs {
            for (k, t) in texts.enumerated() {
                try pages.write(PageRecord(docID: id, source: source, page: k, text: t))
            }
        }
        try pages.close()
        let test = root + "/test.jsonl", train = root + "/train.jsonl"
        try (Self.evalRows.joined(separator: "\n") + "\n").write(toFile: test, atomically: true, encoding: .utf8)
        let clean = #"{"question": "Tom has 5 apples and buys 7 more. How many apples does he have?", "#
            + #""answer": "5 + 7 = 12\n#### 12"}"#
        try ([clean, Self.evalRows[1], clean].joined(separator: "\n") + "\n")
            .write(toFile: train, atomically: true, encoding: .utf8)
        _ = try GSM8KStage.run(workdir: work, files: [train, test])
    }

    func overlaps() throws -> [OverlapRecord] {
        try JSONLReader.readAll(OverlapRecord.self, path: work.stageDir("decontaminate") + "/overlaps.jsonl.zst")
    }

    func text(_ path: String) throws -> String { String(decoding: try ByteReader(path: path).readAll(), as: UTF8.self) }

    func testPlantedLeaksAreCaughtAndRemoved() throws {
        try makeInputs()
        let r = try DecontaminateStage.run(workdir: work, options: .init())
        XCTAssertTrue(r.ran)
        XCTAssertEqual(r.evalItems, 3)
        XCTAssertEqual(r.documents, 4)
        XCTAssertEqual(r.records, 3)
        XCTAssertEqual(r.contaminatedDocuments, 2, "the pasted question and the close paraphrase")
        XCTAssertEqual(r.contaminatedRecords, 1, "the train record equal to a test record")
        XCTAssertEqual(r.contaminatedEvalItems, 2)
        XCTAssertEqual(r.removed, 3)

        let o = try overlaps()
        XCTAssertEqual(o.map(\.trainID), ["0000000000000002", "0000000000000003", "train-1"])
        XCTAssertEqual(o.map(\.evalID), ["test-0", "test-0", "test-1"])
        XCTAssertEqual(o.map(\.trainSource), ["notes.md", "close.txt", "train.jsonl.zst"])
        XCTAssertEqual(o[0].ngram, "janet’s ducks lay 16 eggs per day she eats three for breakfast every")
        XCTAssertEqual(o[1].ngram, "she eats three for breakfast every morning and bakes muffins for her friends")
        XCTAssertEqual(o[1].sharedNgrams, 5, "17 words in a row: five 13-grams")
        XCTAssertTrue(o.allSatisfy(\.removed))

        // The filtered corpus: the clean and the far-paraphrase documents, in ingest's layout.
        XCTAssertEqual(try text(work.stageDir("decontaminate") + "/corpus.txt.zst"),
                       "A clean page about tokenizers.\nAnother clean page.\n\n\(Self.farParaphrase)\n")
        // The filtered train split: the two clean lines, byte for byte the gsm8k stage's.
        let trainLines = try text(work.stageDir("gsm8k") + "/train.jsonl.zst").split(separator: "\n")
        XCTAssertEqual(try text(work.stageDir("decontaminate") + "/train.jsonl.zst"),
                       trainLines[0] + "\n" + trainLines[2] + "\n")
        XCTAssertFalse(FileSystem.exists(work.stageDir("decontaminate") + "/test.jsonl.zst"))
        // The training stages now read the filtered copies.
        XCTAssertEqual(work.trainingCorpus, work.stageDir("decontaminate") + "/corpus.txt.zst")
        XCTAssertEqual(try GSM8KStage.recordsFile(work.trainingRecords("train")),
                       work.stageDir("decontaminate") + "/train.jsonl.zst")
        let m = try XCTUnwrap(work.manifest("decontaminate"))
        XCTAssertEqual(m.records["overlaps"], 3)
        XCTAssertEqual(m.records["contaminated_eval_items"], 2)
        XCTAssertEqual(work.decontaminationStatement(evalData: work.stageDir("gsm8k") + "/test.jsonl.zst"),
                       "decontaminated: the training data was checked for 13-grams of these questions; 3 training "
                       + "texts sharing one with 2 of them were removed")
        XCTAssertTrue(work.decontaminationStatement(evalData: root + "/train.jsonl").hasPrefix("not decontaminated"))

        // Same inputs: up to date; deterministic on a forced re-run.
        XCTAssertFalse(try DecontaminateStage.run(workdir: work, options: .init()).ran)
        let before = try text(work.stageDir("decontaminate") + "/overlaps.jsonl.zst")
        var forced = DecontaminateStage.Options()
        forced.force = true
        XCTAssertTrue(try DecontaminateStage.run(workdir: work, options: forced).ran)
        XCTAssertEqual(try text(work.stageDir("decontaminate") + "/overlaps.jsonl.zst"), before)
    }

    func testReportOnlyListsAndKeepsEverything() throws {
        try makeInputs()
        var o = DecontaminateStage.Options()
        o.reportOnly = true
        let r = try DecontaminateStage.run(workdir: work, options: o)
        XCTAssertEqual(r.overlaps, 3)
        XCTAssertEqual(r.removed, 0)
        XCTAssertEqual(try overlaps().map(\.removed), [false, false, false])
        XCTAssertEqual(FileSystem.listFiles(work.stageDir("decontaminate")).sorted(),
                       ["manifest.json", "overlaps.jsonl.zst"])
        XCTAssertEqual(work.trainingCorpus, work.stageDir("ingest") + "/corpus.txt.zst")
        XCTAssertEqual(work.trainingRecords("train"), work.stageDir("gsm8k") + "/train")
        XCTAssertTrue(work.decontaminationStatement(evalData: work.stageDir("gsm8k") + "/test.jsonl.zst")
            .hasPrefix("not decontaminated (report only): 3 training texts"))
    }

    func testEvalFileAndFieldAndItsErrors() throws {
        try makeInputs()
        let eval = root + "/eval.jsonl"
        try #"{"id": "q1", "prompt": "bakes muffins for her friends every day with four"}"#
            .appending("\n{\"prompt\": \"nothing here matches anything at all in the training text\"}\n")
            .write(toFile: eval, atomically: true, encoding: .utf8)
        var o = DecontaminateStage.Options()
        o.evalFile = eval; o.field = "prompt"
        let r = try DecontaminateStage.run(workdir: work, options: o)
        XCTAssertEqual(r.evalItems, 2)
        // A 9-word item is looked for whole: in the pasted question and the close paraphrase.
        XCTAssertEqual(try overlaps().map(\.trainID), ["0000000000000002", "0000000000000003"])
        XCTAssertEqual(try overlaps().map(\.evalID), ["q1", "q1"])
        XCTAssertEqual(r.contaminatedRecords, 0, "every GSM8K split but test is training text; test is not")

        try "{\"prompt\": \"fine\"}\n{\"text\": 3}\n".write(toFile: eval, atomically: true, encoding: .utf8)
        o.force = true
        XCTAssertThrowsError(try DecontaminateStage.run(workdir: work, options: o)) { e in
            XCTAssertEqual((e as? DecontaminateError)?.message, "\(eval):2: no field 'prompt'")
        }
        try "{\"prompt\": \"fine\"}\n[1]\n".write(toFile: eval, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try DecontaminateStage.run(workdir: work, options: o)) { e in
            XCTAssertEqual((e as? DecontaminateError)?.message, "\(eval):2: not a JSON object")
        }
    }

    /// A GSM8K test question pasted into a PDF page (Fixtures/leak.pdf), through the real ingest: caught, and the
    /// document left out of the corpus.
    func testQuestionPastedIntoAPDFPageIsCaught() throws {
        guard let binary = SharedData.pipelineBinary() else { throw XCTSkip(SharedData.binaryAbsentMessage) }
        func pipeline(_ args: [String]) throws -> (Int32, String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = args + ["--workdir", work.path]
            var env = ProcessInfo.processInfo.environment
            env["PIPELINE_RUN_PARENT"] = nil
            p.environment = env
            let out = root + "/out.txt"
            FileManager.default.createFile(atPath: out, contents: nil)
            p.standardOutput = FileHandle(forWritingAtPath: out)
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            return (p.terminationStatus, try String(contentsOfFile: out, encoding: .utf8))
        }
        let clean = root + "/clean.md"
        try "# Clean\n\nA page with nothing from any exam on it.\n"
            .write(toFile: clean, atomically: true, encoding: .utf8)
        XCTAssertEqual(try pipeline(["ingest", Self.fixtures + "/leak.pdf", clean]).0, 0)
        XCTAssertEqual(try pipeline(["gsm8k", Self.fixtures + "/eval.jsonl", "--split", "test"]).0, 0)
        let (status, out) = try pipeline(["decontaminate"])
        XCTAssertEqual(status, 0, out)
        XCTAssertTrue(out.contains("1 documents and 0 records share a 13-gram with 1 eval items"), out)
        let o = try overlaps()
        XCTAssertEqual(o.count, 1)
        XCTAssertEqual(o.first?.trainSource, Self.fixtures + "/leak.pdf")
        XCTAssertEqual(o.first?.evalID, "test-0")
        XCTAssertEqual(try text(work.stageDir("decontaminate") + "/corpus.txt.zst"),
                       "# Clean\n\nA page with nothing from any exam on it.\n")
    }
}
