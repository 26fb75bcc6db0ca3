import Core
import Foundation
@testable import Ingest
import XCTest

/// The extractor against poppler-utils (`pdftotext`, `pdfinfo`: the same library through its own front end), run
/// live on the shared real PDFs, and against facts about the committed sample PDFs.
final class PDFConformanceTests: XCTestCase {
    func testSamplePapers() throws {
        let papers = samplePapers
        let tok = PDFExtractor.extract(path: papers + "/byte-level-tokenizers.pdf", password: nil)
        XCTAssertNil(tok.skipReason)
        XCTAssertNil(tok.note)
        XCTAssertEqual(tok.pages.count, 4)
        XCTAssertEqual(tok.title, "A Note on Byte-Level Tokenizers")
        XCTAssertEqual(tok.author, "Pipeline Sample Data")
        XCTAssertEqual(tok.created, "2026-01-05T09:30:00Z")
        XCTAssertTrue(tok.pages[0].hasPrefix("A Note on Byte-Level Tokenizers\n1 Why bytes\nA byte-level tokenizer"), tok.pages[0])
        let stripped = TextCleanup.apply(TextOptions(dehyphenate: true, stripHeaders: true), to: tok.pages)
        XCTAssertTrue(stripped[0].hasPrefix("1 Why bytes\n"), stripped[0])
        XCTAssertTrue(stripped[0].contains("256 tokens of the vocabulary are those bytes."), stripped[0])
        XCTAssertTrue(stripped[3].hasSuffix("dled one merge at a time."), stripped[3])
        XCTAssertFalse(stripped.joined().contains("A Note on Byte-Level"))

        // The creation date had a +01'00' offset: reported in UTC.
        let lig = PDFExtractor.extract(path: papers + "/ligatures-and-forms.pdf", password: nil)
        XCTAssertEqual(lig.created, "2026-02-12T13:15:00Z")
        XCTAssertTrue(lig.pages[0].contains("the ﬁrst\nﬂoor, an eﬀective oﬃce, a baﬄing raﬄe."), lig.pages[0])
        let nfkc = TextCleanup.apply(TextOptions(), to: lig.pages)
        XCTAssertTrue(nfkc[0].contains("the first\nfloor, an effective office, a baffling raffle."), nfkc[0])
        XCTAssertTrue(nfkc[1].contains("Circled digits 1 2 3 become 1 2 3, superscripts in x2 + y2 = z2"), nfkc[1])
        XCTAssertTrue(nfkc[1].contains("café, naïve and Ångström"))

        // Reading order: the whole left column, then the right one.
        let cols = PDFExtractor.extract(path: papers + "/two-columns.pdf", password: nil)
        let text = cols.pages[0]
        let left = try XCTUnwrap(text.range(of: "and emits this column first.")), right = try XCTUnwrap(text.range(of: "Right column."))
        XCTAssertLessThan(left.lowerBound, right.lowerBound)
    }

    func testPDFWithoutText() throws {
        // A one-page PDF whose page draws a rectangle and no text.
        let t = try makeTemp("notext")
        defer { FileSystem.remove(t) }
        let content = "0 0 1 rg 10 10 100 100 re f"
        var pdf = "%PDF-1.4\n"
        var offsets: [Int] = []
        let objects = ["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                       "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
                       "<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream"]
        for (i, o) in objects.enumerated() {
            offsets.append(pdf.utf8.count)
            pdf += "\(i + 1) 0 obj\n\(o)\nendobj\n"
        }
        let xref = pdf.utf8.count
        pdf += "xref\n0 5\n0000000000 65535 f \n" + offsets.map { String(format: "%010d 00000 n \n", $0) }.joined()
        pdf += "trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        try FileSystem.atomicWrite(pdf, to: t + "/figure.pdf")
        let doc = PDFExtractor.extract(path: t + "/figure.pdf", password: nil)
        XCTAssertNil(doc.skipReason)
        XCTAssertEqual(doc.pages, [""])
        XCTAssertEqual(doc.note, "no text on any of its 1 pages (images only? no OCR is done)")
    }

