import XCTest
@testable import Core

/// The robustness issue's cases, each reproduced through the built executable as a user meets it: pipes as inputs,
/// outputs that are not regular files, absurd sizes, non-finite options. (Duplicate inputs are in IngestTests, the
/// batch-invariant index in IndexTests, hostile safetensors headers in the Index and Train tests.)
final class RobustnessTests: XCTestCase {
    var root: String!
    var binary: String!

    override func setUpWithError() throws {
        guard let b = SharedData.pipelineBinary() else { throw XCTSkip(SharedData.binaryAbsentMessage) }
        binary = b
        root = NSTemporaryDirectory() + "robust-\(UUID().uuidString)"
        try FileSystem.makeDirectory(root)
    }

    override func tearDown() { if let root { FileSystem.remove(root) } }

    /// Runs a bash command line in `root` with `$P` set to the executable; returns status, stdout and stderr.
    func sh(_ script: String) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", script]
        p.currentDirectoryURL = URL(fileURLWithPath: root)
        var env = ProcessInfo.processInfo.environment
        env["P"] = binary
        env["PIPELINE_RUN_PARENT"] = nil
        p.environment = env
        let out = root + "/.out-\(UUID().uuidString)", err = root + "/.err-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: out, contents: nil)
        FileManager.default.createFile(atPath: err, contents: nil)
        defer { FileSystem.remove(out); FileSystem.remove(err) }
        p.standardOutput = FileHandle(forWritingAtPath: out)
        p.standardError = FileHandle(forWritingAtPath: err)
        try p.run()
        p.waitUntilExit()
        return (p.terminationStatus, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// The lines of stderr, which must be exactly one `error:` line.
    func assertOneErrorLine(_ err: String, contains: String, file: StaticString = #filePath, line: UInt = #line) {
        let lines = err.split(separator: "\n", omittingEmptySubsequences: true)
        XCTAssertEqual(lines.count, 1, err, file: file, line: line)
        XCTAssertTrue(lines.first?.hasPrefix("error: ") == true && err.contains(contains), err, file: file, line: line)
    }

    // Item 2: a pipe, FIFO or process substitution is read once and not seen as empty.
    func testPipesAreReadOnce() throws {
        var r = try sh(#"printf 'hello\n' | "$P" pack --quiet /dev/stdin out.zst && zstdcat out.zst"#)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "hello\n")
        r = try sh(#"mkfifo f && (printf 'one two\n' > f &) && "$P" pack --quiet f fifo.zst && zstdcat fifo.zst"#)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "one two\n")
        // ingest, which reads each file twice, says so
        r = try sh(#"printf 'text' | "$P" ingest /dev/stdin --workdir wi"#)
        XCTAssertEqual(r.status, 2, r.err)
        assertOneErrorLine(r.err, contains: "not a regular file")
        // bpe-train counts the words it was piped; process substitution works as a file argument.
        let text = String(repeating: "low lower lowest newer wider\n", count: 50)
        try FileSystem.atomicWrite(text, to: root + "/words.txt")
        r = try sh(#"cat words.txt | "$P" bpe-train /dev/stdin --workdir w1 --vocab-size 300 --min-frequency 2 -q"#
                   + #" && "$P" bpe-train <(cat words.txt) --workdir w2 --vocab-size 300 --min-frequency 2 -q"#
                   + #" && "$P" bpe-train words.txt --workdir w3 --vocab-size 300 --min-frequency 2 -q"#)
        XCTAssertEqual(r.status, 0, r.err)
        let fromFile = try Data(contentsOf: URL(fileURLWithPath: root + "/w3/tokenize/tokenizer.json.zst"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: root + "/w1/tokenize/tokenizer.json.zst")), fromFile)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: root + "/w2/tokenize/tokenizer.json.zst")), fromFile)
        // No temporary copy is left behind.
        let left = (try FileManager.default.contentsOfDirectory(atPath: root + "/w1")).filter { $0.hasPrefix(".tmp-") }
        XCTAssertEqual(left, [])
        // tokenize --corpus from a pipe writes the same tokens as from the file.
        r = try sh(#""$P" tokenize --workdir w3 --corpus words.txt -q && cp w3/tokens/tokens.bin.zst a.zst"#
                   + #" && "$P" tokenize --workdir w3 --corpus <(cat words.txt) -q && cmp a.zst w3/tokens/tokens.bin.zst"#)
        XCTAssertEqual(r.status, 0, r.err + r.out)
    }

    // Item 3: the atomic writer replaces only regular files; a symbolic link is written through.
    func testOutputsThatAreNotRegularFilesAreRefused() throws {
        try FileSystem.atomicWrite("data\n", to: root + "/in.txt")
        var r = try sh(#""$P" pack --quiet in.txt /dev/null; echo "status $?"; test -c /dev/null && echo still-a-device"#)
        XCTAssertTrue(r.out.contains("status 1") && r.out.contains("still-a-device"), r.out + r.err)
        assertOneErrorLine(r.err, contains: "/dev/null: is a character device, not a regular file")
        r = try sh(#"mkdir d && "$P" pack --quiet in.txt d"#)
        XCTAssertEqual(r.status, 1)
        assertOneErrorLine(r.err, contains: "d: is a directory")
        r = try sh(#"touch target.zst && ln -s target.zst link.zst && "$P" pack --quiet in.txt link.zst"#
                   + #" && test -L link.zst && zstdcat target.zst"#)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "data\n")
    }

    // Item 6: sizes read from the command line or a file are checked before anything is allocated.
    func testAbsurdSizesAreOneErrorLine() throws {
        try FileSystem.atomicWrite(String(repeating: "low lower lowest newer wider\n", count: 400), to: root + "/words.txt")
        var r = try sh(#""$P" bpe-train words.txt --workdir w --vocab-size 300 --min-frequency 2 -q"#
                       + #" && "$P" tokenize --workdir w --corpus words.txt -q"#)
        XCTAssertEqual(r.status, 0, r.err)
        r = try sh(#""$P" pretrain --config tiny --batch 100000000 --steps 1 --workdir w"#)
        XCTAssertEqual(r.status, 1, r.err)
        assertOneErrorLine(r.err, contains: "the machine has")
        XCTAssertFalse(FileSystem.exists(root + "/w/pretrain"))
        // Item 8: a diverging run stops with the step named, not at the end with a NaN model.
        r = try sh(#""$P" pretrain --config tiny --lr 1e30 --steps 20 --batch 2 --seq 16 -q --workdir w"#)
        XCTAssertEqual(r.status, 1, r.err)
        assertOneErrorLine(r.err, contains: "at step")
        try FileSystem.makeDirectory(root + "/m")
        try FileSystem.atomicWrite(#"{"model_type":"gpt2","vocab_size":1000000000,"n_positions":1024,"n_embd":768,"#
                                   + #""n_layer":12,"n_head":12}"#, to: root + "/m/config.json")
        try FileSystem.atomicWrite("", to: root + "/m/model.safetensors")
        r = try sh(#""$P" generate --model m --prompt hi --max-new-tokens 1"#)
        XCTAssertEqual(r.status, 1, r.err)
        assertOneErrorLine(r.err, contains: "the machine has")
        try FileSystem.atomicWrite(#"{"model_type":"gpt2","vocab_size":50257,"n_positions":1024,"n_embd":768,"#
                                   + #""n_layer":12,"n_head":12,"layer_norm_epsilon":-1}"#, to: root + "/m/config.json")
        r = try sh(#""$P" generate --model m --prompt hi --max-new-tokens 1"#)
        XCTAssertEqual(r.status, 1, r.err)
        assertOneErrorLine(r.err, contains: "layer_norm_epsilon must be a positive finite number")
    }

    // Item 10: smaller cases.
    func testSmallerCasesSayWhatIsWrong() throws {
        try FileSystem.atomicWrite(String(repeating: "low lower lowest newer wider\n", count: 50), to: root + "/words.txt")
        var r = try sh(#""$P" bpe-train words.txt --workdir w --vocab-size 300 --min-frequency 2 -q"#)
        XCTAssertEqual(r.status, 0, r.err)
        // decode --file with a non-number names the file and line
        try FileSystem.atomicWrite("1 2\n3 x4\n", to: root + "/ids.txt")
        r = try sh(#""$P" decode --workdir w --file ids.txt"#)
        XCTAssertEqual(r.status, 1)
        assertOneErrorLine(r.err, contains: "ids.txt:2: not a token id: x4")
        // an output folder that is a file
        try FileSystem.atomicWrite("x", to: root + "/taken")
        XCTAssertThrowsError(try FileSystem.makeDirectory(root + "/taken")) {
            XCTAssertTrue("\($0)".contains("taken: exists and is not a directory"), "\($0)")
        }
        // a path starting with a dash goes after --
        r = try sh(#"printf 'text\n' > ./-dash.txt && "$P" ingest -dash.txt --workdir w2"#)
        XCTAssertEqual(r.status, 2)
        assertOneErrorLine(r.err, contains: "after --")
        r = try sh(#""$P" ingest --workdir w2 -q -- -dash.txt"#)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(FileSystem.exists(root + "/w2/ingest/documents.jsonl.zst"))
        // --version names the libraries in use
        r = try sh(#""$P" --version"#)
        XCTAssertEqual(r.status, 0, r.err)
        for lib in ["poppler", "zstd", "SQLite", "OpenBLAS"] { XCTAssertTrue(r.out.contains(lib), r.out) }
    }

    // Item 10: a stage command takes the work directory's lock; a second writer fails at once.
    func testSingleStageCommandsTakeTheLock() throws {
        try FileSystem.atomicWrite(String(repeating: "low lower lowest newer wider\n", count: 50), to: root + "/words.txt")
        // flock(1) holds the lock the way a running stage would while bpe-train tries to write.
        let r = try sh(#"mkdir -p w && touch w/.lock && flock w/.lock -c '"$P" bpe-train words.txt --workdir w "#
                       + #"--vocab-size 300 --min-frequency 2 -q'"#)
        XCTAssertEqual(r.status, 1, r.err)
        assertOneErrorLine(r.err, contains: "another pipeline run holds the lock")
        XCTAssertFalse(FileSystem.exists(root + "/w/tokenize"))
    }

    // Item 8: a non-finite option is a usage error naming the option (exit 2).
    func testNonFiniteOptionsAreUsageErrors() throws {
        for (args, option) in [("pretrain --lr inf", "--lr"), ("sft --lora-alpha nan", "--lora-alpha"),
                               ("grpo --reward-weights nan,1,1,1", "--reward-weights"),
                               ("generate --prompt x --temperature nan", "--temperature")] {
            let r = try sh(#""$P" "# + args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.err)")
            XCTAssertTrue(r.err.contains(option), "\(args): \(r.err)")
        }
    }
}
