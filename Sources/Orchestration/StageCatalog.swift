import ArgumentParser
import Core
import Foundation

extension StageSpec {
    /// The pipeline row of a stage, derived from its declaration: name, folder, abstract, the run's wiring, and one
    /// config key per option of `S.Arguments` (hidden and wired ones left out).
    public init<S: Stage>(_ stage: S.Type) {
        // The options as the command has them when given only what a run wires (their defaults).
        var inputs = RunInputs()
        inputs.pdfs = ["papers"]; inputs.gsm8k = ["train.jsonl"]
        let defaults = try? S.Arguments.parse(S.runArguments(inputs: inputs, workdir: Workdir(path: "/nonexistent")))
        self.init(name: S.name, folder: S.folder, summary: S.abstract,
                  parameters: StageParameter.derive(from: S.Arguments.self, defaults: defaults,
                                                    excluding: S.wiredArguments),
                  inputArguments: { S.runArguments(inputs: $0, workdir: $1) },
                  replacedBy: { S.notNeeded(inputs: $0) })
        sharded = S.self is any ShardedStage.Type
    }
}

extension StageParameter {
    /// The config keys of an options type, in declaration order. The flag, default and help come from
    /// swift-argument-parser's own description of the type (`_dumpHelp`), the value's type from the property
    /// wrappers themselves; `defaults` (the type parsed from no options) supplies the defaults swift-argument-parser
    /// does not print (options with a `transform`). `excluding` names properties (`paths`, `model`) that the run
    /// wires from `[inputs]`.
    public static func derive(from type: ParsableArguments.Type, defaults: ParsableArguments? = nil,
                              excluding: Set<String> = []) -> [StageParameter] {
        let described = ArgumentDescription.arguments(of: type)
        let declared = DeclaredArgument.walk(type, parsed: defaults)
        precondition(described.count == declared.count,
                     "\(type): \(described.count) described arguments, \(declared.count) declared")
        var out: [StageParameter] = []
        for (d, property) in zip(described, declared) {
            guard d.shouldDisplay, !excluding.contains(property.name) else { continue }
            let long = d.names?.first { $0.kind == "long" }?.name
            let kind = property.kind
            let key: String
            let passing: Passing
            switch d.kind {
            case "positional":
                key = DeclaredArgument.snakeCase(property.name)
                passing = .positional
            case "flag":
                guard let long else { continue }
                key = long.replacingOccurrences(of: "-", with: "_")
                let negative = d.names?.first { $0.kind == "long" && $0.name == "no-" + long }?.name
                passing = .flag("--" + long, negative.map { "--" + $0 })
            default:
                guard let long else { continue }
                key = long.replacingOccurrences(of: "-", with: "_")
                passing = .option("--" + long)
            }
            let text = d.defaultValue ?? (d.kind == "option" ? property.value : nil)
            out.append(StageParameter(key, kind, ConfigValue.parse(text, kind: kind, flag: d.kind == "flag"),
                                      passing, d.abstract ?? ""))
        }
        return out
    }
}

extension ConfigValue {
    /// A default as swift-argument-parser prints it, read as a config value of `kind` (nil: no default).
    static func parse(_ text: String?, kind: StageParameter.Kind, flag: Bool) -> ConfigValue? {
        if flag { return .bool(text == "true") }
        guard let text else { return kind == .strings ? .strings([]) : nil }
        switch kind {
        case .int: return Int(text).map(ConfigValue.int)
        case .double: return Double(text).map(ConfigValue.double)
        case .bool: return .bool(text == "true")
        case .string: return .string(text)
        case .strings: return .strings(text.isEmpty || text == "[]" ? [] : [text])
        }
    }
}

/// The part of swift-argument-parser's `--experimental-dump-help` description of one argument that a config
/// needs.
struct ArgumentDescription: Decodable {
    struct Name: Decodable {
        var kind: String
        var name: String
    }
    var kind: String
    var names: [Name]?
    var defaultValue: String?
    var abstract: String?
    var shouldDisplay: Bool

    private struct Tool: Decodable {
        struct Command: Decodable { var arguments: [ArgumentDescription]? }
        var command: Command
    }

    /// Every argument of `type`, in declaration order, without the generated help flag.
    static func arguments(of type: ParsableArguments.Type) -> [ArgumentDescription] {
        let json = type._dumpHelp()
        guard let tool = try? JSONDecoder().decode(Tool.self, from: Data(json.utf8)) else { return [] }
        return (tool.command.arguments ?? []).filter { a in
            !(a.names ?? []).contains { $0.kind == "long" && $0.name == "help" }
        }
    }
}

/// One property of an options type, as declared: its name and the kind of value it holds.
struct DeclaredArgument {
    var name: String
    var kind: StageParameter.Kind
    /// The value in `parsed` (nil when absent, or an optional without a value).
    var value: String?

