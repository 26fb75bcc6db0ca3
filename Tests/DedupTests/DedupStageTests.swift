import Core
@testable import Dedup
import Foundation
import XCTest

/// The stage on a work directory: outputs in ingest's formats without the duplicates, clusters, documents marked,
/// up to date on a second run, switched off.
final class DedupStageTests: XCTestCase {
    var temp = ""

    override func setUpWithError() throws {
        temp = NSTemporaryDirectory() + "dedup-tests-\(getpid())-\(UUID().uuidString)"
        try FileSystem.makeDirectory(temp)
    }

    override func tearDown() { FileSystem.remove(temp) }

    /// An ingest folder of the fixture corpus: each document two pages (its header, the rest), ids "d<n>".
    func makeWorkdir(limit: Int? = nil, name: String = "w") throws -> (Workdir, [CorpusDoc]) {
        let work = Workdir(path: temp + "/" + name)
        try FileSystem.makeDirectory(work.stageDir("ingest"))
        var docs = try Fixture.corpus()
        if let limit { docs = Array(docs.prefix(limit)) }
        let pages = try JSONLWriter<PageRecord>(path: work.stageDir("ingest") + "/pages.jsonl.zst")
        let records = try JSONLWriter<DocumentRecord>(path: work.stageDir("ingest") + "/documents.jsonl.zst")
        for (i, d) in docs.enumerated() {
            let parts = d.text.split(separator: "\n\n", maxSplits: 1).map(String.init)
            for (k, text) in parts.enumerated() {
                try pages.write(PageRecord(docID: "d\(i)", source: d.id + ".txt", page: k, text: text))
            }
            try records.write(DocumentRecord(docID: "d\(i)", source: d.id + ".txt", sha256: "", bytes: 1,
                                             pages: parts.count, title: nil, author: nil, created: nil,
                                             status: "ok", error: nil))
        }
        try pages.close(); try records.close()
        return (work, docs)
    }

    func testDocumentLevelRemovesDatatrovesSetAndWritesIngestFormats() throws {
        let (work, docs) = try makeWorkdir()
        let expected = try Fixture.expected()
        let o = try DedupStage.run(workdir: work, level: .document, threshold: 0)
        XCTAssertTrue(o.ran)
        XCTAssertEqual(o.units, 323)
        XCTAssertEqual(o.exact, 3)
        XCTAssertEqual(o.near, 40)
        XCTAssertEqual(work.textSource, "dedup")

        let dir = work.stageDir("dedup")
        let kept = try JSONLReader.readAll(PageRecord.self, path: dir + "/pages.jsonl.zst")
        let removedSources = Set((expected.exact_removed + expected.near_removed).map { $0 + ".txt" })
        XCTAssertEqual(Set(kept.map(\.source)), Set(docs.map { $0.id + ".txt" }).subtracting(removedSources))
        let records = try JSONLReader.readAll(DocumentRecord.self, path: dir + "/documents.jsonl.zst")
        XCTAssertEqual(records.count, 323)
        let marked = records.filter { $0.status == "duplicate" }
        XCTAssertEqual(Set(marked.map(\.source)), removedSources)
        XCTAssertTrue(marked.allSatisfy { $0.pages == 0 && $0.duplicateOf != nil && $0.error != nil })

        // The corpus as ingest writes it: each kept document's pages joined by "\n", documents separated by "\n".
        var corpus = ""
        var byDoc: [(String, [String])] = []
        for p in kept {
            if byDoc.last?.0 == p.docID { byDoc[byDoc.count - 1].1.append(p.text) }
            else { byDoc.append((p.docID, [p.text])) }
        }
        for (i, (_, pages)) in byDoc.enumerated() {
            var t = pages.joined(separator: "\n")
            if !t.hasSuffix("\n") { t += "\n" }
            corpus += i > 0 ? "\n" + t : t
        }
        XCTAssertEqual(String(decoding: try ByteReader(path: dir + "/corpus.txt.zst").readAll(), as: UTF8.self),
                       corpus)

        let clusters = try JSONLReader.readAll(DuplicateCluster.self, path: dir + "/clusters.jsonl.zst")
        XCTAssertEqual(clusters.filter { $0.kind == "exact" }.flatMap(\.removed).count, 3)
        XCTAssertEqual(clusters.filter { $0.kind == "near" }.flatMap(\.removed).count, 40)
        for c in clusters where c.kind == "near" {
            for r in c.removed {
                XCTAssertGreaterThan(r.estimatedJaccard ?? 0, 0.3, r.source)
                XCTAssertGreaterThan(r.jaccard ?? 0, 0.3, r.source)
                XCTAssertFalse(r.excerpt.isEmpty)
            }
        }
        let m = try XCTUnwrap(work.manifest("dedup"))
        XCTAssertEqual(m.records["removed"], 43)
        XCTAssertEqual(m.records["kept"], 280)

        // Up to date; then switched off: the folder goes and the readers take ingest again.
        XCTAssertFalse(try DedupStage.run(workdir: work, level: .document, threshold: 0).ran)
        XCTAssertTrue(DedupStage.disable(workdir: work))
        XCTAssertEqual(work.textSource, "ingest")
    }

