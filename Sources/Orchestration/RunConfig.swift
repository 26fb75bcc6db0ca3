import Core
import Foundation
import TOMLKit

/// `pipeline.toml`: where the work goes, the raw inputs, and each stage's options.
public struct RunConfig: Sendable {
    public var path: String
    public var workdir: String = "artifacts"
    public var runsDir: String = "runs"
    public var inputs = RunInputs()
    /// Per stage name, the values set in its section (defaults are in the stage table).
    public var values: [String: [String: ConfigValue]] = [:]
    /// The `[executor]` section (local or Slurm, shards, the Slurm jobs' settings).
    public var executor = ExecutorConfig()

    public init(path: String) { self.path = path }

    public static func load(path: String) throws -> RunConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw CoreError.notFound(path: path) }
        guard let text = String(data: data, encoding: .utf8) else {
            throw RunError.config(path: path, line: nil, reason: "not UTF-8 text")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws -> RunConfig {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let e as TOMLParseError {
            throw RunError.config(path: path, line: e.source.begin.line, reason: e.description)
        }
        let lines = KeyLines(text)
        var config = RunConfig(path: path)
        func fail(_ section: String?, _ key: String?, _ reason: String) -> RunError {
            RunError.config(path: path, line: lines.line(section: section, key: key), reason: reason)
        }
        func strings(_ v: TOMLValueConvertible, _ section: String, _ key: String) throws -> [String] {
            guard let a = v.array else { throw fail(section, key, "\(section).\(key) must be an array of strings, not \(typeName(v))") }
            return try a.map {
                guard let s = $0.string else { throw fail(section, key, "\(section).\(key) must contain only strings, found \(typeName($0))") }
                return s
            }
        }
        func string(_ v: TOMLValueConvertible, _ section: String, _ key: String) throws -> String {
            guard let s = v.string else { throw fail(section, key, "\(section).\(key) must be a string, not \(typeName(v))") }
            return s
        }
        for section in root.keys {
            guard let value = root[section] else { continue }
            guard let table = value.table else {
                throw fail(nil, section, "\(section) must be a table ([\(section)]), not \(typeName(value))")
            }
            switch section {
            case "run":
                for key in table.keys {
                    let v = table[key]!
                    switch key {
                    case "workdir": config.workdir = try string(v, section, key)
                    case "runs": config.runsDir = try string(v, section, key)
                    default: throw fail(section, key, "unknown key run.\(key) (known: workdir, runs)")
                    }
                }
            case "inputs":
                for key in table.keys {
                    let v = table[key]!
                    switch key {
                    case "pdfs": config.inputs.pdfs = try strings(v, section, key)
                    case "gsm8k": config.inputs.gsm8k = try strings(v, section, key)
                    case "base_model": config.inputs.baseModel = try string(v, section, key)
                    default: throw fail(section, key, "unknown key inputs.\(key) (known: pdfs, gsm8k, base_model)")
                    }
                }
            case "executor":
                config.executor = try ExecutorConfig.parse(table, fail: fail)
            default:
                guard let spec = RunStages.spec(section) else {
                    throw fail(nil, section, "unknown section [\(section)] (known: run, inputs, executor, \(RunStages.names.joined(separator: ", ")))")
                }
                var values: [String: ConfigValue] = [:]
                for key in table.keys {
                    let v = table[key]!
                    guard let p = spec.parameters.first(where: { $0.key == key }) else {
                        let known = spec.parameters.map(\.key)
                        throw fail(section, key, "unknown key \(section).\(key)"
                                   + (known.isEmpty ? " (this stage takes no options yet)" : " (known: \(known.joined(separator: ", ")))"))
                    }
                    let wrong = fail(section, key, "\(section).\(key) must be \(p.kind == .int ? "an" : "a") \(p.kind.rawValue), not \(typeName(v))")
                    switch p.kind {
                    case .int: guard let i = v.int else { throw wrong }; values[key] = .int(i)
                    case .double:
                        if let d = v.double { values[key] = .double(d) } else if let i = v.int { values[key] = .double(Double(i)) } else { throw wrong }
                    case .string: guard let s = v.string else { throw wrong }; values[key] = .string(s)
                    case .bool: guard let b = v.bool else { throw wrong }; values[key] = .bool(b)
                    case .strings: values[key] = .strings(try strings(v, section, key))
                    }
                }
                config.values[section] = values
            }
        }
        return config
    }
}

func typeName(_ v: TOMLValueConvertible) -> String {
    switch v.type {
    case .table: return "table"
    case .array: return "array"
    case .string: return "string"
    case .int: return "integer"
    case .double: return "floating-point number"
    case .bool: return "boolean"
    case .date: return "date"
    case .time: return "time"
    case .dateTime: return "date-time"
    }
}

/// Finds the line of `key` in `[section]` (TOMLKit reports lines only for syntax errors).
struct KeyLines {
    private var entries: [(section: String?, key: String, line: Int)] = []

    init(_ text: String) {
        var section: String? = nil
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") {
                let name = line.dropFirst().prefix { $0 != "]" }.trimmingCharacters(in: CharacterSet(charactersIn: " \"'"))
                section = name
                entries.append((nil, name, i + 1))
            } else if let eq = line.firstIndex(of: "="), !line.hasPrefix("#") {
                let key = line[..<eq].trimmingCharacters(in: CharacterSet(charactersIn: " \"'"))
                entries.append((section, key, i + 1))
            }
        }
    }

    func line(section: String?, key: String?) -> Int? {
        guard let key else { return nil }
        return entries.first { $0.section == section && $0.key == key }?.line
    }
}
