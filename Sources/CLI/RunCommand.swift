import ArgumentParser
import Core
import Orchestration
import Foundation

/// `pipeline run`: every stage in order, from a config file, with per-stage logs, a summary and a report.
extension ExecutorConfig.Kind: ExpressibleByArgument {}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the stages in order from pipeline.toml, with logs, a summary and an HTML report per run.",
        discussion: """
        Order: \(RunStages.names.joined(separator: " → ")). Each stage runs as its own process (this same \
        executable) with arguments built from the config file (default ./pipeline.toml): its [inputs] section \
        names the PDF folders, GSM8K files and base model; each stage's section sets that command's options \
        (unset ones keep the command's defaults). A stage whose manifest is up to date is skipped, so a run with \
        unchanged inputs takes seconds. Stages not built into this version are reported as "not built".
        Each run writes runs/<UTC timestamp>/ (the folder is [run] runs in the config): <stage>.log, \
        manifests/<folder>.json (copies of the manifests), summary.json (status, seconds and records per \
        stage) and report.html. The work directory is locked (flock on <workdir>/.lock) for the whole run: \
        a second run exits with an error, or waits with --wait. A stage exiting 3 (some inputs skipped) \
        counts as done; any other failure stops the run, names the stage and exits 1.
        """)

    @Option(name: .long, help: ArgumentHelp("Config file.", valueName: "file"))
    var config = "pipeline.toml"
    @Option(name: .long, help: ArgumentHelp("Stop after this stage.", valueName: "stage"))
    var until: String?
    @Option(name: .long, parsing: .upToNextOption, help: ArgumentHelp("Run only these stages.", valueName: "stage"))
    var only: [String] = []
    @Option(name: .long, parsing: .upToNextOption,
            help: ArgumentHelp("Re-run these stages even when up to date (all: every stage).", valueName: "stage"))
    var force: [String] = []
    @Option(name: .long, help: ArgumentHelp("Work directory (overrides [run] workdir).", valueName: "dir"))
    var workdir: String?
    @Flag(name: .long, help: "Wait for another run holding the lock instead of exiting.")
    var wait = false
    @Flag(name: .long, inversion: .prefixedNo,
          help: ArgumentHelp("Check every stage's outputs by sha256 before calling it up to date (default; "
                             + "--no-verify trusts size, modification time and inode)."))
    var verify = true

    @Flag(name: .long, help: "Do not write report.html.")
    var noReport = false

    @Option(name: .long, help: ArgumentHelp(
        "Where the stages run: local (processes here) or slurm (one chain of Slurm jobs, submitted at once; "
            + "[executor.slurm] sets partition, time, mem, …). Default: [executor] kind, else local.",
        valueName: "local|slurm"))
    var executor: ExecutorConfig.Kind?

    @Option(name: .long, help: ArgumentHelp(
        "Run each sharded stage (\(RunStages.all.filter(\.sharded).map(\.name).joined(separator: ", "))) as N shards "
            + "and a merge; the artifacts are the same bytes for every N (default: [executor] shards, else 1). "
            + "pretrain, sft and grpo always run as one task.",
        valueName: "N"))
    var shards: Int?

    @Option(name: .long, help: ArgumentHelp("Local executor: shard processes at once (default: the number of cores).",
                                             valueName: "n"))
    var jobs: Int?

    @Flag(name: .long, help: "Slurm: submit the chain and return at once (pipeline status follows it).")
    var detach = false

    @Option(name: .long, help: ArgumentHelp("Slurm: resubmit a failed task up to N times (default 2).",
                                             valueName: "N"))
    var retries: Int?

    func validate() throws {
        if let s = shards, s < 1 { throw ValidationError("--shards must be at least 1") }
        if let j = jobs, j < 1 { throw ValidationError("--jobs must be at least 1") }
        if let r = retries, r < 0 { throw ValidationError("--retries must be at least 0") }
    }

    func run() throws {
        if verify { setenv("PIPELINE_VERIFY", "1", 1) }  // the stages this run starts inherit it
        var cfg = try RunConfig.load(path: config)
        if let w = workdir { cfg.workdir = w }
        let stages: [StageSpec]
        do {
            stages = try RunStages.select(until: until, only: only)
        } catch let e as CoreError { throw ValidationError(e.message) }
        for f in force where f != "all" && RunStages.spec(f) == nil {
            let known = RunStages.names.joined(separator: ", ")
            throw ValidationError("--force: unknown stage \"\(f)\" (stages: \(known))")
        }
        let available = Set(Pipeline.stageCommands.map { $0._commandName })
        for s in stages where !available.contains(s.name) && (!only.isEmpty || until == s.name) {
            throw ValidationError("stage \(s.name) is not built into this version of pipeline")
        }
        // Every selected stage's command line is parsed and validated before any stage runs: an out-of-range value
        // in the last section must not surface after the first stages already ran.
        for spec in stages where available.contains(spec.name) && spec.replacedBy(cfg.inputs) == nil {
            let args = spec.arguments(values: cfg.values[spec.name] ?? [:], inputs: cfg.inputs, workdir: cfg.workdir,
                                      force: false)
            do {
                _ = try Pipeline.parseAsRoot(args)
            } catch {
                let why = Pipeline.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
                throw ValidationError("\(config) [\(spec.name)]: \(why)")
            }
        }
        let lock = try WorkdirLock(workdir: cfg.workdir, wait: wait) {
            FileHandle.standardError.write(Data("waiting for the run holding \(cfg.workdir)/.lock …\n".utf8))
        }
        let runDir = try Runner.makeRunDir(runs: cfg.runsDir)
        print("run: \(runDir) (work directory \(cfg.workdir))")
        fflush(stdout)
        var runner = Runner(config: cfg, executable: SelfProcess.executable(), available: available)
        runner.force = force.contains("all") ? Set(RunStages.names) : Set(force)
        runner.executor = executor ?? cfg.executor.kind
        runner.shards = shards ?? cfg.executor.shards ?? 1
        if let j = jobs ?? cfg.executor.jobs { runner.jobs = j }
        runner.slurm = cfg.executor.slurm
        if detach { runner.slurm.detach = true }
        if let retries { runner.slurm.retries = retries }
        runner.say = { print($0); fflush(stdout) }
        let summary = try runner.run(stages: stages, runDir: runDir)
        do {
            try RunReport.snapshot(runDir: runDir)
        } catch let e as PipelineError {
            FileHandle.standardError.write(Data("warning: report figures not recorded: \(e.message)\n".utf8))
        }
        if !noReport {
            do {
                try RunReport.write(runDir: runDir, runsDir: cfg.runsDir)
                print("report: \(runDir)/report.html")
            } catch let e as PipelineError {
                FileHandle.standardError.write(Data("warning: report not written: \(e.message)\n".utf8))
            }
        }
        withExtendedLifetime(lock) {}
        if let failed = summary.failedStage, let o = summary.stages.first(where: { $0.stage == failed }) {
            throw RunError.stageFailed(stage: failed, status: o.exitCode ?? 1, log: runDir + "/" + (o.log ?? ""))
        }
        if summary.status == "submitted" {
            print("run: submitted to Slurm (\(runDir)/slurm/); `pipeline status` follows the work directory")
            return
        }
        print("run: ok in \(Progress.duration(summary.seconds))")
    }
}