    func testTrailerRepair() {
        let pdf = Array("%PDF-1.4\n1 0 obj\n<</Pages 2 0 R /Type /Catalog>>\nendobj\n2 0 obj\n<</Type/Pages".utf8)
        let repaired = PDFExtractor.withTrailer(pdf)!
        XCTAssertTrue(String(decoding: repaired, as: UTF8.self).hasSuffix("trailer\n<</Root 1 0 R>>\n%%EOF\n"))
        XCTAssertNil(PDFExtractor.withTrailer(Array("%PDF-1.4\n1 0 obj\n<</Type/Pages".utf8)))
    }

    /// The sample papers against `Fixtures/pdftotext_papers.json` (pdftotext and pdfinfo output, written by
    /// `Fixtures/make_pdftotext_fixtures.py`): no reference tool needed at test time.
    func testSamplePapersAgainstPdftotextFixture() throws {
        struct Fixture: Decodable {
            struct File: Decodable { let pdfinfo: [String: String]; let pages: [String] }
            let files: [String: File]
        }
        let path = PipelineProcess.packageRoot + "/Tests/IngestTests/Fixtures/pdftotext_papers.json"
        let fixture = try JSONDecoder().decode(Fixture.self, from: try XCTUnwrap(FileManager.default.contents(atPath: path)))
        XCTAssertEqual(fixture.files.count, 3)
        for (name, ref) in fixture.files.sorted(by: { $0.key < $1.key }) {
            let doc = PDFExtractor.extract(path: samplePapers + "/" + name, password: nil)
            XCTAssertEqual(String(doc.pages.count), ref.pdfinfo["Pages"], name)
            XCTAssertEqual(doc.title, ref.pdfinfo["Title"], name)
            XCTAssertEqual(doc.author, ref.pdfinfo["Author"], name)
            XCTAssertEqual(doc.created, ref.pdfinfo["CreationDate"].map(Self.utc), name)
            let ours = TextCleanup.apply(TextOptions(dehyphenate: true), to: doc.pages)
            for (i, page) in ours.enumerated() {
                let theirs = TextCleanup.normalize(ref.pages[i], .nfkc)
                // Same words in the same order; only the blank lines between blocks differ.
                XCTAssertEqual(Similarity.collapseSpaces(page), Similarity.collapseSpaces(theirs), "\(name) page \(i)")
                XCTAssertGreaterThan(Similarity.ratio(page, theirs), 0.95, "\(name) page \(i)")
            }
        }
    }

    // MARK: - pdftotext / pdfinfo on the shared PDFs

    static func tool(_ name: String) -> String? {
        for dir in ["/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"] where FileManager.default.isExecutableFile(atPath: dir + "/" + name) {
            return dir + "/" + name
        }
        return nil
    }

