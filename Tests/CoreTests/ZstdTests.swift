import XCTest
@testable import Core

final class ZstdTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "core-zstd-\(UUID().uuidString)"
        try FileSystem.makeDirectory(dir)
    }

    override func tearDown() { FileSystem.remove(dir) }

    /// Text that compresses but is not trivial.
    func sampleText(lines: Int, seed: UInt64 = 1) -> String {
        var rng = seed
        var out = ""
        let words = ["alpha", "beta", "gamma", "delta", "ünïcode", "数据", "emoji🙂", "x", "\t", "  "]
        for i in 0..<lines {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            let n = Int(rng >> 60) + 1
            for j in 0..<n { out += words[Int((rng >> UInt64(8 + j)) % UInt64(words.count))] + " " }
            out += "\(i)\n"
        }
        return out
    }

    func write(_ text: String, to path: String) throws {
        let w = try ZstdWriter(path: path)
        try w.write(text)
        try w.close()
    }

    func testRoundTripSmall() throws {
        let text = sampleText(lines: 1000)
        let path = dir + "/a.txt.zst"
        try write(text, to: path)
        let r = try ByteReader(path: path)
        XCTAssertTrue(r.isCompressed)
        XCTAssertEqual(String(decoding: try r.readAll(), as: UTF8.self), text)
    }

    func testRoundTripEmpty() throws {
        let path = dir + "/empty.zst"
        try write("", to: path)
        XCTAssertTrue(try ByteReader(path: path).isCompressed)
        XCTAssertEqual(try ByteReader(path: path).readAll(), [])
    }

    func testRoundTripLargeMultiThreadedAndDeterministic() throws {
        // Larger than the multi-thread threshold, written in uneven pieces.
        let text = sampleText(lines: 200_000)
        XCTAssertGreaterThan(text.utf8.count, ZstdWriter.multiThreadThreshold)
        let a = dir + "/a.zst", b = dir + "/b.zst"
        for path in [a, b] {
            let w = try ZstdWriter(path: path)
            let bytes = Array(text.utf8)
            var i = 0, step = 1
            while i < bytes.count {
                let end = min(bytes.count, i + step)
                try w.write(Array(bytes[i..<end]))
                i = end
                step = step * 3 % 100_003 + 1
            }
            try w.close()
        }
        XCTAssertEqual(String(decoding: try ByteReader(path: a).readAll(), as: UTF8.self), text)
        XCTAssertEqual(try Hashing.sha256(path: a), try Hashing.sha256(path: b), "same input must give the same bytes")
    }

    func testMultiFrameIsReadWhole() throws {
        let p1 = dir + "/1.zst", p2 = dir + "/2.zst", cat = dir + "/cat.zst"
        try write("first frame\n", to: p1)
        try write("second frame\n", to: p2)
        let joined = try ByteReader(path: p1).readAllRaw() + ByteReader(path: p2).readAllRaw()
        try FileSystem.atomicWrite(joined, to: cat)
        XCTAssertEqual(String(decoding: try ByteReader(path: cat).readAll(), as: UTF8.self), "first frame\nsecond frame\n")
        var lines: [String] = []
        try ByteReader(path: cat).forEachLine { line, n in lines.append("\(n):" + String(decoding: line, as: UTF8.self)) }
        XCTAssertEqual(lines, ["1:first frame", "2:second frame"])
    }

    func testFlippedByteIsAnErrorNotGarbage() throws {
        let text = sampleText(lines: 5000)
        let path = dir + "/x.zst"
        try write(text, to: path)
        let good = try ByteReader(path: path).readAllRaw()
        // Flip bytes across the frame (past the 4-byte magic): each must be detected.
        var checked = 0
        for position in stride(from: 4, to: good.count, by: max(1, good.count / 40)) {
            var bad = good
            bad[position] ^= 0x5A
            let badPath = dir + "/bad-\(position).zst"
            try FileSystem.atomicWrite(bad, to: badPath)
            XCTAssertThrowsError(try ByteReader(path: badPath).readAll(), "flip at \(position) went unnoticed") { error in
                XCTAssertTrue(error is CoreError)
            }
            checked += 1
        }
        XCTAssertGreaterThan(checked, 30)
    }

    func testTruncatedStreamIsAnError() throws {
        let path = dir + "/t.zst"
        try write(sampleText(lines: 5000), to: path)
        let good = try ByteReader(path: path).readAllRaw()
        for cut in [good.count - 1, good.count - 4, good.count / 2, 10] {
            let p = dir + "/cut-\(cut).zst"
            try FileSystem.atomicWrite(Array(good[0..<cut]), to: p)
            XCTAssertThrowsError(try ByteReader(path: p).readAll(), "cut at \(cut)") { error in
                guard let e = error as? CoreError else { return XCTFail("\(error)") }
                switch e {
                case .truncated, .corrupt: break
                default: XCTFail("\(e)")
                }
            }
        }
    }

    func testReaderAcceptsPlainAndCompressed() throws {
        let text = "line one\nline two\r\n\nlast without newline"
        let plain = dir + "/corpus.txt", packed = dir + "/corpus.txt.zst"
        try FileSystem.atomicWrite(text, to: plain)
        try write(text, to: packed)
        for path in [plain, packed] {
            let r = try ByteReader(path: path)
            XCTAssertEqual(r.isCompressed, path.hasSuffix(".zst"))
            XCTAssertEqual(String(decoding: try r.readAll(), as: UTF8.self), text)
            var kept: [String] = []
            try ByteReader(path: path).forEachLine(keepNewline: true) { l, _ in kept.append(String(decoding: l, as: UTF8.self)) }
            XCTAssertEqual(kept, ["line one\n", "line two\r\n", "\n", "last without newline"])
        }
    }

    func testLinesLongerThanTheReadBuffer() throws {
        let long = String(repeating: "abcdefghij", count: 300_000) // 3 MB line
        let path = dir + "/long.zst"
        try write(long + "\nshort\n", to: path)
        var lengths: [Int] = []
        try ByteReader(path: path).forEachLine { l, _ in lengths.append(l.count) }
        XCTAssertEqual(lengths, [3_000_000, 5])
    }

    func testJSONLRoundTripAndBadLine() throws {
        struct R: Codable, Equatable { var id: Int; var text: String }
        let path = dir + "/r.jsonl.zst"
        let w = try JSONLWriter<R>(path: path)
        for i in 0..<100 { try w.write(R(id: i, text: "t\(i) \"q\" /\n")) }
        try w.close()
        XCTAssertEqual(try JSONLReader.readAll(R.self, path: path), (0..<100).map { R(id: $0, text: "t\($0) \"q\" /\n") })
        let bad = dir + "/bad.jsonl"
        try FileSystem.atomicWrite("{\"id\":1,\"text\":\"a\"}\n{\"id\":2}\n", to: bad)
        XCTAssertThrowsError(try JSONLReader.readAll(R.self, path: bad)) { error in
            XCTAssertEqual((error as? PipelineError)?.message, "\(bad):2: invalid record: missing field 'text'")
        }
    }
}

extension ByteReader {
    /// The file's bytes as stored (for tests that tamper with them).
    func readAllRaw() throws -> [UInt8] {
        let input = try FileInput(path: path)
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try buf.withUnsafeMutableBytes { try input.read(into: $0) }
            if n == 0 { break }
            out += buf[0..<n]
        }
        return out
    }
}