    /// A threshold above every pair's estimate keeps all near duplicates (exact ones still go); --level page
    /// compares pages (the planted exact copies make exact duplicate pages).
    func testThresholdAndPageLevel() throws {
        let (work, _) = try makeWorkdir(limit: 60)
        let strict = try DedupStage.run(workdir: work, level: .document, threshold: 1.0)
        let loose = try DedupStage.run(workdir: work, level: .document, threshold: 0, force: true)
        XCTAssertLessThan(strict.near, loose.near)
        XCTAssertGreaterThan(loose.near, 0)
        let pages = try DedupStage.run(workdir: work, level: .page, threshold: 0)
        let all = try JSONLReader.readAll(PageRecord.self, path: work.stageDir("ingest") + "/pages.jsonl.zst")
        XCTAssertEqual(pages.units, all.count)
        XCTAssertGreaterThan(pages.exact, 0)
        let kept = try JSONLReader.readAll(PageRecord.self, path: work.stageDir("dedup") + "/pages.jsonl.zst")
        XCTAssertEqual(kept.count, all.count - pages.removed)
        let clusters = try JSONLReader.readAll(DuplicateCluster.self,
                                               path: work.stageDir("dedup") + "/clusters.jsonl.zst")
        XCTAssertTrue(clusters.allSatisfy { $0.kept.page != nil })
    }

    func testMissingInputNamesTheFile() throws {
        let work = Workdir(path: temp + "/empty")
        XCTAssertThrowsError(try DedupStage.run(workdir: work, level: .document, threshold: 0)) { e in
            XCTAssertTrue("\(e)".contains("ingest/pages.jsonl.zst"), "\(e)")
        }
    }

    /// NFKC and whitespace runs; case is kept.
    func testExactText() {
        XCTAssertEqual(DedupStage.exactText("  ﬁne\t\n day\u{00A0}x "), "fine day x")
        XCTAssertNotEqual(DedupStage.exactText("Fine"), DedupStage.exactText("fine"))
        // Piecewise NFKC (ASCII alone, each non-ASCII run with the ASCII starter before it) equals the whole text's.
        for t in ["cafe\u{0301} ﬁne", "e\u{0341}x", "A\u{030A}\u{0327}b", "\u{1100}\u{1161}\u{11A8} x \u{1100}a",
                  "\u{0301}start", "x\u{2329}y\u{232A} ½ ㈱ Ａｂ", "o\u{0308}\u{0301}\u{0323}", "\u{212B}ngstro\u{0308}m"] {
            let whole = DedupStage.collapsed(t.precomposedStringWithCompatibilityMapping)
            XCTAssertEqual(DedupStage.exactText(t), whole, t.debugDescription)
            XCTAssertEqual(DedupStage.exactText(t + " " + t), whole + " " + whole)
        }
        // NFD without marks, run by run, equals the whole text's.
        for t in ["cafe\u{0301} naïve", "a\u{0323}\u{0301}b", "\u{2329}x\u{232A} \u{2260} \u{037E}"] {
            let scalars = t.unicodeScalars.map(\.value)
            let whole = t.decomposedStringWithCanonicalMapping.unicodeScalars
                .filter { $0.properties.generalCategory != .nonspacingMark }.map(\.value)
            XCTAssertEqual(SimplifiedText.stripMarks(scalars), whole, t.debugDescription)
        }
    }

    // MARK: shards

    func bytes(_ path: String) throws -> [UInt8] { try ByteReader(path: path).readAll() }

