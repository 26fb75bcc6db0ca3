import Foundation
import XCTest
@testable import Core
@testable import Orchestration

/// The Slurm executor: its batch scripts and dependencies (always), and a real chain on a running Slurm
/// (`make test-slurm`: scripts/slurm-single-node.sh, then `PIPELINE_SLURM=1`).
final class SlurmExecutorTests: XCTestCase {
    // MARK: - Without Slurm

    func testBatchScriptHasDirectivesArgumentsAndStatusFile() throws {
        var options = SlurmOptions()
        options.job = SlurmJobOptions(partition: "cpu", time: "1:00:00", sbatchArguments: ["--qos", "low"],
                                      maxParallel: 2)
        options.stages["chunk"] = SlurmJobOptions(mem: "4G", cpusPerTask: 4)
        options.environment = ["A": "x y"]
        let stages = [PlannedStage(name: "chunk", shards: 3, taskArguments: { ["chunk", "--shard", "\($0)/3", "it's"] },
                                   mergeArguments: ["merge", "chunk", "--shards", "3"]),
                      PlannedStage(name: "index", shards: 1, taskArguments: { _ in ["index"] })]
        let chain = try SlurmChain(stages: stages, executable: "/bin/pipeline", runDir: "/r", options: options)
        XCTAssertEqual(chain.units.map(\.file), ["chunk", "chunk-merge", "index"])
        let s = chain.script(0)
        for line in ["#SBATCH --job-name=pipeline-chunk", "#SBATCH --array=0-2%2",
                     "#SBATCH --output=/r/slurm/logs/chunk_%A_%a.log", "#SBATCH --partition=cpu",
                     "#SBATCH --time=1:00:00", "#SBATCH --mem=4G", "#SBATCH --cpus-per-task=4", "#SBATCH --qos=low",
                     "export A='x y'", "2) args=(chunk --shard 2/3 'it'\\''s') ;;", "dir=/r/slurm",
                     "status=\"$dir/status/chunk_${task}.exit\"", "/bin/pipeline \"${args[@]}\""] {
            XCTAssertTrue(s.contains(line + "\n"), "missing \(line) in:\n\(s)")
        }
        let m = chain.script(1)
        XCTAssertFalse(m.contains("--array"))
        XCTAssertTrue(m.contains("#SBATCH --output=/r/slurm/logs/chunk-merge_%j.log\n"), m)
        XCTAssertTrue(m.contains("0) args=(merge chunk --shards 3) ;;\n"), m)
        XCTAssertTrue(m.contains("status=\"$dir/status/chunk_merge.exit\"\n"), m)
        // index takes only the defaults: no mem, no cpus.
        let i = chain.script(2)
        XCTAssertFalse(i.contains("--mem"))
        XCTAssertTrue(i.contains("#SBATCH --partition=cpu\n"))
        XCTAssertTrue(chain.submitScript().contains("sbatch --parsable \"${dep[@]}\" chunk-merge.sbatch"))
    }

    func testDependencyNamesTheUnfinishedTasksBefore() throws {
        let stages = [PlannedStage(name: "a", shards: 3, taskArguments: { ["\($0)"] }, mergeArguments: ["m"]),
                      PlannedStage(name: "b", shards: 1, taskArguments: { _ in ["b"] })]
        var chain = try SlurmChain(stages: stages, executable: "/bin/true", runDir: "/r", options: SlurmOptions())
        XCTAssertNil(chain.dependency(before: 0))
        chain.units[0].tasks = (0..<3).map { SlurmTask(job: "10_\($0)", attempts: 1) }
        XCTAssertEqual(chain.dependency(before: 1), "afterok:10")
        chain.units[0].tasks[0].state = .done
        chain.units[0].tasks[1] = SlurmTask(job: "12_1", attempts: 2)
        XCTAssertEqual(chain.dependency(before: 1), "afterok:12_1:10_2")
        chain.units[1].tasks = [SlurmTask(job: "11", attempts: 1)]
        XCTAssertEqual(chain.dependency(before: 2), "afterok:11")
        chain.units[1].tasks[0].state = .done
        XCTAssertNil(chain.dependency(before: 2))
    }

