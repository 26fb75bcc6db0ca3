import Core
import Foundation
import Index
import XCTest

final class ChunkerTests: XCTestCase {
    func chunks(_ text: String, _ size: Int, _ overlap: Int) throws -> [String] {
        try RecursiveChunker(size: size, overlap: overlap).chunks(text).map(\.text)
    }

    func testValidation() {
        XCTAssertThrowsError(try RecursiveChunker(size: 10, overlap: 10)) { error in
            XCTAssertEqual((error as? ChunkError)?.exitStatus, .usage)
            XCTAssertEqual((error as? ChunkError)?.message, "--overlap (10) must be smaller than --size (10)")
        }
        XCTAssertThrowsError(try RecursiveChunker(size: 10, overlap: 11))
        XCTAssertThrowsError(try RecursiveChunker(size: 0, overlap: 0))
        XCTAssertThrowsError(try RecursiveChunker(size: 10, overlap: -1))
        XCTAssertNoThrow(try RecursiveChunker(size: 1, overlap: 0))
    }

    func testEmptyAndBlankTextsGiveNoChunks() throws {
        XCTAssertEqual(try chunks("", 8, 2), [])
        XCTAssertEqual(try chunks(" \n\n\t \u{3000}", 8, 2), [])
    }

    func testSeparatorStartsTheFollowingPieceAndChunksAreStripped() throws {
        // Pieces "aaa", " bbb", " ccc" (LangChain's results). Size 8: the overlap keeps " bbb" (4 <= 4 and
        // 4 + 4 fits); size 7: " bbb" is dropped too, since 4 + 4 > 7.
        let c8 = try RecursiveChunker(size: 8, overlap: 4).chunks("aaa bbb ccc")
        XCTAssertEqual(c8.map(\.text), ["aaa bbb", "bbb ccc"])
        XCTAssertEqual(c8.map(\.startIndex), [0, 4])
        let c7 = try RecursiveChunker(size: 7, overlap: 4).chunks("aaa bbb ccc")
        XCTAssertEqual(c7.map(\.text), ["aaa bbb", "ccc"])
        XCTAssertEqual(c7.map(\.startIndex), [0, 8])
    }

    func testCodePointLengths() throws {
        // Four code points per "e\u{301}\u{1F44D}\u{1F3FD}" group, although Swift counts two Characters.
        let text = String(repeating: "e\u{301}\u{1F44D}\u{1F3FD}", count: 5)
        let c = try RecursiveChunker(size: 8, overlap: 0).chunks(text)
        XCTAssertEqual(c.map { $0.text.unicodeScalars.count }, [8, 8, 4])
        XCTAssertEqual(c.map(\.startIndex), [0, 8, 16])
    }

    /// 2,000,000 code points without any separator: chunks of exactly `size`, each starting `size - overlap`
    /// after the previous one (the reference's character-level merge).
    func testTwoMillionSeparatorFreeCharacters() throws {
        let n = 2_000_000
        var cps = [UInt32](repeating: 0, count: n)
        var x: UInt32 = 12345
        for i in 0..<n { x = x &* 1_103_515_245 &+ 12345; cps[i] = 0x61 + (x >> 16) % 26 }
        let size = 1024, overlap = 128
        let spans = try RecursiveChunker(size: size, overlap: overlap).chunks(cps)
        let step = size - overlap
        let expectedCount = 1 + (n - size + step - 1) / step
        XCTAssertEqual(spans.count, expectedCount)
        for (k, s) in spans.enumerated() {
            XCTAssertEqual(s.start, k * step)
            XCTAssertEqual(s.startIndex, k * step)
            if k < spans.count - 1 { XCTAssertEqual(s.count, size) } else { XCTAssertEqual(s.end, n) }
        }
    }
}
