import ArgumentParser
import Foundation

/// The raw material a run starts from: the `[inputs]` section of `pipeline.toml`.
public struct RunInputs: Equatable, Sendable {
    /// PDF folders and files (and .txt/.md files) that `ingest` reads.
    public var pdfs: [String] = []
    /// GSM8K files, one split each.
    public var gsm8k: [String] = []
    /// A GPT-2 folder to start from instead of pretraining ("" = pretrain).
    public var baseModel: String = ""
    /// The stages of this run that come before, when the run is submitted as one chain (Slurm): their outputs do
    /// not exist yet when the arguments are made, but will when the stage runs.
    public var planned: Set<String> = []
    public init() {}

    /// Whether stage `name`'s file `file` exists, or will once the stages planned before have run.
    public func willExist(_ name: String, _ file: String, in workdir: Workdir) -> Bool {
        planned.contains(name) || FileSystem.exists(workdir.stageDir(name) + "/" + file)
    }
}

/// How a stage run ended. `pipeline run` reads it from the stage's outcome file, never from its log.
public enum StageStatus: String, Codable, Sendable {
    /// The stage computed and committed its outputs.
    case ran
    /// The manifest showed the same inputs, parameters and intact outputs: nothing was done.
    case upToDate = "up to date"
    /// The outputs were committed, but some inputs were skipped (exit status 3).
    case ranWithSkips = "ran with skips"
}

/// What a stage returns: its status, the summary lines for the terminal and the inputs it skipped.
public struct StageResult: Codable, Equatable, Sendable {
    /// The stage's command name.
    public var stage: String
    public var status: StageStatus
    /// Summary lines printed on stdout after the run (progress and warnings go to stderr while it runs).
    public var lines: [String]
    /// Inputs left out, each with its reason (the stage also reports them on stderr and in its artifacts).
    public var skipped: [SkippedInput]

    public init(stage: String, status: StageStatus, lines: [String] = [], skipped: [SkippedInput] = []) {
        self.stage = stage; self.status = status; self.lines = lines; self.skipped = skipped
    }

    /// An input a stage left out, and why.
    public struct SkippedInput: Codable, Equatable, Sendable {
        public var input: String
        public var reason: String
        public init(input: String, reason: String) { self.input = input; self.reason = reason }
    }

    /// The exit status of the stage's command: 0, or 3 when inputs were skipped.
    public var exitStatus: ExitStatus { status == .ranWithSkips ? .finishedWithSkips : .ok }
}

/// What a stage runs in: the work directory, `--force`, and where its progress lines go.
public struct StageContext: Sendable {
    public var workdir: Workdir
    /// Re-run even when the manifest says up to date.
    public var force: Bool
    /// Prints one progress line on stdout at once (a stage's own lines during a long run).
    public var say: @Sendable (String) -> Void

    public init(workdir: Workdir, force: Bool, say: @escaping @Sendable (String) -> Void = StageContext.printLine) {
        self.workdir = workdir; self.force = force; self.say = say
    }

    /// `print` and flush, so a log shows the line when it happens.
    public static let printLine: @Sendable (String) -> Void = { line in
        print(line)
        fflush(stdout)
    }
}

/// The one contract every pipeline stage conforms to.
///
/// A stage declares its name, its artifact folder, and its options once, as a `ParsableArguments` type: each
/// option's flag, default and help. The `pipeline <name>` command and the `[<name>]` section of `pipeline.toml`
/// (keys are the long flag names with `_` for `-`) are both derived from that declaration. `run` does the work,
/// using `StageRun` for the up-to-date check, the temporary folder, the manifest and the atomic swap, and returns
/// a `StageResult`; `StageDriver` prints it, records it for `pipeline run` and gives the exit status.
public protocol Stage {
    /// The stage's options: command-line flags and config keys in one declaration.
    associatedtype Arguments: ParsableArguments

    /// The subcommand name (`pipeline <name>`) and the `pipeline.toml` section.
    static var name: String { get }
    /// The folder under the work directory that holds its outputs and manifest.
    static var folder: String { get }
    /// One line for the command list and the run's stage table.
    static var abstract: String { get }
    /// The `--help` text below the usage line.
    static var discussion: String { get }
    /// The arguments `pipeline run` fills from `[inputs]` and the work directory (by their Swift property names
    /// without the underscore, e.g. `paths`, `model`, `adapter`): not config keys.
    static var wiredArguments: Set<String> { get }
    /// The arguments `pipeline run` passes before the configured options, from `[inputs]` and the work directory.
    static func runArguments(inputs: RunInputs, workdir: Workdir) -> [String]
    /// Non-nil when the inputs make the stage unnecessary in a run (no PDFs for ingest, a base model for
    /// pretrain): why.
    static func notNeeded(inputs: RunInputs) -> String?
    /// Runs the stage.
    static func run(_ arguments: Arguments, in context: StageContext) throws -> StageResult
}

extension Stage {
    public static var folder: String { name }
    public static var discussion: String { "" }
    public static var wiredArguments: Set<String> { [] }
    public static func runArguments(inputs: RunInputs, workdir: Workdir) -> [String] { [] }
    public static func notNeeded(inputs: RunInputs) -> String? { nil }

    /// The result of a run that found the stage up to date.
    public static var upToDate: StageResult { StageResult(stage: name, status: .upToDate) }
}

/// Runs a stage as its command does: the work, the summary lines, the outcome file, the exit status.
public enum StageDriver {
    /// The environment variable naming the file where a stage started by `pipeline run` records its result.
    public static let outcomeVariable = "PIPELINE_OUTCOME"

    /// Runs `stage` and prints its lines (`<name>: up to date` when nothing was done). When `PIPELINE_OUTCOME`
    /// names a file, the result is written there as JSON (atomically) for the runner. Returns the exit status.
    public static func run<S: Stage>(_ stage: S.Type, _ arguments: S.Arguments, in context: StageContext) throws
        -> ExitStatus {
        try report(try S.run(arguments, in: context))
    }

    /// Prints `result` (`<stage>: up to date` when nothing was done), records it in the outcome file, and returns
    /// the exit status: what `run` does after the stage's work, also for a shard or a merge.
    public static func report(_ result: StageResult) throws -> ExitStatus {
        if result.status == .upToDate && result.lines.isEmpty {
            print("\(result.stage): up to date")
        }
        for line in result.lines { print(line) }
        fflush(stdout)
        if let path = ProcessInfo.processInfo.environment[outcomeVariable], !path.isEmpty {
            try FileSystem.atomicWrite(try JSON.encode(result, pretty: true) + [0x0A], to: path)
        }
        return result.exitStatus
    }

    /// Reads an outcome file a stage wrote; nil when it is absent or unreadable (the stage died first).
    public static func readOutcome(path: String) -> StageResult? {
        guard FileSystem.exists(path), let bytes = try? ByteReader(path: path).readAll() else { return nil }
        return try? JSONDecoder().decode(StageResult.self, from: Data(bytes))
    }
}

/// Parsers for floating-point options that refuse `inf` and `nan`: the option is named in the usage error (exit 2)
/// instead of a run that trains to a NaN loss.
public enum Finite {
    struct NotFinite: Error, CustomStringConvertible {
        let value: String
        var description: String { "\(value) is not a finite number" }
    }

    public static let float: @Sendable (String) throws -> Float = { text in
        guard let v = Float(text), v.isFinite else { throw NotFinite(value: text) }
        return v
    }

    public static let double: @Sendable (String) throws -> Double = { text in
        guard let v = Double(text), v.isFinite else { throw NotFinite(value: text) }
        return v
    }
}
