import ArgumentParser
import Core
import Foundation

/// The command of a stage: its declared options, the options every stage takes, and the shared driver.
struct StageCommand<S: Stage>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: S.name, abstract: S.abstract, discussion: S.discussion)
    }

    @OptionGroup var arguments: S.Arguments
    @OptionGroup var global: GlobalOptions

    func run() throws {
        global.apply()
        let status = try StageDriver.run(S.self, arguments, in: StageContext(workdir: global.work, force: global.force))
        if status != .ok { throw StageExit(status: status) }
    }
}

/// The command of a sharded stage: as `StageCommand`, plus `--shard I/N` (or the scheduler's array index) to run
/// one shard.
struct ShardedStageCommand<S: ShardedStage>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: S.name, abstract: S.abstract, discussion: S.discussion + """


            Sharded: with --shard I/N (or in a Slurm array task, or a Kubernetes Indexed Job with --shards N) the \
            command does shard I's part only, in <workdir>/\(S.folder)/shards/I-of-N/ (its own manifest; a \
            finished shard is up to date on a re-run); `pipeline merge \(S.name) --shards N` (with the same \
            options) then builds the stage's outputs, byte-identical to a run without shards.
            """)
    }

    @OptionGroup var arguments: S.Arguments
    @OptionGroup var sharding: ShardOptions
    @OptionGroup var global: GlobalOptions

    func run() throws {
        global.apply()
        let context = StageContext(workdir: global.work, force: global.force)
        let status: ExitStatus
        if let shard = try sharding.resolved() {
            status = try StageDriver.report(try S.runShard(arguments, shard: shard, in: context))
            try mergeIfLast(shard, context)
        } else {
            status = try StageDriver.run(S.self, arguments, in: context)
        }
        if status != .ok { throw StageExit(status: status) }
    }

    /// The last shard to finish merges (outside `pipeline run`, whose executor merges itself): when every shard of
    /// N is done, the merge runs here; a merge another shard is running (the work directory's lock) is left to it.
    func mergeIfLast(_ shard: Shard, _ context: StageContext) throws {
        let env = ProcessInfo.processInfo.environment
        guard env["PIPELINE_RUN_PARENT"] == nil, env["PIPELINE_NO_AUTO_MERGE"] != "1" else { return }
        let done = context.workdir.shardStates(S.folder).filter { $0.name.hasSuffix("-of-\(shard.count)") }
        guard done.count == shard.count, done.allSatisfy({ $0.state == "done" }) else { return }
        do {
            _ = try StageDriver.report(try S.merge(arguments, shards: shard.count,
                                                   in: StageContext(workdir: context.workdir, force: false)))
        } catch let e as RunError {
            guard case .locked = e else { throw e }
            print("\(S.name): another process holds the work directory; it merges")
        }
    }
}

/// `pipeline merge <stage> --shards N`: a sharded stage's outputs from its N shards.
struct MergeStageCommand<S: ShardedStage>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: S.name,
                             abstract: "Build the \(S.name) stage's outputs from its shards (\(S.folder)/shards/*).")
    }

    @OptionGroup var arguments: S.Arguments
    @Option(name: .long, help: ArgumentHelp("The number of shards the stage ran as.", valueName: "N"))
    var shards: Int
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard shards >= 1 else { throw ValidationError("--shards must be at least 1") }
    }

    func run() throws {
        global.apply()
        let context = StageContext(workdir: global.work, force: global.force)
        let status = try StageDriver.report(try S.merge(arguments, shards: shards, in: context))
        if status != .ok { throw StageExit(status: status) }
    }
}

/// `pipeline merge`: one subcommand per sharded stage.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Build a sharded stage's outputs from its shards (run after the last shard).",
        discussion: """
        Each shard of a stage writes <workdir>/<folder>/shards/I-of-N/; the merge checks that all N are there and \
        up to date for the same inputs and options, then writes the stage's normal outputs and manifest, \
        byte-identical to a run without shards. Give the stage's options as its shards had them.
        """,
        subcommands: Pipeline.mergeCommands)
}

extension Stage {
    /// `pipeline <name>` for this stage.
    static var command: ParsableCommand.Type { StageCommand<Self>.self }
}

extension ShardedStage {
    /// `pipeline <name>` with `--shard`, for a sharded stage.
    static var shardedCommand: ParsableCommand.Type { ShardedStageCommand<Self>.self }
    /// `pipeline merge <name>`.
    static var mergeCommand: ParsableCommand.Type { MergeStageCommand<Self>.self }
}
