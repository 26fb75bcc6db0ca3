@testable import Core
import Foundation
@testable import Ingest
import XCTest

/// `pipeline ingest` as a user runs it: the built executable and its worker processes.
final class IngestProcessTests: XCTestCase {
    var temp = ""

    override func setUpWithError() throws {
        _ = try PipelineProcess.binary()
        temp = try makeTemp("process")
    }

    override func tearDown() { FileSystem.remove(temp) }

    func ingest(_ args: [String], env: [String: String] = [:]) throws -> PipelineProcess.Result {
        try PipelineProcess.run(["ingest", "--quiet"] + args, in: temp, environment: env)
    }

    /// The sample papers copied to `folder` (inside the temporary folder).
    func samples(_ folder: String, _ names: [String]? = nil) throws -> String {
        let dir = temp + "/" + folder
        for name in names ?? FileSystem.listFiles(samplePapers).filter({ $0.hasSuffix(".pdf") }) {
            try copy(samplePapers + "/" + name, to: dir + "/" + name)
        }
        return dir
    }

    // MARK: - Bad inputs

    func testEveryBadPDFIsSkippedWithAReasonAndTheRunGoesOn() throws {
        let bad = try sharedData() + "/bad-pdfs"
        let good = try samples("good", ["two-columns.pdf"])
        let r = try ingest([bad, good, "--workdir", "w"])
        XCTAssertEqual(r.status, 3, r.stderr)
        let out = try IngestOutput(workdir: temp + "/w")
        XCTAssertEqual(out.documents.count, 6)
        let expected: [(String, [String])] = [
            ("empty.pdf", ["empty file"]),
            ("not-a-pdf.pdf", ["not a PDF", "%PDF-", "This is a plain text file"]),
            ("truncated.pdf", ["truncated PDF", "no %%EOF", "no page could be recovered"]),
            ("corrupted-bytes.pdf", ["damaged PDF", "none of its 15 pages can be read"]),
            ("encrypted-user-password-secret.pdf", ["encrypted", "--password"]),
        ]
        for (name, fragments) in expected {
            guard let d = out.document(named: name) else { XCTFail("no record for \(name)"); continue }
            XCTAssertEqual(d.status, "skipped", name)
            XCTAssertEqual(d.pages, 0, name)
            let reason = try XCTUnwrap(d.error, name)
            XCTAssertFalse(reason.contains("\n"), "one line: \(reason)")
            for f in fragments { XCTAssertTrue(reason.contains(f), "\(name): \(reason) lacks \(f)") }
            XCTAssertTrue(r.stderr.contains("warning: \(d.source): skipped: \(reason)\n"), r.stderr)
            XCTAssertEqual(d.sha256, try Hashing.sha256(path: bad + "/" + name))
            XCTAssertEqual(d.docID, String(d.sha256.prefix(16)))
            XCTAssertFalse(out.pages.contains { $0.docID == d.docID }, name)
        }
        // The good document is complete.
        let ok = try XCTUnwrap(out.document(named: "two-columns.pdf"))
        XCTAssertEqual(ok.status, "ok")
        XCTAssertNil(ok.error)
        XCTAssertEqual(ok.pages, 2)
        XCTAssertEqual(out.pages.map(\.page), [0, 1])
        XCTAssertTrue(out.corpus.contains("Right column. This text comes after"))
        // Documents are in path order.
        XCTAssertEqual(out.documents.map(\.source), out.documents.map(\.source).sorted())
        // The manifest names the inputs found.
        let m = try Manifest.load(path: temp + "/w/ingest/manifest.json")
        XCTAssertEqual(m.inputs.count, 6)
        XCTAssertEqual(m.records["skipped"], 5)
    }

