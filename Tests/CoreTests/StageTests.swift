import XCTest
@testable import Core

final class StageTests: XCTestCase {
    var root: String!
    var work: Workdir!
    var inputPath: String!

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "core-stage-\(UUID().uuidString)"
        try FileSystem.makeDirectory(root)
        work = Workdir(path: root + "/artifacts")
        inputPath = root + "/input.txt"
        try FileSystem.atomicWrite("hello\n", to: inputPath)
    }

    override func tearDown() { FileSystem.remove(root) }

    func runStage(content: String, parameters: [String: String] = ["size": "1"], force: Bool = false) throws -> Bool {
        guard let run = try StageRun.begin(workdir: work, stage: "demo", inputs: [inputPath], parameters: parameters, force: force) else {
            return false
        }
        let w = try ZstdWriter(path: run.output("out.txt.zst"))
        try w.write(content)
        try w.close()
        run.records["lines"] = 1
        try run.commit()
        return true
    }

    func content() throws -> String {
        String(decoding: try ByteReader(path: work.stageDir("demo") + "/out.txt.zst").readAll(), as: UTF8.self)
    }

    func testManifestRecordsAndSkip() throws {
        XCTAssertEqual(work.freshness("demo"), .missing)
        XCTAssertTrue(try runStage(content: "v1"))
        let m = try XCTUnwrap(work.manifest("demo"))
        XCTAssertEqual(m.stage, "demo")
        XCTAssertEqual(m.inputs.map(\.path), [inputPath])
        XCTAssertEqual(m.inputs[0].bytes, 6)
        XCTAssertEqual(m.inputs[0].sha256, Hashing.sha256("hello\n"))
        XCTAssertEqual(m.outputs.map(\.path), ["out.txt.zst"])
        XCTAssertEqual(m.records, ["lines": 1])
        XCTAssertEqual(work.freshness("demo"), .upToDate)
        // Unchanged: skipped.
        XCTAssertFalse(try runStage(content: "v2"))
        XCTAssertEqual(try content(), "v1")
        // --force: re-run.
        XCTAssertTrue(try runStage(content: "v2", force: true))
        XCTAssertEqual(try content(), "v2")
    }

    func testChangedInputOrParametersReRuns() throws {
        XCTAssertTrue(try runStage(content: "v1"))
        XCTAssertTrue(try runStage(content: "v2", parameters: ["size": "2"]))
        XCTAssertFalse(try runStage(content: "v3", parameters: ["size": "2"]))
        try FileSystem.atomicWrite("hellO\n", to: inputPath) // same size, other bytes
        if case .stale = work.freshness("demo") {} else { XCTFail("should be stale") }
        XCTAssertTrue(try runStage(content: "v3", parameters: ["size": "2"]))
        XCTAssertEqual(try content(), "v3")
    }

    func testAlteredOutputIsStale() throws {
        XCTAssertTrue(try runStage(content: "v1"))
        try FileSystem.atomicWrite("tampered", to: work.stageDir("demo") + "/out.txt.zst")
        if case .stale = work.freshness("demo") {} else { XCTFail("should be stale") }
        XCTAssertTrue(try runStage(content: "v1"))
    }

    /// Robustness issue, item 4: a byte flipped in place (size kept) makes the stage stale; with the modification
    /// time put back as well, `verify` still finds it.
    func testFlippedByteInAnOutputIsFound() throws {
        XCTAssertTrue(try runStage(content: "version one"))
        let out = work.stageDir("demo") + "/out.txt.zst"
        XCTAssertNotNil(work.manifest("demo")?.outputs.first?.mtimeNs)
        var st = stat()
        XCTAssertEqual(stat(out, &st), 0)
        let times = [st.st_atim, st.st_mtim]
        func flip() throws {
            let fd = open(out, O_RDWR)
            XCTAssertGreaterThanOrEqual(fd, 0)
            var b: UInt8 = 0
            XCTAssertEqual(pread(fd, &b, 1, 12), 1)
            b ^= 0x20
            XCTAssertEqual(pwrite(fd, &b, 1, 12), 1)
            close(fd)
        }
        try flip()
        guard case .stale(let why) = work.freshness("demo") else { return XCTFail("a flipped byte is stale") }
        XCTAssertTrue(why.contains("out.txt.zst") && why.contains("sha256"), why)
        try flip()  // back to the original bytes, with a new modification time: hashed, equal, up to date
        XCTAssertEqual(work.freshness("demo"), .upToDate)
        try flip()
        times.withUnsafeBufferPointer { _ = utimensat(AT_FDCWD, out, $0.baseAddress, 0) }  // the old time restored
        XCTAssertEqual(work.freshness("demo"), .upToDate, "size, time and inode as recorded: trusted without --verify")
        if case .stale = work.freshness("demo", verify: true) {} else { XCTFail("--verify hashes the output") }
        Workdir.verifyOutputs = true
        defer { Workdir.verifyOutputs = false }
        XCTAssertTrue(try runStage(content: "version one"), "a verifying run repairs the stage")
        XCTAssertEqual(try content(), "version one")
    }

    /// A checkpointing stage interrupted at step 160 of 2000 is partial, not up to date.
    func testInterruptedCheckpointingStageIsPartial() throws {
        let run = try XCTUnwrap(StageRun.begin(workdir: work, stage: "demo", inputs: [inputPath], parameters: [:], force: false))
        try FileSystem.atomicWrite("weights", to: run.output("model.bin"))
        run.records = ["steps": 160, "total_steps": 2000]
        try run.commit()
        XCTAssertEqual(work.freshness("demo"), .partial(step: 160, total: 2000))
        XCTAssertEqual(work.freshness("demo").label, "partial (step 160 of 2000)")
        XCTAssertEqual(work.checkpoint("demo", inputs: [inputPath], parameters: [:])?.step, 160, "and it continues")
        let again = try StageRun.begin(workdir: work, stage: "demo", inputs: [inputPath], parameters: [:], force: false)
        XCTAssertNotNil(again, "a partial stage is not skipped")
        again?.abort()
    }

    func testFailureMidWriteKeepsThePreviousOutput() throws {
        XCTAssertTrue(try runStage(content: "good"))
        struct Boom: Error {}
        do {
            let run = try XCTUnwrap(StageRun.begin(workdir: work, stage: "demo", inputs: [inputPath], parameters: [:], force: true))
            let w = try ZstdWriter(path: run.output("out.txt.zst"))
            try w.write("half-writ")
            throw Boom() // the stage dies before commit
        } catch is Boom {}
        XCTAssertEqual(try content(), "good")
        XCTAssertEqual(work.freshness("demo"), .upToDate)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: work.path).filter { $0.hasPrefix(".tmp-") }
        XCTAssertEqual(leftovers, [], "an abandoned run removes its temporary folder")
    }

    func testStaleTemporaryFoldersOfDeadRunsAreCleaned() throws {
        try FileSystem.makeDirectory(work.path)
        // A process that was killed (kill -9) leaves its temporary folder; pid 2^22+1 is above pid_max defaults.
        let dead = work.path + "/.tmp-demo-4194305-1"
        try FileSystem.makeDirectory(dead)
        try FileSystem.atomicWrite("partial", to: dead + "/out.txt.zst")
        XCTAssertTrue(try runStage(content: "v1"))
        XCTAssertFalse(FileSystem.exists(dead))
        XCTAssertEqual(try content(), "v1")
    }

    func testCommitReplacesWholeFolder() throws {
        guard let run = try StageRun.begin(workdir: work, stage: "demo", inputs: [inputPath], parameters: [:], force: false) else {
            return XCTFail("should run")
        }
        try FileSystem.atomicWrite("old extra", to: run.output("extra.txt"))
        try FileSystem.atomicWrite("x", to: run.output("out.txt.zst"))
        try run.commit()
        XCTAssertTrue(try runStage(content: "v2", force: true))
        XCTAssertFalse(FileSystem.exists(work.stageDir("demo") + "/extra.txt"), "outputs of the old run must not mix with the new")
        XCTAssertEqual(FileSystem.listFiles(work.stageDir("demo")), ["manifest.json", "out.txt.zst"])
    }

    func testAtomicWriteFailureLeavesOldFile() throws {
        let path = root + "/file.txt"
        try FileSystem.atomicWrite("old", to: path)
        // Writing into a folder that does not exist fails before anything is renamed.
        XCTAssertThrowsError(try FileSystem.atomicWrite("new", to: root + "/missing/file.txt"))
        XCTAssertEqual(String(decoding: try ByteReader(path: path).readAll(), as: UTF8.self), "old")
    }
}

final class TimestampTests: XCTestCase {
    func testISO8601() {
        XCTAssertEqual(Timestamp.iso8601(Date(timeIntervalSince1970: 0)), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(Timestamp.iso8601(Date(timeIntervalSince1970: 1_795_413_001.1234)), "2026-11-23T05:50:01.123Z")
    }
}
