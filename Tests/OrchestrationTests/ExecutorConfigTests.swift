import XCTest
@testable import Core
@testable import Orchestration

/// The `[executor]` section of pipeline.toml.
final class ExecutorConfigTests: XCTestCase {
    func parseError(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        configError(text, file: file, line: line)
    }

    func testParsesExecutorSlurmAndStageOverrides() throws {
        let c = try RunConfig.parse("""
        [executor]
        kind = "slurm"
        shards = 4
        jobs = 2

        [executor.slurm]
        partition = "cpu"
        time = "1:00:00"
        mem = "4G"
        cpus_per_task = 2
        account = "p1"
        sbatch_args = ["--qos=low"]
        max_parallel = 8
        retries = 3
        poll_seconds = 2
        detach = true

        [executor.slurm.index]
        mem = "16G"
        partition = "big"
        """, path: "p.toml")
        let e = c.executor
        XCTAssertEqual(e.kind, .slurm)
        XCTAssertEqual(e.shards, 4)
        XCTAssertEqual(e.jobs, 2)
        XCTAssertEqual(e.slurm.job, SlurmJobOptions(partition: "cpu", time: "1:00:00", mem: "4G", cpusPerTask: 2,
                                                    account: "p1", sbatchArguments: ["--qos=low"], maxParallel: 8))
        XCTAssertEqual(e.slurm.retries, 3)
        XCTAssertEqual(e.slurm.pollSeconds, 2)
        XCTAssertTrue(e.slurm.detach)
        XCTAssertEqual(e.slurm.stages["index"], SlurmJobOptions(partition: "big", mem: "16G"))
        XCTAssertEqual(e.slurm.job(for: "index").mem, "16G")
        XCTAssertEqual(e.slurm.job(for: "index").time, "1:00:00")
        XCTAssertEqual(e.slurm.job(for: "chunk").mem, "4G")
    }

    func testDefaults() throws {
        let c = try RunConfig.parse("[run]\nworkdir = \"w\"\n", path: "p.toml")
        XCTAssertEqual(c.executor, ExecutorConfig())
        XCTAssertEqual(c.executor.kind, .local)
        XCTAssertNil(c.executor.shards)
        XCTAssertEqual(c.executor.slurm.retries, 2)
        XCTAssertFalse(c.executor.slurm.detach)
        XCTAssertEqual(try RunConfig.parse("[executor]\nkind = \"local\"\n", path: "p.toml").executor.kind, .local)
    }

    func testErrorsNameKeyAndLine() {
        XCTAssertEqual(parseError("[executor]\nkind = \"k8s\"\n"),
                       "p.toml:2: executor.kind must be \"local\" or \"slurm\", not \"k8s\"")
        XCTAssertEqual(parseError("[executor]\nshards = 0\n"), "p.toml:2: executor.shards must be at least 1, not 0")
        XCTAssertEqual(parseError("[executor]\njobs = \"4\"\n"), "p.toml:2: executor.jobs must be an integer, not string")
        XCTAssertEqual(parseError("[executor]\nnodes = 4\n"),
                       "p.toml:2: unknown key executor.nodes (known: kind, shards, jobs, slurm)")
        XCTAssertEqual(parseError("[executor]\nslurm = 1\n"),
                       "p.toml:2: executor.slurm must be a table ([executor.slurm]), not integer")
        XCTAssertEqual(parseError("[executor.slurm]\npartition = 1\n"),
                       "p.toml:2: executor.slurm.partition must be a string, not integer")
        XCTAssertEqual(parseError("[executor.slurm]\nretries = -1\n"),
                       "p.toml:2: executor.slurm.retries must be at least 0, not -1")
        XCTAssertEqual(parseError("[executor.slurm]\n\nsbatch_args = \"--qos=x\"\n"),
                       "p.toml:3: executor.slurm.sbatch_args must be an array of strings, not string")
        XCTAssertEqual(parseError("[executor.slurm]\npoll_seconds = 0\n"),
                       "p.toml:2: executor.slurm.poll_seconds must be a positive number")
        XCTAssertTrue(parseError("[executor.slurm]\nqueue = \"q\"\n")
            .hasPrefix("p.toml:2: unknown key executor.slurm.queue (known: partition, time, mem, cpus_per_task, "),
                      "")
        XCTAssertTrue(parseError("[executor.slurm.indexx]\nmem = \"1G\"\n")
            .hasPrefix("p.toml:1: unknown stage in [executor.slurm.indexx] (known: ingest, "))
        XCTAssertEqual(parseError("[executor.slurm.index]\nretries = 1\n"),
                       "p.toml:2: unknown key executor.slurm.index.retries (known: partition, time, mem, "
                       + "cpus_per_task, account, sbatch_args, max_parallel)")
        XCTAssertEqual(parseError("[executor.slurm.index]\ncpus_per_task = 0\n"),
                       "p.toml:2: executor.slurm.index.cpus_per_task must be at least 1, not 0")
    }
}
