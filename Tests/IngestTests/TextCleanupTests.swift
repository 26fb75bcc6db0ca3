import Core
import Foundation
@testable import Ingest
import XCTest

final class TextCleanupTests: XCTestCase {
    func testNormalization() {
        XCTAssertEqual(TextCleanup.normalize("a\u{0C}b\u{0C}", .none), "a\nb\n")
        XCTAssertEqual(TextCleanup.normalize("ﬁne ﬂow eﬀect oﬃce baﬄe", .nfkc), "fine flow effect office baffle")
        XCTAssertEqual(TextCleanup.normalize("ﬁne", .none), "ﬁne")
        XCTAssertEqual(TextCleanup.normalize("ＰＤＦ ① x² ½ … ™", .nfkc), "PDF 1 x2 1⁄2 ... TM")
        // Composed and decomposed accents both end composed; nothing else changes (spaces, line breaks, case).
        XCTAssertEqual(TextCleanup.normalize("cafe\u{301}  Ångström\n\nX", .nfkc), "café  Ångström\n\nX")
        XCTAssertEqual(TextCleanup.normalize("  plain ASCII\t\n", .nfkc), "  plain ASCII\t\n")
    }

    func testDehyphenation() {
        XCTAssertEqual(TextCleanup.dehyphenate("exam-\nple text\nnext"), "example text\nnext")
        // Capital after the break (a name), digit before the hyphen, hyphen not at the line end: kept.
        XCTAssertEqual(TextCleanup.dehyphenate("Smith-\nJones"), "Smith-\nJones")
        XCTAssertEqual(TextCleanup.dehyphenate("pages 3-\n4"), "pages 3-\n4")
        XCTAssertEqual(TextCleanup.dehyphenate("well-known\nfact"), "well-known\nfact")
        XCTAssertEqual(TextCleanup.dehyphenate("a -\nb"), "a -\nb")
        XCTAssertEqual(TextCleanup.dehyphenate("vo-\ncabulary and fill-\ning"), "vocabulary and filling")
        XCTAssertEqual(TextCleanup.dehyphenate("ends-"), "ends-")
        XCTAssertEqual(TextCleanup.dehyphenate("naï-\nve"), "naïve")
    }

    static let words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
                        "kilo", "lima", "mike", "november", "oscar", "papa"]

    /// A body line unlike the others (no shared words between pages).
    func body(_ n: Int, _ line: Int) -> String {
        "\(Self.words[(2 * n + line) % 16]) \(Self.words[(3 * n + 5 * line + 1) % 16]) words of page \(n)"
    }

    func testHeaderStripping() {
        let pages = (1...5).map { n in
            "Journal of Tests \(2020 + n % 2)\n\(body(n, 0))\n\n\(body(n, 1))\n  \(n)  \n"
        }
        let stripped = TextCleanup.stripHeaders(pages)
        // The running head (its year read as a wildcard) and the page number go; the body stays, blank lines too.
        for (i, s) in stripped.enumerated() {
            XCTAssertEqual(s, "\(body(i + 1, 0))\n\n\(body(i + 1, 1))\n")
        }
        // Fewer than 3 pages: unchanged.
        XCTAssertEqual(TextCleanup.stripHeaders(Array(pages.prefix(2))), Array(pages.prefix(2)))
        // A line repeated on only two of five pages stays; a foot on all five goes.
        var mixed = (1...5).map { "\(body($0, 0))\n\(body($0, 1))\n\(body($0, 2))\nFoot \($0)" }
        mixed[0] = "Rare head\n" + mixed[0]
        mixed[3] = "Rare head\n" + mixed[3]
        let out = TextCleanup.stripHeaders(mixed)
        XCTAssertEqual(out[0], "Rare head\n\(body(1, 0))\n\(body(1, 1))\n\(body(1, 2))")
        XCTAssertEqual(out[1], "\(body(2, 0))\n\(body(2, 1))\n\(body(2, 2))")
    }

    func testAlternatingRunningHeads() {
        // Books: the book title on even pages, the chapter title on odd ones.
        let pages = (0..<8).map { n in (n % 2 == 0 ? "THE BOOK TITLE" : "Chapter One") + "\n\(body(n, 0))\n\(body(n, 1))" }
        let out = TextCleanup.stripHeaders(pages)
        for (n, s) in out.enumerated() { XCTAssertEqual(s, "\(body(n, 0))\n\(body(n, 1))") }
    }

    func testOptionsApplyInOrder() {
        let pages = ["Head\nthe ﬁrst exam-\nple\n1", "Head\nsecond\nline\n2", "Head\nthird\npage\n3"]
        let out = TextCleanup.apply(TextOptions(normalization: .nfkc, dehyphenate: true, stripHeaders: true), to: pages)
        XCTAssertEqual(out, ["the first example", "second\nline", "third\npage"])
        XCTAssertEqual(TextCleanup.apply(TextOptions(normalization: .none), to: pages), pages)
    }

    func testWorkerMessagesRoundTrip() throws {
        let req = WorkerMessage.Request(path: "/a/ü b.pdf", password: nil,
                                        options: TextOptions(normalization: .none, dehyphenate: true, stripHeaders: false))
        var bytes = WorkerMessage.encode(req)
        XCTAssertEqual(try FrameReader.frameLength(bytes), bytes.count)
        XCTAssertNil(try FrameReader.frameLength(Array(bytes.dropLast())))
        XCTAssertEqual(try WorkerMessage.decodeRequest(Array(bytes[4...])), req)
        let doc = ExtractedDocument(pages: ["one", "", "thrée\n"], title: "T", author: nil, created: "2020-01-01T00:00:00Z",
                                    skipReason: nil, note: "n")
        let resp = WorkerMessage.Response(document: doc, diagnostics: "Syntax Error: x")
        bytes = WorkerMessage.encode(resp)
        XCTAssertEqual(try WorkerMessage.decodeResponse(Array(bytes[4...])), resp)
        XCTAssertThrowsError(try WorkerMessage.decodeResponse(Array(bytes[4..<(bytes.count - 2)])))
    }

    func testInputDiscovery() throws {
        let t = try makeTemp("find")
        defer { FileSystem.remove(t) }
        for f in ["b/Z.Pdf", "b/a.md", "a.txt", "b/c/d.pdf", "b/.git/x.md", "b/notes.csv", "B.PDF"] {
            try FileSystem.makeDirectory((t + "/" + f as NSString).deletingLastPathComponent)
            try FileSystem.atomicWrite("x", to: t + "/" + f)
        }
        try FileManager.default.createSymbolicLink(atPath: t + "/b/c/up", withDestinationPath: t + "/b")
        let found = try IngestStage.findInputs([t + "/b/", t + "/a.txt", t + "/b/notes.csv", t + "/b/a.md"])
        XCTAssertEqual(found, [t + "/a.txt", t + "/b/Z.Pdf", t + "/b/a.md", t + "/b/c/d.pdf", t + "/b/notes.csv"])
        XCTAssertThrowsError(try IngestStage.findInputs([t + "/missing"]))
    }
}
