import ArgumentParser
import Core
import Foundation
import Index
import Ingest
import Orchestration

struct Pipeline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Turn raw material into the inputs and results of small-LLM work, on one machine.",
        discussion: """
        Stages run in order; each reads the previous stage's artifacts under the work directory \
        (default ./artifacts, or --workdir, or $PIPELINE_WORKDIR) and writes its own folder there, \
        zstd-compressed, with a manifest.json. A stage whose inputs and parameters are unchanged is skipped \
        ("up to date"); --force re-runs it.

        Exit codes: 0 ok, 1 failed, 2 usage error, 3 finished but some inputs were skipped.

        A path that starts with a dash goes after `--` (`pipeline ingest -- -notes.pdf`).
        """,
        version: Pipeline.versions,
        subcommands: Pipeline.stageCommands
            + [MergeCommand.self, RunCommand.self, ConfigCommand.self, ReportCommand.self, Status.self, Cat.self,
               Pack.self]
            + Pipeline.internalCommands
    )
}

/// Options every stage command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Work directory holding one folder per stage (default: $PIPELINE_WORKDIR or ./artifacts).", valueName: "dir"))
    var workdir: String?

    @Flag(name: .long, help: "Re-run the stage even when its manifest says it is up to date.")
    var force = false

    @Flag(name: [.short, .long], help: "No progress lines.")
    var quiet = false

    var work: Workdir { Workdir(explicit: workdir) }

    func apply() { if quiet { Progress.enabled = false } }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show each stage's state: up to date, stale (and why) or missing.",
        discussion: "Reads every stage's manifest.json and checks its recorded inputs and outputs against the files "
            + "as they are now, and lists each shard of a sharded stage. When the latest run under the runs folder "
            + "([run] runs of --config, default runs) submitted a Slurm chain (`pipeline run --executor slurm`, "
            + "e.g. with --detach), each of its tasks follows with its job id and state (done, running, pending, "
            + "failed with its exit status or Slurm's state), from the tasks' status files, squeue and sacct.")

    @Option(name: .long, help: ArgumentHelp("Work directory (default: $PIPELINE_WORKDIR or ./artifacts).",
                                             valueName: "dir"))
    var workdir: String?

    @Flag(name: .long, help: ArgumentHelp("Hash every output and compare it with the manifest (default: size, "
                                           + "modification time and inode; a file whose time or inode changed is "
                                           + "hashed)."))
    var verify = false

    @Option(name: .long, help: ArgumentHelp("Config file (for the runs folder).", valueName: "file"))
    var config = "pipeline.toml"

    func run() throws {
        let work = Workdir(explicit: workdir)
        print("work directory: \(work.path)")
        let folders = RunStages.all.map(\.folder)
        let width = folders.map(\.count).max() ?? 8
        for stage in folders {
            let state = work.freshness(stage, verify: verify)
            var line = stage.padding(toLength: width + 2, withPad: " ", startingAt: 0) + state.label
            if state == .upToDate, let m = work.manifest(stage) {
                line += "  (finished \(m.finished), \(Progress.duration(m.seconds)))"
            }
            print(line)
            for shard in work.shardStates(stage, verify: verify) { print("  shard \(shard.name): \(shard.state)") }
        }
        slurmJobs()
    }

    /// The tasks of the latest run's Slurm chain, if it submitted one.
    func slurmJobs() {
        let runs = FileSystem.exists(config) ? ((try? RunConfig.load(path: config))?.runsDir ?? "runs") : "runs"
        guard let last = RunReport.runNames(runs: runs).last,
              FileSystem.exists(runs + "/" + last + "/slurm/jobs.json") else { return }
        print("slurm jobs of \(runs)/\(last):")
        do {
            for line in try SlurmExecutor().statusLines(runDir: runs + "/" + last) ?? [] { print(line) }
        } catch {
            print("  unknown: \(error)")
        }
    }
}

extension Pipeline {
    /// `pipeline --version`: ours and the C libraries' in use.
    static var versions: String {
        "pipeline \(PipelineVersion.current) (poppler \(IngestLibraries.poppler), zstd \(Zstd.libraryVersion), "
            + "SQLite \(IndexLibraries.sqlite), OpenBLAS \(IndexLibraries.openblas))"
    }
}
