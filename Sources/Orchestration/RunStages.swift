import Core
import Decontaminate
import Dedup
import Foundation
import Index
import GSM8K
import Ingest
import Tokenize
import Train

/// A value in the run configuration.
public enum ConfigValue: Equatable, Sendable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)
    case strings([String])

    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .double(let v): return String(v)
        case .string(let v): return "\"\(v)\""
        case .bool(let v): return v ? "true" : "false"
        case .strings(let v): return "[" + v.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        }
    }
}

/// One option of a stage command, as it appears in `pipeline.toml` and on the stage's command line.
public struct StageParameter: Sendable {
    public enum Kind: String, Sendable {
        case int = "integer", double = "floating-point number", string, bool = "boolean", strings = "array of strings"
    }
    /// How the value becomes arguments.
    public enum Passing: Sendable {
        /// `--flag value` (an int/double/string; an empty string is omitted, so the command's own default applies).
        case option(String)
        /// `--flag` when true; when false, the inversion (`--no-flag`) if the option has one, else nothing.
        case flag(String, String?)
        /// Positional arguments (an array of strings).
        case positional
    }
    public let key: String
    public let kind: Kind
    /// The command's own default; nil: optional, omitted unless set.
    public let defaultValue: ConfigValue?
    public let passing: Passing
    public let help: String

    public init(_ key: String, _ kind: Kind, _ defaultValue: ConfigValue?, _ passing: Passing, _ help: String) {
        self.key = key; self.kind = kind; self.defaultValue = defaultValue; self.passing = passing; self.help = help
    }
}

/// One row of the pipeline: the command that runs it, the folder it writes, its options, and any arguments it takes
/// from the `[inputs]` section. Adding a stage to `pipeline run` is adding one entry to `RunStages.all`.
public struct StageSpec: Sendable {
    /// The subcommand name (`pipeline <name>`), also the section name in `pipeline.toml`.
    public let name: String
    /// The folder under the work directory holding its outputs and manifest.
    public let folder: String
    public let summary: String
    public let parameters: [StageParameter]
    /// Arguments taken from `[inputs]` (placed before the stage's own options).
    /// Arguments taken from `[inputs]` and the work directory's state (placed before the stage's own options).
    public let inputArguments: @Sendable (RunInputs, Workdir) -> [String]
    /// Non-nil when the inputs make the stage unnecessary (no PDFs for ingest, a base model for pretrain): why.
    public let replacedBy: @Sendable (RunInputs) -> String?
    /// Whether the stage can run as shards (`--shard I/N`) and a merge.
    public var sharded = false

    public init(name: String, folder: String, summary: String, parameters: [StageParameter] = [],
                inputArguments: @escaping @Sendable (RunInputs, Workdir) -> [String] = { _, _ in [] },
                replacedBy: @escaping @Sendable (RunInputs) -> String? = { _ in nil }) {
        self.name = name; self.folder = folder; self.summary = summary; self.parameters = parameters
        self.inputArguments = inputArguments; self.replacedBy = replacedBy
    }

    /// The command line for this stage (without the executable), from the configured values.
    public func arguments(values: [String: ConfigValue], inputs: RunInputs, workdir: String, force: Bool) -> [String] {
        var args = [name] + inputArguments(inputs, Workdir(path: workdir))
        for p in parameters {
            guard let v = values[p.key] ?? p.defaultValue else { continue }
            switch (p.passing, v) {
            case (.positional, .strings(let list)): args += list
            case (.flag(let f, let off), .bool(let on)):
                if on { args.append(f) } else if let off { args.append(off) }
            case (.option(let f), .string(let s)): if !s.isEmpty { args += [f, s] }
            case (.option(let f), _): args += [f, v.description]
            default: break
            }
        }
        args += ["--workdir", workdir]
        if force { args.append("--force") }
        return args
    }
}

public enum RunStages {
    /// Every stage, in pipeline order: the one place a stage is registered. The `pipeline` commands, the
    /// sections of `pipeline.toml` and the run's order all come from this list.
    public static let registered: [any Stage.Type] = [
        IngestStage.self, DedupStage.self, GSM8KStage.self, DecontaminateStage.self, BPETrainStage.self,
        TokenizeStage.self, ChunkStage.self, IndexBuilder.self, PretrainStage.self, SFTStage.self, GRPOStage.self,
        EvalStage.self,
    ]

    /// Every stage's row, derived from its declaration.
    public static let all: [StageSpec] = registered.map { StageSpec($0) }

    public static func spec(_ name: String) -> StageSpec? { all.first { $0.name == name } }
    public static var names: [String] { all.map(\.name) }

    /// The stages to run, in order: `only` (if any) or everything up to and including `until`.
    public static func select(until: String?, only: [String]) throws -> [StageSpec] {
        for n in only + (until.map { [$0] } ?? []) where spec(n) == nil {
            throw CoreError.usage("unknown stage \"\(n)\" (stages: \(names.joined(separator: ", ")))")
        }
        if !only.isEmpty {
            if until != nil { throw CoreError.usage("--until and --only cannot be combined") }
            return all.filter { only.contains($0.name) }
        }
        guard let u = until, let last = all.firstIndex(where: { $0.name == u }) else { return all }
        return Array(all[...last])
    }
}
