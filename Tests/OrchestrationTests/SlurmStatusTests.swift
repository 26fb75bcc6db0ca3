import Foundation
import XCTest
@testable import Core
@testable import Orchestration

/// `pipeline status` after `run --executor slurm --detach`: each task's state from its status file, squeue and
/// sacct — here fake `squeue` and `sacct` scripts answer for a chain whose jobs.json is written by hand.
final class SlurmStatusTests: XCTestCase {
    var temp = ""

    override func setUpWithError() throws {
        temp = NSTemporaryDirectory() + "slurm-status-\(getpid())-\(UUID().uuidString)"
        try FileSystem.makeDirectory(temp + "/bin")
    }

    override func tearDown() { FileSystem.remove(temp) }

    /// A detached run: ingest as 3 array tasks (job 10) and its merge (11), then index (12). Task 0 wrote its
    /// status file; squeue knows 10_1 (running) and 11 (pending); sacct knows how 10_2 and 12 ended.
    func makeRun(sacct: Bool = true) throws -> String {
        let run = temp + "/runs/20261202T130000Z"
        try FileSystem.makeDirectory(run + "/slurm/status")
        try FileSystem.atomicWrite("{}", to: run + "/summary.json")
        try FileSystem.atomicWrite("""
            [{"stage":"ingest","merge":false,"array":true,"tasks":["10_0","10_1","10_2"],"retried":[]},
             {"stage":"ingest","merge":true,"array":false,"tasks":["11"],"retried":[]},
             {"stage":"index","merge":false,"array":false,"tasks":["12"],"retried":[]}]
            """, to: run + "/slurm/jobs.json")
        try FileSystem.atomicWrite(#"{"exit":0,"start":1,"end":2,"job":"10"}"#,
                                   to: run + "/slurm/status/ingest_0.exit")
        func script(_ name: String, _ body: String) throws {
            try FileSystem.atomicWrite("#!/bin/sh\n" + body, to: temp + "/bin/" + name)
            chmod(temp + "/bin/" + name, 0o755)
        }
        try script("squeue",
                   "echo \"$@\" >> \(temp)/squeue.args\nprintf '10_1|RUNNING|None\\n11|PENDING|Dependency\\n'\n")
        try script("sacct", sacct ? "echo \"$@\" >> \(temp)/sacct.args\nprintf '10_2|FAILED\\n12|CANCELLED by 0\\n'\n"
                        : "echo 'sacct: error: Slurm accounting storage is disabled' >&2\nexit 1\n")
        return run
    }

    func testEveryTaskHasItsStateFromStatusFilesSqueueAndSacct() throws {
        let run = try makeRun()
        let lines = try XCTUnwrap(SlurmExecutor(slurmBin: temp + "/bin").statusLines(runDir: run))
        XCTAssertEqual(lines, [
            "  ingest shard 0  job 10_0  done",
            "  ingest shard 1  job 10_1  running",
            "  ingest shard 2  job 10_2  failed (FAILED)",
            "  ingest merge    job 11    pending",
            "  index           job 12    failed (CANCELLED)",
            "  5 tasks: 1 done, 1 running, 1 pending, 2 failed",
        ])
        // One squeue for all the jobs, one sacct for those squeue has forgotten.
        XCTAssertEqual(try String(contentsOfFile: temp + "/squeue.args", encoding: .utf8),
                       "--noheader --array --states=all --jobs=10,11,12 --format=%i|%T|%r\n")
        XCTAssertEqual(try String(contentsOfFile: temp + "/sacct.args", encoding: .utf8),
                       "--noheader --parsable2 --allocations --jobs=10,12 --format=JobID,State\n")
        XCTAssertNil(try SlurmExecutor(slurmBin: temp + "/bin").statusLines(runDir: temp))
    }

    func testWithoutAccountingAForgottenTaskWithoutStatusFileIsFailed() throws {
        let run = try makeRun(sacct: false)
        let lines = try XCTUnwrap(SlurmExecutor(slurmBin: temp + "/bin").statusLines(runDir: run))
        XCTAssertEqual(lines[2], "  ingest shard 2  job 10_2  failed (not in squeue, no status file)")
        XCTAssertEqual(lines.last, "  5 tasks: 1 done, 1 running, 1 pending, 2 failed")
    }

    /// The command: the stages, then the latest run's Slurm tasks (squeue and sacct found on PATH).
    func testPipelineStatusListsTheSlurmTasksOfTheLatestRun() throws {
        guard let binary = SharedData.pipelineBinary() else { throw XCTSkip(SharedData.binaryAbsentMessage) }
        _ = try makeRun()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["status", "--workdir", temp + "/work"]
        p.currentDirectoryURL = URL(fileURLWithPath: temp)
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = temp + "/bin:" + (env["PATH"] ?? "/usr/bin:/bin")
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertTrue(text.hasPrefix("work directory: " + temp + "/work\n"), text)
        XCTAssertTrue(text.hasSuffix("""
            slurm jobs of runs/20261202T130000Z:
              ingest shard 0  job 10_0  done
              ingest shard 1  job 10_1  running
              ingest shard 2  job 10_2  failed (FAILED)
              ingest merge    job 11    pending
              index           job 12    failed (CANCELLED)
              5 tasks: 1 done, 1 running, 1 pending, 2 failed

            """), text)
    }
}
