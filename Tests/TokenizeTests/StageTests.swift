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
        let summary = try XCTUnwrap(try TokenizeStages.bpeTrain(workdir: work, files: [clean], options: o, force: false))
        let model = try BPETrainer.train(files: [clean], options: o)
        XCTAssertEqual(summary.tokens, model.tokens.count)
        XCTAssertEqual(summary.merges, model.serializedMerges.count)
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
        XCTAssertEqual(tok.decode(ids.map(Int.init)), String(decoding: corpus, as: UTF8.self))
    }

    /// `tokenize --special`: added tokens in the corpus become their single ids (as `encode(allowSpecial: true)`),
    /// the manifest says so; without it they are plain text and the parameters are those of before.
    func testSpecialEncodesAddedTokensAsTheirIds() throws {
        let work = Workdir(path: tmp + "/special")
        let corpus = tmp + "/markers.txt"
        var text = ""
        for i in 0..<40 {
            text += "Q: \(i) + 2?\n<start_working_out>\(i) + 2 = \(i + 2)<end_working_out><|endoftext|>\n"
        }
        try FileSystem.atomicWrite(text, to: corpus)
        var o = TrainerOptions()
        o.vocabSize = 300
        o.minFrequency = 2
        o.specialTokens = ["<|endoftext|>", "<start_working_out>", "<end_working_out>"]
        _ = try TokenizeStages.bpeTrain(workdir: work, files: [corpus], options: o, force: false)
        let tok = try BPETokenizer(path: work.stageDir("tokenize"))
        let plain = try XCTUnwrap(TokenizeStages.tokenize(workdir: work, corpus: corpus, tokenizer: nil, force: false))
        let manifest = { try Manifest.load(path: work.stageDir("tokens") + "/manifest.json") }
        XCTAssertNil(try manifest().parameters["special"], "unchanged without --special")
        let (_, plainIds) = try TokenFile.readAll(path: work.stageDir("tokens") + "/tokens.bin.zst")
        XCTAssertFalse(plainIds.contains(0) || plainIds.contains(1) || plainIds.contains(2))
        let special = try XCTUnwrap(TokenizeStages.tokenize(workdir: work, corpus: corpus, tokenizer: nil,
                                                            force: false, threads: 2, special: true),
                                    "a new parameter: not up to date")
        XCTAssertEqual(try manifest().parameters["special"], "added-tokens")
        let (_, ids) = try TokenFile.readAll(path: work.stageDir("tokens") + "/tokens.bin.zst")
        XCTAssertLessThan(special.tokens, plain.tokens)
        XCTAssertEqual(ids.map(Int.init), tok.encode(text, allowSpecial: true))
        for id in 0..<3 { XCTAssertEqual(ids.filter { $0 == UInt32(id) }.count, 40, "token \(id) once a line") }
        XCTAssertEqual(tok.decode(ids.map(Int.init)), text)
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
        text += String(repeating: "日本語の文。\n中文\n😀\n\u{00a0}\n\u{3000}x\né\n", count: 400)
        let path = tmp + "/text.txt"
        try FileSystem.atomicWrite(text, to: path)
        var ids: [UInt32] = []
        try ParallelEncoder(tokenizer: tok, threads: 2).encodeText(file: path, blockSize: 4096) { ids += $0 }
        XCTAssertTrue(ids.map(Int.init) == tok.encode(text), "blocked encoding differs")
        // Invalid UTF-8 in the file: replaced (U+FFFD per maximal invalid subpart), then encoded.
        var bytes0 = Array(text.utf8)
        bytes0 += [0x61, 0xFF, 0x62, 0x0A, 0xE2, 0x82, 0x20, 0x63, 0x0A, 0xF0, 0x9F, 0x98, 0x0A, 0x64]
        try FileSystem.atomicWrite(bytes0, to: path)
        ids = []
        try ParallelEncoder(tokenizer: tok, threads: 2).encodeText(file: path, blockSize: 4096) { ids += $0 }
        XCTAssertTrue(ids.map(Int.init) == tok.encode(String(decoding: bytes0, as: UTF8.self)), "invalid UTF-8 handling differs")
        // Cut points: only after a newline between two non-space characters.
        let bytes = Array("a\nb \nc\n d日\n本\u{3000}\nx".utf8)
        let safe = bytes.withUnsafeBufferPointer { b in
            (0..<b.count).filter { b[$0] == 0x0A && ParallelEncoder.isSafeAround(b.baseAddress!, $0, b.count) }
        }
        XCTAssertEqual(safe, [1, 12])
    }
}
