@testable import Core
import Foundation
@testable import Ingest
import XCTest

/// `pipeline ingest --shard I/N` and `pipeline merge ingest`: the outputs of one run, byte for byte, for every N.
final class IngestShardTests: XCTestCase {
    var temp = ""

    override func setUpWithError() throws {
        _ = try PipelineProcess.binary()
        temp = try makeTemp("shards")
    }

    override func tearDown() { FileSystem.remove(temp) }

    func pipeline(_ args: [String], env: [String: String] = [:]) throws -> PipelineProcess.Result {
        try PipelineProcess.run(args + ["--quiet"], in: temp, environment: env)
    }

    /// Good PDFs, a text file, a byte-identical copy (a duplicate), a symbolic link to a file (one file, two
    /// paths), two bad PDFs (skipped) and an empty text file.
    func makeInputs() throws {
        for name in ["two-columns.pdf", "byte-level-tokenizers.pdf", "ligatures-and-forms.pdf"] {
            try copy(samplePapers + "/" + name, to: temp + "/in/" + name)
        }
        try copy(samplePapers + "/two-columns.pdf", to: temp + "/in/again/copy-of-two.pdf")
        try copy(samplePapers + "/field-notes.md", to: temp + "/in/notes/field-notes.md")
        try FileManager.default.createSymbolicLink(atPath: temp + "/in/link.pdf",
                                                   withDestinationPath: "ligatures-and-forms.pdf")
        let bad = try sharedData() + "/bad-pdfs"
        try copy(bad + "/not-a-pdf.pdf", to: temp + "/in/junk/not-a-pdf.pdf")
        try copy(bad + "/truncated.pdf", to: temp + "/in/junk/truncated.pdf")
        try FileSystem.atomicWrite("", to: temp + "/in/empty.txt")
    }

    func testShardsAndMergeEqualOneRunForEveryN() throws {
        try makeInputs()
        let one = try pipeline(["ingest", "in", "--workdir", "one"])
        XCTAssertEqual(one.status, 3, one.stderr)   // the junk is skipped
        let expected = try IngestOutput(workdir: temp + "/one")
        XCTAssertEqual(expected.documents.filter { $0.status == "duplicate" }.count, 1)
        XCTAssertGreaterThanOrEqual(expected.documents.filter { $0.status == "skipped" }.count, 2)
        let records = try XCTUnwrap(Workdir(path: temp + "/one").manifest("ingest")).records
        for n in [1, 2, 3] {
            let work = "n\(n)"
            var owned = 0
            for i in (0..<n).reversed() {   // the order the shards finish in does not matter
                let r = try pipeline(["ingest", "in", "--shard", "\(i)/\(n)", "--workdir", work],
                                     env: ["PIPELINE_NO_AUTO_MERGE": "1"])
                XCTAssertTrue([0, 3].contains(r.status), r.stderr)
                let m = try XCTUnwrap(Workdir(path: temp + "/" + work).manifest("ingest/shards/\(i)-of-\(n)"))
                // Each shard took the files whose sha256 is its own, and no other.
                for input in m.inputs {
                    XCTAssertEqual(Int(UInt64(input.sha256.prefix(16), radix: 16)! % UInt64(n)), i, input.path)
                }
                owned += m.inputs.count
            }
            XCTAssertEqual(owned, expected.documents.count, "every input in exactly one shard")
            let merged = try pipeline(["merge", "ingest", "in", "--shards", "\(n)", "--workdir", work])
            XCTAssertEqual(merged.status, 3, "the skips are reported by the merge too: \(merged.stderr)")
            let out = try IngestOutput(workdir: temp + "/" + work)
            XCTAssertEqual(out.hashes, expected.hashes, "N = \(n)")
            XCTAssertEqual(out.documents, expected.documents)
            let manifest = try XCTUnwrap(Workdir(path: temp + "/" + work).manifest("ingest"))
            XCTAssertEqual(manifest.records, records)
            XCTAssertEqual(manifest.inputs, Workdir(path: temp + "/one").manifest("ingest")?.inputs)
            XCTAssertEqual(manifest.outputs.map(\.path).sorted(),
                           ["corpus.txt.zst", "documents.jsonl.zst", "pages.jsonl.zst"], "the shards are not outputs")
            // Finished shards and the merge are up to date on a re-run.
            // (the last shard to finish merges: here, an up-to-date merge)
            XCTAssertEqual(try pipeline(["ingest", "in", "--shard", "0/\(n)", "--workdir", work]).stdout,
                           "ingest shard 0/\(n): up to date\ningest: up to date\n")
            XCTAssertEqual(try pipeline(["merge", "ingest", "in", "--shards", "\(n)", "--workdir", work]).stdout,
                           "ingest: up to date\n")
        }
    }

    func testTheLastShardMergesAndAChangedInputMakesTheShardsStale() throws {
        try makeInputs()
        XCTAssertEqual(try pipeline(["ingest", "in", "--workdir", "one"]).status, 3)
        for i in 0..<2 {
            let r = try pipeline(["ingest", "in", "--shard", "\(i)/2", "--workdir", "w"])
            XCTAssertTrue([0, 3].contains(r.status), r.stderr)
            XCTAssertEqual(r.stdout.contains(" documents (merged from 2 shards, "), i == 1, r.stdout)
        }
        XCTAssertEqual(try IngestOutput(workdir: temp + "/w").hashes, try IngestOutput(workdir: temp + "/one").hashes)

        // A new file belongs to one shard; the merge names what is missing until that shard runs again.
        try FileSystem.atomicWrite("A new note.\n", to: temp + "/in/new.txt")
        let stale = try pipeline(["merge", "ingest", "in", "--shards", "2", "--workdir", "w"])
        XCTAssertEqual(stale.status, 2)
        XCTAssertEqual(stale.stderr, "error: ingest: the shards are stale (they ingested in/new.txt, which no shard "
                       + "holds); run them again\n")
        let missing = try pipeline(["merge", "ingest", "in", "--shards", "3", "--workdir", "w"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.hasPrefix("error: ingest: shard 0/3 has not run (no "), missing.stderr)
        let sha = try Hashing.sha256(path: temp + "/in/new.txt")
        let owner = Int(UInt64(sha.prefix(16), radix: 16)! % 2)
        let again = try pipeline(["ingest", "in", "--shard", "\(owner)/2", "--workdir", "w"])
        XCTAssertTrue(again.stdout.contains(" documents (merged from 2 shards, "), again.stdout)
        XCTAssertEqual(try pipeline(["ingest", "in", "--workdir", "one"]).status, 3)
        XCTAssertEqual(try IngestOutput(workdir: temp + "/w").hashes, try IngestOutput(workdir: temp + "/one").hashes)
    }
}
