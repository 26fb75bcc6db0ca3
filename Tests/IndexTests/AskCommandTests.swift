import Core
import Foundation
import XCTest

/// `pipeline ask` as a user runs it (the built executable): ingest → chunk → index of committed text, a tokenizer
/// trained on it, the tiny GPT-2 fixture as the model; one question and a file of questions whose answers
/// `pipeline score` takes.
final class AskCommandTests: XCTestCase {
    var root: String!
    var binary: String!

    override func setUpWithError() throws {
        guard let b = SharedData.pipelineBinary() else { throw XCTSkip(SharedData.binaryAbsentMessage) }
        binary = b
        root = NSTemporaryDirectory() + "ask-cli-\(UUID().uuidString)"
        try FileSystem.makeDirectory(root + "/in")
    }

    override func tearDown() { if let root { FileSystem.remove(root) } }

    @discardableResult
    func run(_ args: [String], expect status: Int32 = 0) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: root)  // short source names ("in/…") in the prompts
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: o, as: UTF8.self)
        XCTAssertEqual(p.terminationStatus, status, "\(args.prefix(2)): \(String(decoding: e, as: UTF8.self))")
        return text
    }

    func testAskRetrievesTheAnswerChunkAndScoreTakesTheAnswers() throws {
        let model = try modelFolder()
        for (name, text) in AskPromptTests.chunks {
            try FileSystem.atomicWrite(text + "\n", to: root + "/in/\(name).txt")
        }
        let wd = root + "/work"
        let w = ["--workdir", wd, "-q"]
        try run(["ingest", "in"] + w)
        try run(["chunk", "--size", "400", "--overlap", "0"] + w)
        try run(["index", "--model", model] + w)
        try run(["bpe-train", "--vocab-size", "900", "--min-frequency", "1"] + w)
        let tiny = SharedData.packageRoot() + "/Tests/TrainTests/Fixtures/gpt2_tiny/model"

        let question = "When do emperor penguins breed?"
        let json = try run(["ask", question, "--model", tiny, "-k", "3", "--max-new-tokens", "4", "--json"] + w)
        let a = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], json)
        let sources = try XCTUnwrap(a["sources"] as? [[String: Any]])
        let first = try XCTUnwrap(sources.first, "no source fits: \(json)")
        XCTAssertEqual(first["source"] as? String, "in/emperor.txt", "\(sources)")
        XCTAssertEqual(sources.map { $0["rank"] as? Int }, (1...sources.count).map { $0 })
        for key in ["chunk_id", "source", "page", "score"] { XCTAssertNotNil(first[key], key) }
        let promptTokens = try XCTUnwrap(a["prompt_tokens"] as? Int)
        XCTAssertLessThanOrEqual(promptTokens, 64 - 4, "the prompt leaves room for the new tokens")
        let prompt = try XCTUnwrap(a["prompt"] as? String)
        XCTAssertTrue(prompt.hasPrefix("[1] (in/emperor.txt, page 0)\n"), prompt)
        XCTAssertTrue(prompt.hasSuffix("Question: \(question)\nAnswer:"), prompt)
        XCTAssertNotNil(a["answer"] as? String)

        let plain = try run(["ask", question, "--model", tiny, "-k", "3", "--max-new-tokens", "4"] + w)
        XCTAssertTrue(plain.contains("\nSources:\n[1] "), plain)

        // --template: the user's prompt around the numbered context; --adapter: a PEFT LoRA on the model.
        let template = root + "/template.txt"
        try FileSystem.atomicWrite("Use the notes.\n{context}\nQ: {question}\nA:", to: template)
        let lora = SharedData.packageRoot() + "/Tests/TrainTests/Fixtures/lora_tiny/adapter"
        let custom = try run(["ask", question, "--model", tiny, "--adapter", lora, "--template", template, "-k", "2",
                              "--max-new-tokens", "4", "--json"] + w)
        let c = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(custom.utf8)) as? [String: Any], custom)
        let customPrompt = try XCTUnwrap(c["prompt"] as? String)
        XCTAssertTrue(customPrompt.hasPrefix("Use the notes.\n[1] (in/emperor.txt, page 0)\n"), customPrompt)
        XCTAssertTrue(customPrompt.hasSuffix("\nQ: \(question)\nA:"), customPrompt)
        XCTAssertNotNil(c["answer"] as? String)
        try run(["ask", question, "--model", tiny, "--adapter", root + "/no-such-adapter"] + w, expect: 1)

        let questions = [("q1", question), ("q2", "What causes the tides?"), ("q3", "What does LoRA train?")]
        let qfile = root + "/questions.jsonl", rfile = root + "/refs.jsonl", out = root + "/answers.jsonl"
        try FileSystem.atomicWrite(questions.map { "{\"id\": \"\($0.0)\", \"question\": \"\($0.1)\"}\n" }.joined(),
                                   to: qfile)
        try FileSystem.atomicWrite(questions.map { "{\"id\": \"\($0.0)\", \"reference\": \"two months\"}\n" }.joined(),
                                   to: rfile)
        let written = try run(["ask", "--file", qfile, "--output", out, "--model", tiny, "--max-new-tokens", "4"] + w)
        XCTAssertEqual(written, "", "--output: nothing on stdout")
        let records = try String(decoding: ByteReader(path: out).readAll(), as: UTF8.self).split(separator: "\n").map {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertEqual(records.map { $0["id"] as? String }, ["q1", "q2", "q3"])
        XCTAssertEqual(records.map { $0["question"] as? String }, questions.map(\.1))
        XCTAssertTrue(records.allSatisfy { $0["answer"] is String && $0["sources"] is [Any] })
        let tides = try XCTUnwrap((records[1]["sources"] as? [[String: Any]])?.first?["source"] as? String)
        XCTAssertTrue(tides.hasSuffix("tides.txt"), tides)
        // The same question alone and in the batch gets the same (greedy) answer.
        XCTAssertEqual(records[0]["answer"] as? String, a["answer"] as? String)

        let score = try run(["score", "--predictions", out, "--references", rfile, "--metrics", "qa,bleu", "--json"])
        let s = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(score.utf8)) as? [String: Any], score)
        XCTAssertNotNil(s["qa"], score)
    }
}