    /// The properties of `type` (option groups flattened), in declaration order; with their values when `parsed`
    /// (an instance of `type` that went through parsing) is given.
    static func walk(_ type: ParsableArguments.Type, parsed: ParsableArguments?) -> [DeclaredArgument] {
        var out: [DeclaredArgument] = []
        for child in Mirror(reflecting: parsed ?? type.init()).children {
            guard let label = child.label else { continue }
            if let group = child.value as? OptionGroupValue {
                out += walk(group.groupType, parsed: parsed == nil ? nil : group.parsedGroup)
            } else if let wrapper = child.value as? ArgumentValue {
                let name = label.hasPrefix("_") ? String(label.dropFirst()) : label
                out.append(DeclaredArgument(name: name, kind: kind(of: wrapper.valueType),
                                            value: parsed == nil ? nil : wrapper.parsedDescription))
            }
        }
        return out
    }

    static func kind(of type: Any.Type) -> StageParameter.Kind {
        let t = (type as? OptionalValue.Type)?.wrappedType ?? type
        switch t {
        case is any BinaryInteger.Type: return .int
        case is any BinaryFloatingPoint.Type: return .double
        case is Bool.Type: return .bool
        case is [String].Type: return .strings
        default: return .string
        }
    }

    /// `vocabSize` → `vocab_size`.
    static func snakeCase(_ name: String) -> String {
        var out = ""
        for c in name {
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
        return out
    }
}

/// A property wrapper of swift-argument-parser: the type of its value, and (only after parsing) the value.
protocol ArgumentValue {
    var valueType: Any.Type { get }
    /// The parsed value as text; nil for an optional without a value. Only valid on a parsed instance.
    var parsedDescription: String? { get }
}

private func describe(_ value: Any) -> String? {
    if let o = value as? OptionalValue { return o.unwrapped.map { "\($0)" } }
    return "\(value)"
}

extension Option: ArgumentValue {
    var valueType: Any.Type { Value.self }
    var parsedDescription: String? { describe(wrappedValue) }
}
extension Flag: ArgumentValue {
    var valueType: Any.Type { Value.self }
    var parsedDescription: String? { describe(wrappedValue) }
}
extension Argument: ArgumentValue {
    var valueType: Any.Type { Value.self }
    var parsedDescription: String? { describe(wrappedValue) }
}

protocol OptionGroupValue {
    var groupType: ParsableArguments.Type { get }
    /// Only valid on a parsed instance.
    var parsedGroup: ParsableArguments { get }
}
extension OptionGroup: OptionGroupValue {
    var groupType: ParsableArguments.Type { Value.self }
    var parsedGroup: ParsableArguments { wrappedValue }
}

protocol OptionalValue {
    static var wrappedType: Any.Type { get }
    var unwrapped: Any? { get }
}
extension Optional: OptionalValue {
    static var wrappedType: Any.Type { Wrapped.self }
    var unwrapped: Any? { self.map { $0 as Any } }
}

extension RunStages {
    /// A complete `pipeline.toml` with every stage's every key at its command's default (keys without a default
    /// commented out), each with its help: what `pipeline config` prints.
    public static func defaultConfig() -> String {
        var out = """
        # pipeline.toml — every key with the default of the command that takes it (`pipeline config` wrote this).
        # Delete what you do not change: an unset key keeps the command's default.

        [run]
        workdir = "artifacts"        # the work directory (one folder per stage); --workdir overrides it
        runs = "runs"                # where runs/<UTC timestamp>/ logs, summary.json and report.html go

        [inputs]
        pdfs = []                    # PDF folders (and .txt/.md files) read by ingest; [] skips ingest
        gsm8k = []                   # GSM8K files (split name = file name); [] skips gsm8k
        base_model = ""              # a GPT-2 folder to start from instead of pretraining ("" = pretrain)

        """
        for spec in all {
            out += "\n[\(spec.name)]        # \(spec.summary)\n"
            for p in spec.parameters {
                let help = p.help.replacingOccurrences(of: "\n", with: " ")
                let line = p.defaultValue.map { "\(p.key) = \($0.toml)" } ?? "# \(p.key) ="
                out += line + String(repeating: " ", count: max(1, 29 - line.count)) + "# \(help)\n"
            }
        }
        return out
    }
}

extension ConfigValue {
    /// The value in TOML syntax.
    var toml: String {
        func quoted(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        switch self {
        case .string(let s): return quoted(s)
        case .strings(let list): return "[" + list.map(quoted).joined(separator: ", ") + "]"
        case .double(let d): return d == d.rounded() && abs(d) < 1e15 ? String(format: "%.1f", d) : String(d)
        default: return description
        }
    }
}
