import XCTest
@testable import Core
@testable import Orchestration

/// `pipeline run` as a user runs it: the built executable (.build/debug/pipeline, built by
/// `swift build --build-tests`), on small data in a temporary folder.
final class RunProcessTests: XCTestCase {
    var root: String!
    var binary: String!

    override func setUpWithError() throws {
        guard let b = SharedData.pipelineBinary() else { throw XCTSkip(SharedData.binaryAbsentMessage) }
        binary = b
        root = NSTemporaryDirectory() + "run-\(UUID().uuidString)"
        try FileSystem.makeDirectory(root + "/data")
        // Small deterministic inputs: a text corpus and GSM8K splits.
        var text = ""
        var x: UInt64 = 42
        let words = ["the", "train", "leaves", "at", "noon", "and", "arrives", "later", "with", "seven", "cars",
                     "of", "apples", "sold", "each", "morning", "by", "Mira", "who", "counts", "rolls", "dollars"]
        for _ in 0..<4000 {
            var line: [String] = []
            for _ in 0..<12 { x = x &* 6364136223846793005 &+ 1442695040888963407; line.append(words[Int(x >> 33) % words.count]) }
            text += line.joined(separator: " ") + ".\n"
        }
        try FileSystem.atomicWrite(text, to: root + "/data/corpus.txt")
        var train = "", test = ""
        for i in 0..<60 {
            let rec = "{\"question\": \"Q\(i): what is \(i) + \(i)?\", \"answer\": \"\(i) + \(i) = <<\(i)+\(i)=\(2 * i)>>\(2 * i).\\n#### \(2 * i)\"}\n"
            if i % 5 == 0 { test += rec } else { train += rec }
        }
        try FileSystem.atomicWrite(train, to: root + "/data/train.jsonl")
        try FileSystem.atomicWrite(test, to: root + "/data/test.jsonl")
    }

    override func tearDown() { if let root { FileSystem.remove(root) } }

    func writeConfig(_ name: String) throws -> String {
        let path = root + "/\(name).toml"
        try FileSystem.atomicWrite("""
        [run]
        workdir = "\(root!)/\(name)-work"
        runs = "\(root!)/\(name)-runs"
        [inputs]
        gsm8k = ["\(root!)/data/train.jsonl", "\(root!)/data/test.jsonl"]
        [bpe-train]
        files = ["\(root!)/data/corpus.txt"]
        vocab_size = 400
        min_frequency = 2
        threads = 1
        [tokenize]
        corpus = "\(root!)/data/corpus.txt"
        threads = 1
        """, to: path)
        return path
    }

    /// Runs `pipeline args…` (or `executable`), in `directory` when given; stdout and stderr together.
    @discardableResult
    func run(_ args: [String], expect: Int32? = 0, executable: String? = nil,
             in directory: String? = nil) throws -> (Int32, String) {
        let (status, text) = try runProcess(executable ?? binary, args, in: directory)
        if let e = expect { XCTAssertEqual(status, e, text) }
        return (status, text)
    }

    /// Every output file of the stages (path → digest), and the manifests without their times. Two things may
    /// legitimately differ between two work directories and are normalised: the work directory's own path (in
    /// JSON files such as adapter_config.json's base_model_name_or_path) and the per-step timings of training
    /// metrics (TRL's step_time, generation_time; SFT's seconds), which record how long a step took.
    func snapshot(_ work: String) throws -> [String: String] {
        var result: [String: String] = [:]
        let stages = try FileManager.default.contentsOfDirectory(atPath: work).filter { !$0.hasPrefix(".") }.sorted()
        for stage in stages {
            for f in FileSystem.listFiles(work + "/" + stage) {
                let p = work + "/" + stage + "/" + f
                if f == "manifest.json" {
                    var m = try Manifest.load(path: p)
                    m.started = ""; m.finished = ""; m.seconds = 0
                    // Work counters (how many vectors this run computed or reused) are, like times, not artifacts.
                    m.records["embedded"] = nil; m.records["reused"] = nil
                    // Inputs by name (a JSON input holding the work directory's path is compared as the output
                    // of the stage that wrote it).
                    m.inputs = m.inputs.map {
                        let json = $0.path.hasSuffix(".json")
                        return FileRecord(path: ($0.path as NSString).lastPathComponent, bytes: json ? 0 : $0.bytes, sha256: json ? "" : $0.sha256)
                    }
                    m.outputs = try m.outputs.map {
                        FileRecord(path: $0.path, bytes: 0, sha256: try digest(work + "/" + stage + "/" + $0.path, work: work))
                    }
                    m.parameters = m.parameters.mapValues { $0.replacingOccurrences(of: work, with: "WORK") }
                    result[stage + "/" + f] = String(decoding: try JSON.encode(m), as: UTF8.self)
                } else {
                    result[stage + "/" + f] = try digest(p, work: work)
                }
            }
        }
        return result
    }

