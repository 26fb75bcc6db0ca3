import Core
import Foundation
import Index
import XCTest

/// One case of Fixtures/chunk_cases.json.zst (made by Fixtures/make_chunk_fixtures.py with the real LangChain).
struct ChunkCase: Decodable {
    struct Expected: Decodable {
        let text: String
        let startIndex: Int
        init(from decoder: Decoder) throws {
            var c = try decoder.unkeyedContainer()
            text = try c.decode(String.self)
            startIndex = try c.decode(Int.self)
        }
    }
    let name: String
    let text: String
    let size: Int
    let overlap: Int
    let chunks: [Expected]
}

struct ChunkFixtures: Decodable { let cases: [ChunkCase] }

final class ChunkConformanceTests: XCTestCase {
    static func loadCases() throws -> [ChunkCase] {
        let path = SharedData.packageRoot(filePath: #filePath) + "/Tests/IndexTests/Fixtures/chunk_cases.json.zst"
        let bytes = try ByteReader(path: path).readAll()
        return try JSONDecoder().decode(ChunkFixtures.self, from: Data(bytes)).cases
    }

    /// Every fixture case gives exactly LangChain's chunks and start indices.
    func testIdenticalToLangChainOnEveryFixtureCase() throws {
        let cases = try Self.loadCases()
        XCTAssertGreaterThanOrEqual(cases.count, 450)
        XCTAssertGreaterThanOrEqual(cases.filter { $0.name.hasPrefix("random") }.count, 300)
        var failures = 0
        var chunkCount = 0
        for c in cases {
            let chunker = try RecursiveChunker(size: c.size, overlap: c.overlap)
            let got = chunker.chunks(c.text)
            chunkCount += got.count
            let same = got.count == c.chunks.count
                && zip(got, c.chunks).allSatisfy { $0.text == $1.text && $0.startIndex == $1.startIndex }
            // String == in Swift is canonical equivalence: also compare the code points.
            let sameScalars = same && zip(got, c.chunks).allSatisfy {
                Array($0.text.unicodeScalars) == Array($1.text.unicodeScalars)
            }
            if !sameScalars {
                failures += 1
                if failures <= 5 {
                    let k = Array(zip(got, c.chunks)).firstIndex { $0.0.text != $0.1.text || $0.0.startIndex != $0.1.startIndex }
                        ?? min(got.count, c.chunks.count)
                    let g = k < got.count ? "\(got[k].startIndex) \(got[k].text.debugDescription.prefix(120))" : "none"
                    let e = k < c.chunks.count ? "\(c.chunks[k].startIndex) \(c.chunks[k].text.debugDescription.prefix(120))" : "none"
                    XCTFail("\(c.name) (size \(c.size), overlap \(c.overlap)): \(got.count) chunks, expected \(c.chunks.count); first difference at chunk \(k): got \(g), expected \(e)")
                }
            }
        }
        XCTAssertEqual(failures, 0, "\(failures) of \(cases.count) cases differ")
        XCTAssertEqual(chunkCount, cases.reduce(0) { $0 + $1.chunks.count })
    }

    /// The fixture covers what the issue asks for.
    func testFixtureCoverage() throws {
        let cases = try Self.loadCases()
        XCTAssertTrue(cases.contains { $0.name.hasPrefix("pdf") })
        XCTAssertTrue(cases.contains { $0.name.hasPrefix("gsm8k") })
        XCTAssertTrue(cases.contains { $0.text.unicodeScalars.contains { $0.value > 0xFFFF } })
        XCTAssertTrue(cases.contains { $0.text.contains("\r\n") })
        XCTAssertTrue(cases.contains { $0.text.count > 1000 && !$0.text.unicodeScalars.contains { PythonText.isSpace($0.value) } })
        let sizes = cases.map(\.size)
        XCTAssertEqual(sizes.min(), 1)
        XCTAssertEqual(sizes.max(), 1024)
    }
}