/// `pipeline report [RUN]`: (re)writes runs/<ts>/report.html.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the HTML report of a run (default: the latest) to runs/<timestamp>/report.html.",
        discussion: """
        RUN is a run folder (runs/20261123T070000Z) or its name; default the newest under the runs folder \
        ([run] runs of --config, default runs). The report is one self-contained HTML file with inline SVG \
        charts: the stage table, one section per stage from its manifest and artifacts (sections of stages \
        not yet run say so), and a comparison with the previous run.
        """)
    @Argument(help: ArgumentHelp("Run folder or name.", valueName: "run"))
    var runName: String?
    @Option(name: .long, help: ArgumentHelp("Config file (for the runs folder).", valueName: "file"))
    var config = "pipeline.toml"

    func run() throws {
        let runs = FileSystem.exists(config) ? try RunConfig.load(path: config).runsDir : "runs"
        let dir: String
        if let r = runName {
            dir = FileSystem.exists(r + "/summary.json") ? r : runs + "/" + r
        } else {
            guard let last = RunReport.runNames(runs: runs).last else { throw RunError.noRun(path: runs) }
            dir = runs + "/" + last
        }
        let path = try RunReport.write(runDir: dir, runsDir: (dir as NSString).deletingLastPathComponent)
        print(path)
    }
}

/// `pipeline config`: the complete config with every default, derived from the stages' declarations.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print a pipeline.toml with every stage's every key at its command's default.",
        discussion: """
        Each [stage] section lists the options of `pipeline <stage>` under their config names (the long flag \
        with _ for -); the defaults are the commands' own, so the printed file runs exactly what the commands \
        run without options. Keys without a default (worker counts: all cores) are commented out. Options that \
        `pipeline run` sets itself (input paths, --model, --adapter) have no key.
        """)

    func run() throws { print(RunStages.defaultConfig(), terminator: "") }
}