    func testQueueParsingAndOptions() {
        let q = SlurmChain.parseQueue("10_0|RUNNING|None\n10_1|PENDING|JobArrayTaskLimit\n11|CANCELLED|Dependency\n")
        XCTAssertEqual(q["10_1"]?.state, "PENDING")
        XCTAssertEqual(q["10_1"]?.reason, "JobArrayTaskLimit")
        XCTAssertEqual(q["11"]?.state, "CANCELLED")
        XCTAssertEqual(SlurmChain.jobOf("10_1"), "10")
        XCTAssertEqual(SlurmJobOptions(sbatchArguments: ["--exclusive", "-C", "avx2", "--gres=gpu:1"]).directives,
                       ["--exclusive", "-C avx2", "--gres=gpu:1"])
        var o = SlurmOptions()
        o.job = SlurmJobOptions(partition: "a", time: "10")
        o.stages["x"] = SlurmJobOptions(partition: "b")
        XCTAssertEqual(o.job(for: "x"), SlurmJobOptions(partition: "b", time: "10"))
        XCTAssertEqual(o.job(for: "y"), o.job)
    }

    // MARK: - On a running Slurm

    func requireSlurm() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["PIPELINE_SLURM"] == "1",
                          "PIPELINE_SLURM=1 not set: the Slurm tests need a running Slurm (make test-slurm)")
        let ok = (try? SlurmExecutor().command("sinfo", ["--noheader", "--format=%T"])).map { !$0.isEmpty } ?? false
        try XCTSkipUnless(ok, "sinfo does not answer: start Slurm first (scripts/slurm-single-node.sh)")
    }

    /// A 2-stage chain of fake sharded stages (bash): each alpha shard writes a file, alpha's merge concatenates
    /// them, each beta shard needs that merge's output, beta's merge concatenates again. `cancelShard`: the first
    /// attempt of alpha's shard 1 records its job and sleeps (the test cancels it), and alpha's merge fails once;
    /// `failShard`: beta's shard fails.
    func fakeStages(_ w: String, cancelShard: Bool = false, failShard: Int? = nil) -> [PlannedStage] {
        let alpha = """
        set -e; w=$1; i=$2
        if [ "$3" = cancel ] && [ "$i" = 1 ] && [ ! -e "$w/started-1" ]; then
          echo "$SLURM_ARRAY_JOB_ID" > "$w/started-1.tmp"; mv "$w/started-1.tmp" "$w/started-1"; sleep 60; fi
        sleep 1; mkdir -p "$w/alpha"; echo "alpha $i" > "$w/alpha/$i"
        """
        let beta = """
        set -e; w=$1; i=$2
        if [ "$i" = "$3" ]; then echo "beta shard $i fails on purpose" >&2; exit 3; fi
        test -s "$w/alpha.txt"; sleep 1; mkdir -p "$w/beta"; { cat "$w/alpha.txt"; echo "beta $i"; } > "$w/beta/$i"
        """
        // With "fail-once", the first attempt fails (after leaving a mark).
        let merge = """
        set -e; if [ "$3" = fail-once ] && [ ! -e "$1/$2.failed" ]; then touch "$1/$2.failed"; exit 4; fi
        cat "$1/$2/0" "$1/$2/1" "$1/$2/2" > "$1/$2.txt"
        """
        return [
            PlannedStage(name: "alpha", shards: 3,
                         taskArguments: { ["-c", alpha, "alpha", w, "\($0)", cancelShard ? "cancel" : "-"] },
                         mergeArguments: ["-c", merge, "merge", w, "alpha", cancelShard ? "fail-once" : "-"]),
            PlannedStage(name: "beta", shards: 3,
                         taskArguments: { ["-c", beta, "beta", w, "\($0)", failShard.map(String.init) ?? "-"] },
                         mergeArguments: ["-c", merge, "merge", w, "beta", "-"]),
        ]
    }

    func tempDir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("slurm-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { FileSystem.remove(d) }
        return d
    }

    func status(_ runDir: String, _ name: String) throws -> SlurmTaskStatus {
        let bytes = try ByteReader(path: runDir + "/slurm/status/" + name + ".exit").readAll()
        return try JSONDecoder().decode(SlurmTaskStatus.self, from: Data(bytes))
    }

    func expectedBeta() -> String {
        let alpha = "alpha 0\nalpha 1\nalpha 2\n"
        return (0..<3).map { alpha + "beta \($0)\n" }.joined()
    }

    func testChainRunsInOrder() throws {
        try requireSlurm()
        let d = try tempDir()
        var options = SlurmOptions()
        options.pollSeconds = 1
        var lines: [String] = []
        let t0 = Date()
        let results = try SlurmExecutor().run(stages: fakeStages(d), executable: "/bin/bash", runDir: d + "/run",
                                              options: options, say: { lines.append($0); print($0) })
        print("chain of 2 stages × 3 shards: \(Progress.duration(Date().timeIntervalSince(t0)))")
        XCTAssertEqual(results.map(\.status), ["ran", "ran"], "\(results)")
        XCTAssertEqual(try String(contentsOfFile: d + "/beta.txt", encoding: .utf8), expectedBeta())
        XCTAssertEqual(results.map(\.retries), [0, 0])
        XCTAssertEqual(results[0].jobs.count, 2)   // the array, the merge
        XCTAssertNotNil(results[0].slowestShard)
        // The chain's order: every shard before its merge, the merge before the next stage's shards.
        let alphaEnd = try (0..<3).map { try status(d + "/run", "alpha_\($0)").end }.max()!
        let alphaMerge = try status(d + "/run", "alpha_merge")
        let betaStart = try (0..<3).map { try status(d + "/run", "beta_\($0)").start }.min()!
        let betaEnd = try (0..<3).map { try status(d + "/run", "beta_\($0)").end }.max()!
        let betaMerge = try status(d + "/run", "beta_merge")
        XCTAssertLessThanOrEqual(alphaEnd, alphaMerge.start)
        XCTAssertLessThanOrEqual(alphaMerge.end, betaStart)
        XCTAssertLessThanOrEqual(betaEnd, betaMerge.start)
        XCTAssertTrue(lines.contains { $0.hasPrefix("slurm: ") && $0.contains("tasks done") }, "\(lines)")
        for f in ["alpha.sbatch", "alpha-merge.sbatch", "beta.sbatch", "beta-merge.sbatch", "submit.sh", "jobs.json"] {
            XCTAssertTrue(FileSystem.exists(d + "/run/slurm/" + f), f)
        }
        let logs = try FileManager.default.contentsOfDirectory(atPath: d + "/run/slurm/logs")
        XCTAssertEqual(logs.count, 8, "\(logs)")   // 3 + 1 + 3 + 1
    }

    /// A real stage command (`pipeline gsm8k` on the repository's data/gsm8k) as a Slurm job writes the same
    /// bytes as when run here, and records its outcome where the run reads it.
    func testRealStageUnderSlurmWritesWhatALocalRunWrites() throws {
        try requireSlurm()
        guard let binary = SharedData.pipelineBinary() else { throw XCTSkip(SharedData.binaryAbsentMessage) }
        let d = try tempDir()
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        var inputs = RunInputs()
        inputs.gsm8k = [repo + "/data/gsm8k/train.jsonl", repo + "/data/gsm8k/test.jsonl"]
        let spec = try XCTUnwrap(RunStages.spec("gsm8k"))
        let args = { (w: String) in spec.arguments(values: [:], inputs: inputs, workdir: w, force: false) }
        let local = Process()
        local.executableURL = URL(fileURLWithPath: binary)
        local.arguments = args(d + "/local")
        local.standardOutput = FileHandle.nullDevice
        local.standardError = FileHandle.nullDevice
        try local.run()
        local.waitUntilExit()
        XCTAssertEqual(local.terminationStatus, 0)
        var options = SlurmOptions()
        options.pollSeconds = 1
        let slurmArgs = args(d + "/slurm")
        let stage = PlannedStage(name: "gsm8k", shards: 1, taskArguments: { _ in slurmArgs })
        let results = try SlurmExecutor().run(stages: [stage], executable: binary, runDir: d + "/run", options: options,
                                              say: { print($0) })
        XCTAssertEqual(results.map(\.status), ["ran"], "\(results)")
        let files = try FileManager.default.contentsOfDirectory(atPath: d + "/local/gsm8k")
            .filter { $0.hasSuffix(".zst") }
        XCTAssertFalse(files.isEmpty)
        for f in files {
            XCTAssertEqual(FileManager.default.contents(atPath: d + "/slurm/gsm8k/" + f),
                           FileManager.default.contents(atPath: d + "/local/gsm8k/" + f), f)
        }
        XCTAssertTrue(FileSystem.exists(d + "/run/slurm/outcomes/gsm8k_0.json"))
    }

    /// A sharded stage for real: `pipeline chunk --shard i/3` as an array job and `pipeline merge chunk --shards 3`
    /// after it give the files of a plain `pipeline chunk` (the arguments built as `pipeline run` builds them).
    func testShardedChunkUnderSlurmEqualsAPlainRun() throws {
        try requireSlurm()
        guard let binary = SharedData.pipelineBinary() else { throw XCTSkip(SharedData.binaryAbsentMessage) }
        let d = try tempDir()
        try FileSystem.makeDirectory(d + "/docs")
        for n in 0..<60 {
            let text = (0..<(20 + n % 37)).map { "Paragraph \($0) of note \(n): the train leaves at noon." }
                .joined(separator: n % 3 == 0 ? "\n\n" : "\n")
            try FileSystem.atomicWrite(text, to: d + String(format: "/docs/note-%03d.txt", n))
        }
        func local(_ args: [String]) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = args
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, "pipeline \(args.joined(separator: " "))")
        }
        let spec = try XCTUnwrap(RunStages.spec("chunk"))
        XCTAssertTrue(spec.sharded)
        let values: [String: ConfigValue] = ["size": .int(300), "overlap": .int(40)]
        for w in ["plain", "slurm"] { try local(["ingest", d + "/docs", "--jobs", "1", "--workdir", d + "/" + w]) }
        try local(spec.arguments(values: values, inputs: RunInputs(), workdir: d + "/plain", force: false))
        let args = spec.arguments(values: values, inputs: RunInputs(), workdir: d + "/slurm", force: false)
        let head = Array(args.prefix { $0 != "--workdir" }), tail = Array(args.drop { $0 != "--workdir" })
        let stage = PlannedStage(name: "chunk", shards: 3, taskArguments: { head + ["--shard", "\($0)/3"] + tail },
                                 mergeArguments: ["merge"] + head + ["--shards", "3"] + tail)
        var options = SlurmOptions()
        options.pollSeconds = 1
        let t0 = Date()
        let results = try SlurmExecutor().run(stages: [stage], executable: binary, runDir: d + "/run",
                                              options: options, say: { print($0) })
        print("chunk as 3 shards and a merge on Slurm: \(Progress.duration(Date().timeIntervalSince(t0)))")
        XCTAssertEqual(results.map(\.status), ["ran"], "\(results)")
        let files = FileSystem.listFiles(d + "/plain/chunk")
            .filter { $0 != "manifest.json" && !$0.hasPrefix("shards/") }
        XCTAssertFalse(files.isEmpty)
        for f in files {
            XCTAssertEqual(FileManager.default.contents(atPath: d + "/slurm/chunk/" + f),
                           FileManager.default.contents(atPath: d + "/plain/chunk/" + f), f)
        }
        for i in 0..<3 { XCTAssertTrue(FileSystem.exists(d + "/slurm/chunk/shards/\(i)-of-3/manifest.json")) }
    }

    /// Also a merge (a single job) failing once.
    func testCancelledTaskIsRetried() throws {
        try requireSlurm()
        let d = try tempDir()
        var options = SlurmOptions()
        options.pollSeconds = 1
        options.retries = 1
        // Cancel alpha's shard 1 while it runs (its first attempt records its job id, then sleeps).
        let canceller = Thread {
            for _ in 0..<600 {
                if let job = try? String(contentsOfFile: d + "/started-1", encoding: .utf8) {
                    let id = job.trimmingCharacters(in: .whitespacesAndNewlines) + "_1"
                    _ = try? SlurmExecutor().command("scancel", [id])
                    FileManager.default.createFile(atPath: d + "/cancelled", contents: Data(id.utf8))
                    return
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        canceller.start()
        var lines: [String] = []
        let t0 = Date()
        let results = try SlurmExecutor().run(stages: fakeStages(d, cancelShard: true), executable: "/bin/bash",
                                              runDir: d + "/run", options: options,
                                              say: { lines.append($0); print($0) })
        print("chain with one cancelled task retried: \(Progress.duration(Date().timeIntervalSince(t0)))")
        XCTAssertTrue(FileSystem.exists(d + "/cancelled"), "the task was never cancelled")
        XCTAssertEqual(results.map(\.status), ["ran", "ran"], "\(results)\n\(lines)")
        XCTAssertEqual(results.map(\.retries), [2, 0])
        XCTAssertTrue(lines.contains { $0.contains("alpha shard 1: ended by Slurm (CANCELLED)") }, "\(lines)")
        XCTAssertTrue(lines.contains { $0.contains("alpha merge: failed (exit 4)") }, "\(lines)")
        XCTAssertEqual(try String(contentsOfFile: d + "/beta.txt", encoding: .utf8), expectedBeta())
        // The array, the shard's retry, the merge submitted first (cancelled: it waited for the shard), again
        // (failed) and a third time.
        XCTAssertEqual(results[0].jobs.count, 5, "\(results[0].jobs)")
        XCTAssertEqual(results[1].jobs.count, 2 * 3, "\(results[1].jobs)")   // beta resubmitted after each retry
    }

    func testDetachedChainIsFollowedBySnapshots() throws {
        try requireSlurm()
        let d = try tempDir()
        var options = SlurmOptions()
        options.detach = true
        let results = try SlurmExecutor().run(stages: fakeStages(d), executable: "/bin/bash", runDir: d + "/run",
                                              options: options, say: { print($0) })
        XCTAssertEqual(results.map(\.status), ["submitted", "submitted"])
        XCTAssertNil(try SlurmExecutor().snapshot(runDir: d))
        var states: [SlurmTaskState] = []
        for _ in 0..<120 {
            states = try XCTUnwrap(SlurmExecutor().snapshot(runDir: d + "/run"))
            if states.allSatisfy({ $0.state == "done" }) || states.contains(where: { $0.state == "failed" }) { break }
            Thread.sleep(forTimeInterval: 0.5)
        }
        XCTAssertEqual(states.count, 8)
        XCTAssertEqual(states.map(\.state), Array(repeating: "done", count: 8), "\(states)")
        XCTAssertEqual(states.filter(\.merge).map(\.stage), ["alpha", "beta"])
        XCTAssertEqual(try String(contentsOfFile: d + "/beta.txt", encoding: .utf8), expectedBeta())
    }

    func testExhaustedRetriesReportTheShardAndItsLog() throws {
        try requireSlurm()
        let d = try tempDir()
        var options = SlurmOptions()
        options.pollSeconds = 1
        options.retries = 1
        var stages = fakeStages(d, failShard: 2)
        stages.append(PlannedStage(name: "gamma", shards: 1, taskArguments: { _ in ["-c", "touch \(d)/gamma"] }))
        let results = try SlurmExecutor().run(stages: stages, executable: "/bin/bash", runDir: d + "/run",
                                              options: options, say: { print($0) })
        XCTAssertEqual(results.map(\.status), ["ran", "failed", "cancelled"], "\(results)")
        let b = results[1]
        XCTAssertEqual(b.failedShard, 2)
        XCTAssertFalse(b.failedMerge)
        XCTAssertEqual(b.exitCode, 3)
        XCTAssertEqual(b.retries, 1)
        XCTAssertTrue(b.logTail.contains("beta shard 2 fails on purpose"), "\(b.logTail)")
        XCTAssertFalse(FileSystem.exists(d + "/gamma"))
        XCTAssertFalse(FileSystem.exists(d + "/beta.txt"))
    }
}