    func digest(_ path: String, work: String) throws -> String {
        if path.hasSuffix("metrics.jsonl.zst") {
            var lines: [String] = []
            try ByteReader(path: path).forEachLine { line, _ in
                var obj = try JSONSerialization.jsonObject(with: Data(buffer: line)) as! [String: Any]
                for k in ["step_time", "generation_time", "seconds"] { obj[k] = nil }
                lines.append(String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self))
            }
            return Hashing.sha256(lines.joined(separator: "\n"))
        }
        if path.hasSuffix(".json") {
            return Hashing.sha256(try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: work, with: "WORK"))
        }
        return try Hashing.sha256(path: path)
    }

    /// Robustness issue, item 10: an out-of-range value anywhere in the config stops the run before any stage ran.
    func testBadConfigValueFailsBeforeAnyStageRuns() throws {
        let cfg = try writeConfig("bad")
        try FileSystem.atomicWrite(try String(contentsOfFile: cfg, encoding: .utf8) + "\n[pretrain]\nlr = -1\n", to: cfg)
        let (_, out) = try run(["run", "--config", cfg], expect: 2)
        XCTAssertTrue(out.contains("[pretrain]") && out.contains("--lr"), out)
        XCTAssertFalse(FileSystem.exists(root + "/bad-work/tokenize"), "no stage ran")
    }

    func testRunOrderUntilOnlyAndUpToDate() throws {
        let cfg = try writeConfig("a")
        var (_, out) = try run(["run", "--config", cfg, "--until", "tokenize"])
        XCTAssertTrue(out.contains("ingest: not needed"), out)
        XCTAssertTrue(out.contains("gsm8k: ran"), out)
        XCTAssertTrue(out.contains("decontaminate: ran"), out)
        XCTAssertTrue(out.contains("bpe-train: ran"), out)
        XCTAssertTrue(out.contains("tokenize: ran"), out)
        XCTAssertFalse(out.contains("chunk:"), out)
        let runs = RunReport.runNames(runs: root + "/a-runs")
        XCTAssertEqual(runs.count, 1)
        let s = try RunSummary.load(runDir: root + "/a-runs/" + runs[0])
        XCTAssertEqual(s.status, "ok")
        XCTAssertEqual(s.stages.map(\.stage), RunStages.names)
        XCTAssertEqual(s.stages.map(\.status), ["not needed", "not needed", "ran", "ran", "ran", "ran", "not selected",
                                                 "not selected", "not selected", "not selected", "not selected",
                                                 "not selected"])
        XCTAssertEqual(s.stages[3].records["records"], 48, "decontaminate checked the train split's records")
        XCTAssertTrue((257...400).contains(s.stages[4].records["vocab_size"] ?? 0))
        XCTAssertGreaterThan(s.stages[5].records["tokens"] ?? 0, 0)
        let dir = root + "/a-runs/" + runs[0]
        XCTAssertTrue(FileSystem.exists(dir + "/bpe-train.log"))
        XCTAssertTrue(FileSystem.exists(dir + "/manifests/tokenize.json"))
        XCTAssertTrue(FileSystem.exists(dir + "/report.html"))
        let firstReport = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)

        (_, out) = try run(["run", "--config", cfg, "--until", "tokenize"])
        for stage in ["gsm8k", "decontaminate", "bpe-train", "tokenize"] {
            XCTAssertTrue(out.contains("\(stage): up to date"), out)
        }

        (_, out) = try run(["run", "--config", cfg, "--only", "gsm8k", "bpe-train", "--force", "gsm8k"])
        XCTAssertTrue(out.contains("bpe-train: up to date"), out)
        XCTAssertTrue(out.contains("gsm8k: ran"), out)
        XCTAssertFalse(out.contains("tokenize:"), out)
        let html = try String(contentsOfFile: root + "/a-runs/" + RunReport.runNames(runs: root + "/a-runs").last! + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("Comparison with the previous run"))
        XCTAssertTrue(html.contains("<polyline"))
        // Robustness issue, item 7: re-rendering the first run's report after later runs gives the same page.
        try FileSystem.atomicWrite("a new corpus line\n", to: root + "/data/corpus.txt")
        try run(["run", "--config", cfg, "--until", "tokenize", "--no-report"])
        try run(["report", "--config", cfg, dir])
        XCTAssertEqual(try String(contentsOfFile: dir + "/report.html", encoding: .utf8), firstReport)

        // Usage errors exit 2; a failing stage stops the run, is named, and exits 1.
        try run(["run", "--config", cfg, "--until", "nonsense"], expect: 2)
        try run(["run", "--config", cfg, "--only", "gsm8k", "--until", "gsm8k"], expect: 2)
        // Bad records are skipped (exit 3: the run goes on); a missing input fails the stage.
        try FileSystem.atomicWrite("not json\n", to: root + "/data/test.jsonl")
        (_, out) = try run(["run", "--config", cfg, "--until", "gsm8k"])
        XCTAssertTrue(out.contains("gsm8k: ran with skips"), out)
        try FileManager.default.removeItem(atPath: root + "/data/test.jsonl")
        (_, out) = try run(["run", "--config", cfg, "--until", "gsm8k"], expect: 1)
        XCTAssertTrue(out.contains("stage gsm8k failed"), out)
        let last = try RunSummary.load(runDir: root + "/a-runs/" + RunReport.runNames(runs: root + "/a-runs").last!)
        XCTAssertEqual(last.failedStage, "gsm8k")
        XCTAssertEqual(last.status, "failed")
    }

    /// The repository's pipeline.toml with the work and runs folders moved under the test's temporary folder
    /// (`name`-work, `name`-runs); nil (the test skips) without the embedding model.
    func demoConfig(_ name: String) throws -> String {
        let pkg = SharedData.packageRoot()
        guard FileSystem.exists(pkg + "/models/all-MiniLM-L6-v2/model.safetensors") else {
            throw XCTSkip("models/all-MiniLM-L6-v2 is absent (run `make model` first): skipped")
        }
        var text = try String(contentsOfFile: pkg + "/pipeline.toml", encoding: .utf8)
        text = text.replacingOccurrences(of: "workdir = \"artifacts\"", with: "workdir = \"\(root!)/\(name)-work\"")
        text = text.replacingOccurrences(of: "runs = \"runs\"", with: "runs = \"\(root!)/\(name)-runs\"")
        try FileSystem.atomicWrite(text, to: root + "/\(name).toml")
        return root + "/\(name).toml"
    }

    /// `pipeline ARGS` started in the package root (where pipeline.toml's relative paths point).
    func runInPackage(_ args: [String], killAfter: Double? = nil) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: SharedData.packageRoot())
        let out = Pipe()
        p.standardOutput = killAfter == nil ? out : FileHandle.nullDevice
        p.standardError = killAfter == nil ? out : FileHandle.nullDevice
        try p.run()
        if let killAfter {
            Thread.sleep(forTimeInterval: killAfter)
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
            return (p.terminationStatus, "")
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The repository's pipeline.toml on data/, as `make demo` runs it: every stage runs,
    /// and a second run finds every one up to date.
    func testDemoConfigRunsEveryStageThenIsUpToDate() throws {
        let cfg = try demoConfig("demo")
        var (code, out) = try runInPackage(["run", "--config", cfg])
        XCTAssertEqual(code, 0, out)
        let runs = RunReport.runNames(runs: root + "/demo-runs")
        let s = try RunSummary.load(runDir: root + "/demo-runs/" + runs[0])
        for o in s.stages {
            XCTAssertEqual(o.status, "ran", "\(o.stage)\n\(out)")
        }
        let records = Dictionary(uniqueKeysWithValues: s.stages.map { ($0.stage, $0.records) })
        XCTAssertEqual(records["ingest"]?["skipped"], 0)
        XCTAssertGreaterThanOrEqual(records["ingest"]?["documents"] ?? 0, 4)
        XCTAssertGreaterThan(records["chunk"]?["chunks"] ?? 0, 0)
        XCTAssertEqual(records["index"]?["chunks"], records["chunk"]?["chunks"])
        XCTAssertEqual(records["pretrain"]?["steps"], 30)
        XCTAssertEqual(records["eval"]?["questions"], 4)
        XCTAssertTrue(FileSystem.exists(root + "/demo-work/index/index.sqlite.zst"))
        // dedup runs after ingest and removes the planted near duplicate (data/papers/field-notes.v2.md); the
        // text readers take its outputs.
        XCTAssertEqual(s.stages.map(\.stage).prefix(5), ["ingest", "dedup", "gsm8k", "decontaminate", "bpe-train"])
        XCTAssertEqual(records["dedup"]?["near"], 1)
        XCTAssertEqual(records["dedup"]?["exact"], 0)
        let work = Workdir(path: root + "/demo-work")
        XCTAssertEqual(work.textSource, "dedup")
        // Retrieval reads dedup's text; training reads decontaminate's filtered copy of it.
        let readers = ["decontaminate": "dedup/pages.jsonl.zst", "tokenize": "decontaminate/corpus.txt.zst",
                       "tokens": "decontaminate/corpus.txt.zst", "chunk": "dedup/pages.jsonl.zst",
                       "index": "dedup/documents.jsonl.zst"]
        for (stage, file) in readers {
            let inputs = work.manifest(stage)?.inputs.map(\.path) ?? []
            XCTAssertTrue(inputs.contains { $0.hasSuffix("/" + file) }, "\(stage) reads \(file): \(inputs)")
        }
        let clusters = try JSONLReader.readAll(DuplicateCluster.self,
                                               path: work.stageDir("dedup") + "/clusters.jsonl.zst")
        XCTAssertEqual(clusters.map(\.kept.source), ["data/papers/field-notes.md"])
        XCTAssertEqual(clusters.flatMap(\.removed).map(\.source), ["data/papers/field-notes.v2.md"])
        let html = try String(contentsOfFile: root + "/demo-runs/" + runs[0] + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("Removed <b>1 of"), "dedup section")
        XCTAssertTrue(html.contains("Largest clusters") && html.contains("field-notes.v2.md"), "dedup clusters")
        XCTAssertTrue(html.contains("Documents: <b>"), "ingest section")
        XCTAssertTrue(html.contains("bytes of text per token"), "tokens section")
        XCTAssertTrue(html.contains("Chunk length"), "chunk section")
        XCTAssertTrue(html.contains("Sample answers"), "eval section")
        XCTAssertEqual(records["grpo"]?["steps"], 6)
        XCTAssertTrue(html.contains("Sample completions (step"), "grpo section")
        XCTAssertTrue(html.contains("<h3>reward</h3>"), "grpo reward curve")
        // The demo's one planted leak (a test question in field-notes.md) is caught and kept out of training.
        XCTAssertEqual(records["decontaminate"]?["contaminated_documents"], 1)
        XCTAssertEqual(records["decontaminate"]?["contaminated_records"], 0)
        let leaks = try JSONLReader.readAll(OverlapRecord.self,
                                            path: root + "/demo-work/decontaminate/overlaps.jsonl.zst")
        XCTAssertEqual(leaks.map(\.trainSource), ["data/papers/field-notes.md"])
        XCTAssertEqual(leaks.map(\.evalID), ["test-0"])
        let corpus = String(decoding: try ByteReader(path: root + "/demo-work/decontaminate/corpus.txt.zst").readAll(),
                            as: UTF8.self)
        XCTAssertFalse(corpus.contains("A baker uses 3 eggs per cake"))
        XCTAssertTrue(html.contains("share a 13-gram with <b>1 evaluation items</b>"), "decontaminate section")
        XCTAssertTrue(html.contains("Questions decontaminated: the training data was checked"), "eval section")

        // search finds the index's own model (recorded by the index stage) from any directory.
        let (_, found) = try run(["search", "how are pages split", "--mode", "dense", "-k", "1", "--json",
                                  "--workdir", root + "/demo-work"], in: root)
        XCTAssertTrue(found.contains("\"chunk_id\""), found)

        (code, out) = try runInPackage(["run", "--config", cfg, "--no-report"])
        XCTAssertEqual(code, 0, out)
        let again = try RunSummary.load(runDir: root + "/demo-runs/" + RunReport.runNames(runs: root + "/demo-runs").last!)
        for o in again.stages { XCTAssertEqual(o.status, "up to date", "\(o.stage)\n\(out)") }
    }

    /// SIGKILL `pipeline run` at random moments across every stage of the demo (ingest workers, tokenizer,
    /// SQLite index, pretraining checkpoints, eval), then run to the end: every artifact equals an uninterrupted
    /// run's byte for byte, no temporary folder is left, and the SQLite index passes `PRAGMA integrity_check`.
    func testKillAcrossEveryStageThenResumeGivesIdenticalArtifacts() throws {
        let clean = try demoConfig("full-clean")
        let t0 = Date()
        var (code, out) = try runInPackage(["run", "--config", clean, "--no-report"])
        XCTAssertEqual(code, 0, out)
        let full = Date().timeIntervalSince(t0)
        let expected = try snapshot(root + "/full-clean-work")
        for stage in ["ingest", "dedup", "gsm8k", "decontaminate", "tokenize", "tokens", "chunk", "index", "pretrain",
                      "eval"] {
            XCTAssertNotNil(expected[stage + "/manifest.json"], stage)
        }
        let cfg = try demoConfig("full")
        var seed = UInt64.random(in: 0...UInt64.max)
        print("full kill test seed \(seed), uninterrupted run \(full) s")
        for i in 0..<6 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let delay = full * Double(seed >> 11) / Double(1 << 53)
            _ = try runInPackage(["run", "--config", cfg, "--no-report"] + (i % 3 == 2 ? ["--force", "all"] : []), killAfter: delay)
            Thread.sleep(forTimeInterval: 0.3) // the orphaned stage and its workers receive their parent-death SIGKILL
        }
        (code, out) = try runInPackage(["run", "--config", cfg, "--no-report"])
        XCTAssertEqual(code, 0, out)
        let got = try snapshot(root + "/full-work")
        XCTAssertEqual(got.keys.sorted(), expected.keys.sorted())
        for k in expected.keys.sorted() where got[k] != expected[k] {
            XCTFail("\(k) differs after kills and resume:\n\(expected[k] ?? "-")\n\(got[k] ?? "-")")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: root + "/full-work").filter { $0.hasPrefix(".tmp-") || $0.hasPrefix(".old-") }
        XCTAssertEqual(leftovers, [])
        let (_, check) = try run([root + "/full-work/index/index.sqlite", "PRAGMA integrity_check;"],
                                 executable: "/usr/bin/sqlite3")
        XCTAssertEqual(check.trimmingCharacters(in: .whitespacesAndNewlines), "ok")
    }

    /// A disk that fills up mid-write (simulated with a file-size limit, so the write fails with EFBIG as it would
    /// with ENOSPC): one clear error line naming the file, exit 1, and the previous outputs intact and up to date.
    func testWriteFailureKeepsThePreviousOutput() throws {
        let cfg = try writeConfig("f")
        try run(["run", "--config", cfg, "--until", "tokenize", "--no-report"])
        let work = root + "/f-work"
        let before = try snapshot(work)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", "trap '' XFSZ; ulimit -f 8; exec \"$0\" tokenize --corpus \"$1\" --workdir \"$2\" --force -q",
                       binary, root + "/data/corpus.txt", work]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1, text)
        let errors = text.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        XCTAssertEqual(errors.count, 1, text)
        XCTAssertTrue(errors.first?.contains("tokens.bin.zst: write failed: File too large") ?? false, text)
        XCTAssertEqual(try snapshot(work), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: work).filter { $0.hasPrefix(".tmp-") }, [])
        let (_, status) = try run(["status", "--workdir", work])
        XCTAssertTrue(status.contains("tokens         up to date"), status)
    }

    func testLockContention() throws {
        let cfg = try writeConfig("l")
        var held: WorkdirLock? = try WorkdirLock(workdir: root + "/l-work", wait: false)
        let (_, out) = try run(["run", "--config", cfg, "--until", "bpe-train"], expect: 1)
        XCTAssertTrue(out.contains("another pipeline run holds the lock"), out)
        // --wait: blocks until the holder lets go, then runs.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["run", "--config", cfg, "--until", "bpe-train", "--wait"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        Thread.sleep(forTimeInterval: 1.0)
        XCTAssertTrue(p.isRunning)
        XCTAssertFalse(FileSystem.exists(root + "/l-work/tokenize/manifest.json"))
        withExtendedLifetime(held) {}
        held = nil
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertTrue(FileSystem.exists(root + "/l-work/tokenize/manifest.json"))
    }

    /// SIGKILL `pipeline run` at random moments across the stages, re-run to the end: the artifacts equal an
    /// uninterrupted run's byte for byte and no temporary folder is left.
    func testKillAndResumeGivesIdenticalArtifacts() throws {
        let clean = try writeConfig("clean")
        let t0 = Date()
        try run(["run", "--config", clean, "--no-report", "--until", "tokenize"])
        let full = Date().timeIntervalSince(t0)
        let expected = try snapshot(root + "/clean-work")
        XCTAssertEqual(expected.count, 13, "\(expected.keys.sorted())")

        let cfg = try writeConfig("k")
        var rng = SystemRandomNumberGenerator()
        var seed = UInt64.random(in: 0...UInt64.max, using: &rng)
        print("kill test seed \(seed), uninterrupted run \(full) s")
        var kills = 0
        for i in 0..<8 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let delay = full * Double(seed >> 11) / Double(1 << 53) * 1.1
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            // Every other attempt forces everything, so kills also land inside committed stages' rewrites.
            p.arguments = ["run", "--config", cfg, "--no-report", "--until", "tokenize"] + (i % 2 == 1 ? ["--force", "all"] : [])
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            Thread.sleep(forTimeInterval: delay)
            if p.isRunning { kill(p.processIdentifier, SIGKILL); kills += 1 }
            p.waitUntilExit()
            Thread.sleep(forTimeInterval: 0.2) // let the orphaned stage receive its parent-death SIGKILL
        }
        XCTAssertGreaterThan(kills, 0)
        try run(["run", "--config", cfg, "--no-report", "--until", "tokenize"])
        XCTAssertEqual(try snapshot(root + "/k-work"), expected)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: root + "/k-work").filter { $0.hasPrefix(".tmp-") || $0.hasPrefix(".old-") }
        XCTAssertEqual(leftovers, [])
        // And one more run is a no-op.
        let (_, out) = try run(["run", "--config", cfg, "--no-report", "--until", "tokenize"])
        XCTAssertEqual(out.components(separatedBy: ": up to date").count - 1, 4, out)
    }
}