    func testEncryptedPDFIsReadWithThePassword() throws {
        let file = try sharedData() + "/bad-pdfs/encrypted-user-password-secret.pdf"
        let r = try ingest([file, "--password", "secret", "--workdir", "w"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = try IngestOutput(workdir: temp + "/w")
        XCTAssertEqual(out.documents.first?.status, "ok")
        XCTAssertEqual(out.documents.first?.pages, 7)
        XCTAssertEqual(out.documents.first?.title, "acmconf.dvi")
        XCTAssertEqual(out.pages.count, 7)
        XCTAssertFalse(out.pages.allSatisfy { $0.text.isEmpty })
        // The password is not written in clear.
        let manifest = try Manifest.load(path: temp + "/w/ingest/manifest.json")
        XCTAssertTrue(manifest.parameters["password"]!.hasPrefix("sha256:"))
        XCTAssertFalse(manifest.parameters.values.contains { $0.contains("secret") })

        let wrong = try ingest([file, "--password", "not-it", "--workdir", "w2"])
        XCTAssertEqual(wrong.status, 3)
        let d = try IngestOutput(workdir: temp + "/w2").documents[0]
        XCTAssertEqual(d.status, "skipped")
        XCTAssertTrue(d.error!.contains("not the right one"), d.error!)
    }

    func testTruncatedPDFWithRecoverablePagesIsKeptAndSaysSo() throws {
        let full = FileManager.default.contents(atPath: samplePapers + "/byte-level-tokenizers.pdf")!
        try FileSystem.makeDirectory(temp + "/t")
        _ = FileManager.default.createFile(atPath: temp + "/t/cut.pdf", contents: full.prefix(full.count - 300))
        let r = try ingest(["t", "--workdir", "w"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = try IngestOutput(workdir: temp + "/w")
        let d = out.documents[0]
        XCTAssertEqual(d.status, "ok")
        XCTAssertEqual(d.pages, 4)
        XCTAssertTrue(d.error!.contains("truncated PDF"), d.error!)
        XCTAssertTrue(d.error!.contains("4 of 4 pages recovered"), d.error!)
        XCTAssertTrue(r.stderr.contains("warning: t/cut.pdf: truncated PDF"), r.stderr)
        XCTAssertTrue(out.pages[3].text.contains("dled one merge at a time."))
    }

    // MARK: - Worker processes

    func testCrashingAndStallingWorkersSkipTheirDocumentOnly() throws {
        let dir = try samples("papers")
        let fault = "crash:two-columns.pdf,stall:ligatures-and-forms.pdf"
        let r = try ingest(["papers", "--jobs", "2", "--doc-timeout", "2", "--workdir", "w"],
                           env: [IngestWorker.faultVariable: fault])
        XCTAssertEqual(r.status, 3, r.stderr)
        let out = try IngestOutput(workdir: temp + "/w")
        XCTAssertEqual(out.documents.map { ($0.source as NSString).lastPathComponent },
                       ["byte-level-tokenizers.pdf", "ligatures-and-forms.pdf", "two-columns.pdf"])
        XCTAssertEqual(out.document(named: "two-columns.pdf")?.status, "skipped")
        XCTAssertEqual(out.document(named: "two-columns.pdf")?.error, "worker crashed (signal 11)")
        XCTAssertEqual(out.document(named: "ligatures-and-forms.pdf")?.error, "timed out after 2 s")
        XCTAssertEqual(out.document(named: "byte-level-tokenizers.pdf")?.status, "ok")
        XCTAssertEqual(out.pages.count, 4)
        XCTAssertTrue(r.stderr.contains("warning: papers/two-columns.pdf: skipped: worker crashed (signal 11)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("warning: papers/ligatures-and-forms.pdf: skipped: timed out after 2 s"), r.stderr)
        XCTAssertTrue(r.stdout.contains("3 extracted"), r.stdout)

        // The next run retries the two documents (nothing else changed) and matches a run from scratch.
        let again = try ingest(["papers", "--workdir", "w"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("2 extracted, 1 reused"), again.stdout)
        XCTAssertEqual(try ingest(["papers", "--workdir", "w"]).stdout, "ingest: up to date\n")
        XCTAssertEqual(try ingest(["papers", "--workdir", "scratch"]).status, 0)
        XCTAssertEqual(try IngestOutput(workdir: temp + "/w").hashes, try IngestOutput(workdir: temp + "/scratch").hashes)
        _ = dir
    }

    func testWorkersAreReplacedAndEveryDocumentIsAnswered() throws {
        // More documents than workers, every other one crashing its worker: each crash starts a new worker.
        var names: [String] = []
        for i in 0..<6 {
            let name = "copy\(i).pdf"
            try copy(samplePapers + "/two-columns.pdf", to: temp + "/many/" + name)
            // Distinct files (distinct sha256): append a comment line after %%EOF.
            let h = FileHandle(forUpdatingAtPath: temp + "/many/" + name)!
            h.seekToEndOfFile(); h.write(Data("%copy \(i)\n".utf8)); h.closeFile()
            names.append(name)
        }
        let fault = stride(from: 0, to: 6, by: 2).map { "crash:copy\($0).pdf" }.joined(separator: ",")
        let r = try ingest(["many", "--jobs", "2", "--workdir", "w"], env: [IngestWorker.faultVariable: fault])
        XCTAssertEqual(r.status, 3, r.stderr)
        let out = try IngestOutput(workdir: temp + "/w")
        XCTAssertEqual(out.documents.map { ($0.source as NSString).lastPathComponent }, names)
        for (i, d) in out.documents.enumerated() {
            XCTAssertEqual(d.status, i % 2 == 0 ? "skipped" : "ok", d.source)
        }
        XCTAssertEqual(out.pages.count, 6)
        XCTAssertEqual(out.pages.map(\.docID), out.documents.filter { $0.status == "ok" }.flatMap { [$0.docID, $0.docID] })
    }

    // MARK: - Incremental runs

    func testIncrementalRunsExtractOnlyNewFilesAndMatchAFullRun() throws {
        _ = try samples("papers", ["byte-level-tokenizers.pdf", "two-columns.pdf"])
        try FileSystem.atomicWrite("Notes\u{0C}with a form feed.\n", to: temp + "/papers/notes.txt")
        let first = try ingest(["papers", "--jobs", "2", "--workdir", "w"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("3 extracted, 0 reused"), first.stdout)
        XCTAssertEqual(try ingest(["papers", "--workdir", "w"]).stdout, "ingest: up to date\n")

        // One more PDF, sorting between the others: only it is extracted.
        _ = try samples("papers", ["ligatures-and-forms.pdf"])
        let second = try ingest(["papers", "--jobs", "2", "--workdir", "w"])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stdout.contains("4 documents (1 extracted, 3 reused, 0 skipped)"), second.stdout)

        // Byte-identical to a run from scratch (with one worker, so the order cannot come from the workers).
        XCTAssertEqual(try ingest(["papers", "--jobs", "1", "--workdir", "scratch"]).status, 0)
        let inc = try IngestOutput(workdir: temp + "/w"), full = try IngestOutput(workdir: temp + "/scratch")
        XCTAssertEqual(inc.hashes, full.hashes)
        XCTAssertEqual(inc.documents.map { ($0.source as NSString).lastPathComponent },
                       ["byte-level-tokenizers.pdf", "ligatures-and-forms.pdf", "notes.txt", "two-columns.pdf"])

        // A changed option re-extracts everything.
        let third = try ingest(["papers", "--workdir", "w", "--strip-headers"])
        XCTAssertTrue(third.stdout.contains("4 extracted, 0 reused"), third.stdout)

        // A removed file: the rest is reused, and the result equals a fresh run.
        FileSystem.remove(temp + "/papers/two-columns.pdf")
        let fourth = try ingest(["papers", "--workdir", "w", "--strip-headers"])
        XCTAssertTrue(fourth.stdout.contains("3 documents (0 extracted, 3 reused"), fourth.stdout)
        XCTAssertEqual(try ingest(["papers", "--workdir", "scratch2", "--strip-headers"]).status, 0)
        XCTAssertEqual(try IngestOutput(workdir: temp + "/w").hashes, try IngestOutput(workdir: temp + "/scratch2").hashes)

        // A renamed file is reused under its new name (same sha256), in its new place in the order.
        try FileManager.default.moveItem(atPath: temp + "/papers/byte-level-tokenizers.pdf", toPath: temp + "/papers/z-tokenizers.pdf")
        let fifth = try ingest(["papers", "--workdir", "w", "--strip-headers"])
        XCTAssertTrue(fifth.stdout.contains("3 documents (0 extracted, 3 reused"), fifth.stdout)
        XCTAssertEqual(try ingest(["papers", "--workdir", "scratch3", "--strip-headers"]).status, 0)
        let renamed = try IngestOutput(workdir: temp + "/w")
        XCTAssertEqual(renamed.hashes, try IngestOutput(workdir: temp + "/scratch3").hashes)
        XCTAssertEqual(renamed.documents.last?.source, "papers/z-tokenizers.pdf")
        XCTAssertEqual(renamed.pages.last?.source, "papers/z-tokenizers.pdf")
    }

    // MARK: - Duplicates (robustness issue, item 1)

    func testIdenticalFilesAreExtractedOnceAndTheNextStagesRun() throws {
        _ = try samples("papers", ["byte-level-tokenizers.pdf", "two-columns.pdf"])
        try copy(temp + "/papers/two-columns.pdf", to: temp + "/papers/again/two-columns-copy.pdf")
        try FileManager.default.createSymbolicLink(atPath: temp + "/papers/link.pdf", withDestinationPath: "two-columns.pdf")
        // The folder given twice (as `papers` and `./papers/`), the symbolic link, and a byte-identical copy.
        let r = try ingest(["papers", "./papers/", "--workdir", "w"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("3 documents (2 extracted, 0 reused, 0 skipped, 1 duplicate)"), r.stdout)
        XCTAssertEqual(r.stderr, "note: papers/two-columns.pdf: duplicate of papers/again/two-columns-copy.pdf (same sha256), "
                       + "not extracted again\n")
        let out = try IngestOutput(workdir: temp + "/w")
        XCTAssertEqual(out.documents.map(\.source),
                       ["papers/again/two-columns-copy.pdf", "papers/byte-level-tokenizers.pdf", "papers/two-columns.pdf"])
        XCTAssertEqual(out.documents.map(\.status), ["ok", "ok", "duplicate"])
        XCTAssertEqual(out.documents[2].duplicateOf, "papers/again/two-columns-copy.pdf")
        XCTAssertEqual(out.documents[2].pages, 0)
        XCTAssertEqual(Set(out.pages.map(\.source)), ["papers/again/two-columns-copy.pdf", "papers/byte-level-tokenizers.pdf"])
        let line = String(decoding: try ByteReader(path: temp + "/w/ingest/documents.jsonl.zst").readAll(), as: UTF8.self)
            .split(separator: "\n")[2]
        XCTAssertTrue(line.contains(#""duplicate_of":"papers/again/two-columns-copy.pdf""#), String(line))
        XCTAssertTrue(line.contains(#""pages":0"#) && line.contains(#""status":"duplicate""#), String(line))

        // Chunking (which failed on repeated doc_ids) runs, with unique chunk ids.
        let chunk = try PipelineProcess.run(["chunk", "--quiet", "--workdir", "w"], in: temp)
        XCTAssertEqual(chunk.status, 0, chunk.stderr)
        var ids: [String] = []
        try JSONLReader.forEachLine(path: temp + "/w/chunk/chunks.jsonl.zst") { ids.append($0["chunk_id"] as? String ?? "") }
        XCTAssertFalse(ids.isEmpty)
        XCTAssertEqual(Set(ids).count, ids.count, "chunk ids are unique")

        // Incremental: the same inputs again are up to date; the copy removed makes the other one the original.
        XCTAssertEqual(try ingest(["papers", "./papers/", "--workdir", "w"]).stdout, "ingest: up to date\n")
        FileSystem.remove(temp + "/papers/again/two-columns-copy.pdf")
        let again = try ingest(["papers", "--workdir", "w"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("2 documents (0 extracted, 2 reused, 0 skipped)"), again.stdout)
        XCTAssertEqual(try IngestOutput(workdir: temp + "/w").documents.map(\.status), ["ok", "ok"])
    }

    /// Robustness issue, item 10: a file name with a newline keeps its warning on one line.
    func testFileNamesWithControlCharactersStayOnOneLine() throws {
        try FileSystem.makeDirectory(temp + "/in")
        try FileSystem.atomicWrite("not a pdf", to: temp + "/in/bad\nname.pdf")
        let r = try ingest(["in", "--workdir", "w"])
        XCTAssertEqual(r.status, 3, r.stderr)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, r.stderr)
        XCTAssertTrue(lines[0].hasPrefix("warning: in/bad\\nname.pdf: skipped: "), r.stderr)
    }

    // MARK: - Inputs and outputs

    func testFoldersTextFilesAndOutputs() throws {
        try copy(samplePapers + "/two-columns.pdf", to: temp + "/in/sub/Two.PDF")
        try copy(samplePapers + "/byte-level-tokenizers.pdf", to: temp + "/in/.hidden/skip.pdf")
        try FileSystem.atomicWrite("# Title\n\nSome ﬁne text.\u{0C}Next page?\n", to: temp + "/in/readme.md")
        try FileSystem.atomicWrite("a,b\n", to: temp + "/in/table.csv")
        try FileSystem.atomicWrite("plain", to: temp + "/in/a.txt")
        let r = try ingest(["in/", "--workdir", "w"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = try IngestOutput(workdir: temp + "/w")
        XCTAssertEqual(out.documents.map(\.source), ["in/a.txt", "in/readme.md", "in/sub/Two.PDF"])
        XCTAssertEqual(out.pages.map(\.page), [0, 0, 0, 1])
        // Text files: one page, form feed → newline, NFKC.
        XCTAssertEqual(out.pages[1].text, "# Title\n\nSome fine text.\nNext page?\n")
        let md = out.documents[1]
        XCTAssertNil(md.title); XCTAssertNil(md.created)
        XCTAssertEqual(md.bytes, Int64(try FileSystem.fileSize(temp + "/in/readme.md")))
        // Corpus: pages joined by a newline, each document ends with one, a blank line between documents.
        let pdfText = out.pages[2].text + "\n" + out.pages[3].text + "\n"
        XCTAssertEqual(out.corpus, "plain\n" + "\n" + "# Title\n\nSome fine text.\nNext page?\n" + "\n" + pdfText)
        // Every field of a document record is written, null included.
        let line = String(decoding: try ByteReader(path: temp + "/w/ingest/documents.jsonl.zst").readAll(), as: UTF8.self)
            .split(separator: "\n")[0]
        XCTAssertEqual(line, #"{"author":null,"bytes":5,"created":null,"doc_id":"\#(out.documents[0].docID)","error":null,"pages":1,"sha256":"\#(out.documents[0].sha256)","source":"in/a.txt","status":"ok","title":null}"#)
        let pdf = out.documents[2]
        XCTAssertEqual(pdf.title, "Two Columns")
        XCTAssertEqual(pdf.author, "Pipeline Sample Data")
        XCTAssertEqual(pdf.created, "2026-03-01T08:00:00Z")
    }

    func testUsageAndInputErrors() throws {
        try FileSystem.makeDirectory(temp + "/empty")
        XCTAssertEqual(try ingest(["empty", "--normalize", "nfc", "--workdir", "w"]).status, 2)
        XCTAssertEqual(try ingest(["empty", "--jobs", "0", "--workdir", "w"]).status, 2)
        let none = try ingest(["empty", "--workdir", "w"])
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.stderr.contains("error: no PDF, .txt or .md file found in empty"), none.stderr)
        let missing = try ingest(["nowhere.pdf", "--workdir", "w"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("error: nowhere.pdf: no such file or directory"), missing.stderr)
        XCTAssertFalse(FileSystem.exists(temp + "/w/ingest"))
    }

    func testHelpDocumentsTheTextOptions() throws {
        let r = try PipelineProcess.run(["ingest", "--help"], in: temp)
        XCTAssertEqual(r.status, 0)
        for s in ["--dehyphenate", "--strip-headers", "--normalize", "--doc-timeout", "--password", "--jobs",
                  "pages.jsonl.zst", "documents.jsonl.zst", "corpus.txt.zst", "NFKC"] {
            XCTAssertTrue(r.stdout.contains(s), "help lacks \(s)")
        }
        let top = try PipelineProcess.run(["--help"], in: temp)
        XCTAssertFalse(top.stdout.contains("ingest-worker"))
    }
}
