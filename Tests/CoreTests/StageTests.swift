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
