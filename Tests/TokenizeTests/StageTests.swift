import Core
import Foundation
@testable import Tokenize
import XCTest

final class TokenStageTests: XCTestCase {
    var tmp = ""

    override func setUpWithError() throws {
        tmp = NSTemporaryDirectory() + "tokstage-\(getpid())-\(UUID().uuidString)"
        try FileSystem.makeDirectory(tmp)
        Progress.enabled = false
    }

    override func tearDown() { FileSystem.remove(tmp) }

    func testTokenFileRoundTrip() throws {
        for vocab in [300, 65536, 65537, 100_000] {
            let path = tmp + "/t\(vocab).bin.zst"
            let w = try TokenFileWriter(path: path, vocabSize: vocab)
            let ids = (0..<5000).map { UInt32(($0 * 7919) % vocab) }
            try w.append(Array(ids[0..<1234]))
            try w.append(Array(ids[1234...]))
            try w.close()
            XCTAssertEqual(w.bytesPerToken, vocab <= 65536 ? 2 : 4)
            let raw = try ByteReader(path: path).readAll()
            XCTAssertEqual(Array(raw[0..<4]), Array("PTOK".utf8))
            XCTAssertEqual(Array(raw[4..<8]), [1, 0, 0, 0])
            XCTAssertEqual(Int(raw[8]), w.bytesPerToken)
            XCTAssertEqual(Int(raw[12]) | Int(raw[13]) << 8 | Int(raw[14]) << 16, vocab)
            XCTAssertEqual(raw.count, 16 + 5000 * w.bytesPerToken)
            let (v, back) = try TokenFile.readAll(path: path)
            XCTAssertEqual(v, vocab)
            XCTAssertEqual(back, ids)
        }
        try FileSystem.atomicWrite("PTOX", to: tmp + "/bad")
        XCTAssertThrowsError(try TokenFileReader(path: tmp + "/bad"))
    }

    /// bpe-train then tokenize through the stage functions: the tokens decode to the corpus, equal a line by
    /// line encoding, and a second run is up to date.
    func testTrainAndTokenizeStages() throws {
        let work = Workdir(path: tmp + "/work")
        try FileSystem.makeDirectory(work.stageDir("ingest"))
        var corpus: [UInt8] = []
        for name in ["english", "mixed", "crlf"] {
            corpus += try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.dir + "/corpora/\(name).txt")))
        }
        corpus += [0x62, 0x61, 0x64, 0xFF, 0x0A, 0x6F, 0x6B] // one line of invalid UTF-8, then a last line without \n
        let w = try ZstdWriter(path: TokenizeStages.defaultCorpus(work))
        try w.write(corpus)
        try w.close()
        var o = TrainerOptions()
        o.vocabSize = 1000
        o.minFrequency = 2
        // Training rejects invalid UTF-8, as tokenizers does.
        XCTAssertThrowsError(try TokenizeStages.bpeTrain(workdir: work, files: [TokenizeStages.defaultCorpus(work)], options: o, force: false))
        let clean = tmp + "/clean.txt"
        try FileSystem.atomicWrite(Array(corpus.dropLast(7)), to: clean)
        let model = try XCTUnwrap(try TokenizeStages.bpeTrain(workdir: work, files: [clean], options: o, force: false))
        XCTAssertNil(try TokenizeStages.bpeTrain(workdir: work, files: [clean], options: o, force: false))
        let out = tmp + "/export"
        try TokenizeStages.exportTokenizer(workdir: work, to: out)
        XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: out + "/tokenizer.json"))), model.tokenizerJSON())

        let result = try XCTUnwrap(try TokenizeStages.tokenize(workdir: work, corpus: nil, tokenizer: nil, force: false, threads: 2))
        XCTAssertEqual(result.replaced, 1)
        XCTAssertNil(try TokenizeStages.tokenize(workdir: work, corpus: nil, tokenizer: nil, force: false))
        let (vocab, ids) = try TokenFile.readAll(path: work.stageDir("tokens") + "/tokens.bin.zst")
        XCTAssertEqual(vocab, 1000)
        XCTAssertEqual(Int64(ids.count), result.tokens)
        let tok = try BPETokenizer(path: work.stageDir("tokenize"))
        var expected: [Int] = []
        var start = 0
        for i in corpus.indices where corpus[i] == 0x0A || i == corpus.count - 1 {
            expected += tok.encode(String(decoding: corpus[start...i], as: UTF8.self))
            start = i + 1
        }
        XCTAssertTrue(ids.map(Int.init) == expected, "tokens differ from a line by line encoding")
        XCTAssertEqual(try tok.decode(ids.map(Int.init)), String(decoding: corpus, as: UTF8.self))
    }

    /// Whole-text encoding in blocks (cut at safe newlines, both threads) equals encoding the text at once.
    func testBlockedTextEncodingEqualsWhole() throws {
        guard let shared = SharedData.directory() else { throw XCTSkip(SharedData.absentMessage) }
        let tok = try BPETokenizer(path: shared + "/gpt2-tokenizer")
        var text = ""
        for name in ["english", "code", "mixed", "crlf", "ties"] {
            text += try String(contentsOfFile: Fixtures.dir + "/corpora/\(name).txt", encoding: .utf8)
        }
        text += "  \n\n x\ny\n \n"
        let path = tmp + "/text.txt"
        try FileSystem.atomicWrite(text, to: path)
        var ids: [UInt32] = []
        try ParallelEncoder(tokenizer: tok, threads: 2).encodeText(file: path, blockSize: 4096) { ids += $0 }
        XCTAssertEqual(ids.map(Int.init), tok.encode(text))
    }
}