    func output(_ tool: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["TZ"] = "UTC"
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// Per file: the similarity of each page's text to `pdftotext -f N -l N -enc UTF-8` (its default, reading-order
    /// mode), both normalised the same way (form feeds → newlines, NFKC), weighted by length.
    ///
    /// Systematic differences, measured on these 8 files:
    /// - pdftotext separates text blocks by a blank line and ends each page with a form feed;
    ///   poppler_page_get_text (the selection text of the whole page) has neither. Compared as they are, the
    ///   similarity is 0.976–0.996 per file, except a figure-only page of axis numbers (0.86: 20 of its 35
    ///   characters are the blank lines between 9 one-number blocks).
    /// - pdftotext joins words hyphenated at a line end; we do so only with --dehyphenate.
    /// - Between two blocks on one line (two columns of an author list), pdftotext puts a line break where the
    ///   page text puts nothing.
    /// With white-space runs read as one space, the similarity is ≥ 0.996 for every file, and higher with
    /// --dehyphenate; the test asserts ≥ 0.99 (white space collapsed) and ≥ 0.85 (as is) per file.
    func testPageTextAgainstPdftotext() throws {
        let dir = try sharedData() + "/pdfs"
        guard let pdftotext = Self.tool("pdftotext") else { throw XCTSkip("pdftotext (poppler-utils) is not installed") }
        var lines: [String] = []
        for name in FileSystem.listFiles(dir) where name.hasSuffix(".pdf") {
            let doc = PDFExtractor.extract(path: dir + "/" + name, password: nil)
            XCTAssertNil(doc.skipReason, name)
            var sums = [0.0, 0.0, 0.0], weights = [0.0, 0.0, 0.0]
            for mode in 0..<2 {
                let ours = TextCleanup.apply(TextOptions(dehyphenate: mode == 1), to: doc.pages)
                for (i, page) in ours.enumerated() {
                    let ref = TextCleanup.normalize(try output(pdftotext, ["-f", "\(i + 1)", "-l", "\(i + 1)", "-enc", "UTF-8",
                                                                           dir + "/" + name, "-"]), .nfkc)
                    if mode == 0 {
                        let w = Double(page.unicodeScalars.count + ref.unicodeScalars.count)
                        sums[0] += Similarity.ratio(page, ref) * w
                        weights[0] += w
                    }
                    let a = Similarity.collapseSpaces(page), b = Similarity.collapseSpaces(ref)
                    let w = Double(a.unicodeScalars.count + b.unicodeScalars.count)
                    sums[1 + mode] += Similarity.ratio(a, b) * w
                    weights[1 + mode] += w
                }
            }
            let r = (0..<3).map { weights[$0] == 0 ? 1 : sums[$0] / weights[$0] }
            lines.append(String(format: "%-52@ pages %3d  as is %.4f  spaces collapsed %.4f  with --dehyphenate %.4f",
                                name as NSString, doc.pages.count, r[0], r[1], r[2]))
            XCTAssertGreaterThanOrEqual(r[1], 0.99, name)
            XCTAssertGreaterThanOrEqual(r[2], 0.99, name)
            XCTAssertGreaterThanOrEqual(r[0], 0.85, name)
        }
        XCTAssertEqual(lines.count, 8)
        print("similarity to pdftotext per file:\n" + lines.joined(separator: "\n"))
    }

    /// Title, author, creation date and page count against `pdfinfo -isodates` (TZ=UTC).
    func testMetadataAgainstPdfinfo() throws {
        let data = try sharedData()
        guard let pdfinfo = Self.tool("pdfinfo") else { throw XCTSkip("pdfinfo (poppler-utils) is not installed") }
        var files = FileSystem.listFiles(data + "/pdfs").filter { $0.hasSuffix(".pdf") }.map { data + "/pdfs/" + $0 }
        files += FileSystem.listFiles(samplePapers).filter { $0.hasSuffix(".pdf") }.map { samplePapers + "/" + $0 }
        for path in files {
            let info = try output(pdfinfo, ["-isodates", path])
            var fields: [String: String] = [:]
            for line in info.split(separator: "\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let key = String(line[..<colon])
                // pdfinfo pads values to column 17.
                let value = line[line.index(after: colon)...].drop { $0 == " " }
                if fields[key] == nil { fields[key] = String(value) }
            }
            let doc = PDFExtractor.extract(path: path, password: nil)
            XCTAssertEqual(String(doc.pages.count), fields["Pages"], path)
            XCTAssertEqual(doc.title, fields["Title"], path)
            XCTAssertEqual(doc.author, fields["Author"], path)
            XCTAssertEqual(doc.created, fields["CreationDate"].map(Self.utc), path)
        }
    }

    /// `2022-11-06T15:36:06-08` / `+02` / `+05:30` / `Z` → UTC `2022-11-06T23:36:06Z`.
    static func utc(_ iso: String) -> String {
        let s = Array(iso)
        guard s.count >= 19 else { return iso }
        let base = String(s[0..<19])
        var offset = 0
        if s.count > 19 && (s[19] == "+" || s[19] == "-") {
            let digits = String(s[20...]).replacingOccurrences(of: ":", with: "")
            let h = Int(digits.prefix(2)) ?? 0, m = Int(digits.dropFirst(2).prefix(2)) ?? 0
            offset = (h * 3600 + m * 60) * (s[19] == "+" ? 1 : -1)
        }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        guard let d = f.date(from: base) else { return iso }
        return f.string(from: d.addingTimeInterval(TimeInterval(-offset))) + "Z"
    }
}