    /// N shards (signatures) and a merge (buckets, clusters, outputs) give the bytes of one run, for every N and
    /// both levels; the shards do not depend on the threshold.
    func testShardsAndMergeEqualOneRunForEveryN() throws {
        let files = ["pages.jsonl.zst", "documents.jsonl.zst", "corpus.txt.zst", "clusters.jsonl.zst"]
        for level in DedupStage.Level.allCases {
            let (one, _) = try makeWorkdir(limit: level == .page ? 140 : nil, name: "one-\(level)")
            let single = try DedupStage.run(workdir: one, level: level, threshold: 0)
            XCTAssertGreaterThan(single.near, 0)
            let expected = try files.map { try bytes(one.stageDir("dedup") + "/" + $0) }
            for n in [1, 2, 3, 7] {
                let (work, _) = try makeWorkdir(limit: level == .page ? 140 : nil, name: "n\(n)-\(level)")
                var units = 0
                for i in (0..<n).reversed() {   // the order the shards finish in does not matter
                    let o = try DedupStage.runShard(workdir: work, level: level, shard: try Shard(index: i, count: n))
                    XCTAssertTrue(o.ran)
                    units += o.units
                }
                XCTAssertEqual(units, single.units, "every unit in exactly one shard")
                let m = try DedupStage.merge(workdir: work, level: level, threshold: 0, shards: n)
                XCTAssertTrue(m.ran)
                XCTAssertEqual([m.units, m.exact, m.near, m.clusters],
                               [single.units, single.exact, single.near, single.clusters])
                for (file, want) in zip(files, expected) {
                    XCTAssertEqual(try bytes(work.stageDir("dedup") + "/" + file), want, "N = \(n), \(level), \(file)")
                }
                XCTAssertEqual(work.manifest("dedup")?.records, one.manifest("dedup")?.records)
                XCTAssertEqual(work.manifest("dedup")?.parameters, one.manifest("dedup")?.parameters)
                XCTAssertEqual(work.manifest("dedup")?.outputs.map(\.path).sorted(),
                               one.manifest("dedup")?.outputs.map(\.path).sorted(), "the shards are not outputs")
                XCTAssertFalse(try DedupStage.merge(workdir: work, level: level, threshold: 0, shards: n).ran)
            }
        }
        // A new threshold: the shards stay up to date, the merge runs again.
        let (work, _) = try makeWorkdir(limit: 60, name: "threshold")
        for i in 0..<2 { _ = try DedupStage.runShard(workdir: work, level: .document, shard: try Shard(index: i, count: 2)) }
        _ = try DedupStage.merge(workdir: work, level: .document, threshold: 0, shards: 2)
        XCTAssertFalse(try DedupStage.runShard(workdir: work, level: .document, shard: try Shard(index: 0, count: 2)).ran)
        let strict = try DedupStage.merge(workdir: work, level: .document, threshold: 1, shards: 2)
        XCTAssertTrue(strict.ran)
        XCTAssertEqual(strict.near, try DedupStage.run(workdir: work, level: .document, threshold: 1, force: true).near)
    }

    /// The merge names a shard that has not run, or one run at another level.
    func testMergeNamesAMissingOrStaleShard() throws {
        let (work, _) = try makeWorkdir(limit: 70, name: "missing")
        _ = try DedupStage.runShard(workdir: work, level: .document, shard: try Shard(index: 0, count: 2))
        XCTAssertThrowsError(try DedupStage.merge(workdir: work, level: .document, threshold: 0, shards: 2)) {
            XCTAssertTrue("\($0)".contains("shard 1/2 has not run"), "\($0)")
        }
        _ = try DedupStage.runShard(workdir: work, level: .page, shard: try Shard(index: 1, count: 2))
        XCTAssertThrowsError(try DedupStage.merge(workdir: work, level: .page, threshold: 0, shards: 2)) {
            XCTAssertTrue("\($0)".contains("shard 0/2 is"), "\($0)")
        }
    }

    /// The merge's reader of shard lines gives what JSONDecoder gives, and leaves other layouts to it.
    func testSignatureLineReader() throws {
        let path = temp + "/s.jsonl"
        let records = [UnitSignature(unit: 0, key: String(repeating: "ab", count: 32), signature: [0, 1, UInt64.max]),
                       UnitSignature(unit: 12345, key: "k", signature: nil),
                       UnitSignature(unit: 7, key: "", signature: [])]
        let w = try JSONLWriter<UnitSignature>(path: path)
        for r in records { try w.write(r) }
        try w.close()
        let reader = try LineReader(path: path)
        for r in records {
            let line = try XCTUnwrap(try reader.next())
            XCTAssertEqual(DedupStage.ShardSignatures.parse(line), r)
            XCTAssertEqual(try JSONDecoder().decode(UnitSignature.self, from: Data(line)), r)
        }
        for other in [#"{"unit":1,"key":"k","signature":null}"#, #"{"key":"k","signature":[1,],"unit":1}"#,
                      #"{"key":"k","signature":[18446744073709551616],"unit":1}"#,
                      #"{"key":"k\"","signature":null,"unit":1}"#, #"{"key":"k","signature":null,"unit":1} x"#] {
            XCTAssertNil(DedupStage.ShardSignatures.parse(Array(other.utf8)), other)
        }
    }
}
