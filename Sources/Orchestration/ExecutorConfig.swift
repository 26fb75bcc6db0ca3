import Core
import Foundation
import TOMLKit

/// The `[executor]` section of `pipeline.toml`: where the stages run and in how many shards.
///
/// ```toml
/// [executor]
/// kind = "slurm"            # "local" (default) or "slurm"
/// shards = 16               # shards of every sharded stage (default 1: not sharded)
/// jobs = 8                  # local: shards run at once (default: the cores)
///
/// [executor.slurm]          # sbatch settings of every stage's jobs
/// partition = "cpu"
/// time = "2:00:00"
/// mem = "8G"
/// cpus_per_task = 4
/// account = "proj42"
/// sbatch_args = ["--qos=normal"]
/// max_parallel = 50         # the %P of --array=0-(N-1)%P
/// retries = 2               # resubmissions of a failed task
/// poll_seconds = 10
/// detach = false            # true: submit and return (`pipeline status` follows the jobs)
///
/// [executor.slurm.index]    # one stage's settings replacing those above
/// mem = "32G"
/// ```
public struct ExecutorConfig: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case local, slurm }
    public var kind = Kind.local
    /// Shards of every sharded stage; nil: not set (1, not sharded, unless the command line says otherwise).
    public var shards: Int?
    /// The local executor's shards running at once; nil: not set (the cores).
    public var jobs: Int?
    /// The Slurm executor's settings (`[executor.slurm]` and its per-stage tables).
    public var slurm = SlurmOptions()

    public init() {}

    static let keys = ["kind", "shards", "jobs", "slurm"]
    static let jobKeys = ["partition", "time", "mem", "cpus_per_task", "account", "sbatch_args", "max_parallel"]
    static let slurmKeys = jobKeys + ["retries", "poll_seconds", "detach"]

    /// Reads the `[executor]` table; `fail(section, key, reason)` makes the error naming the file and line.
    static func parse(_ table: TOMLTable, fail: (String?, String?, String) -> RunError) throws -> ExecutorConfig {
        var config = ExecutorConfig()
        func int(_ v: TOMLValueConvertible, _ section: String, _ key: String, min: Int) throws -> Int {
            guard let i = v.int else {
                throw fail(section, key, "\(section).\(key) must be an integer, not \(typeName(v))")
            }
            guard i >= min else { throw fail(section, key, "\(section).\(key) must be at least \(min), not \(i)") }
            return i
        }
        func string(_ v: TOMLValueConvertible, _ section: String, _ key: String) throws -> String {
            guard let s = v.string else {
                throw fail(section, key, "\(section).\(key) must be a string, not \(typeName(v))")
            }
            return s
        }
        func strings(_ v: TOMLValueConvertible, _ section: String, _ key: String) throws -> [String] {
            guard let a = v.array else {
                throw fail(section, key, "\(section).\(key) must be an array of strings, not \(typeName(v))")
            }
            return try a.map {
                guard let s = $0.string else {
                    throw fail(section, key, "\(section).\(key) must contain only strings, found \(typeName($0))")
                }
                return s
            }
        }
        /// One key of the job settings; false when `key` is not one.
        func job(_ o: inout SlurmJobOptions, _ v: TOMLValueConvertible, _ section: String,
                 _ key: String) throws -> Bool {
            switch key {
            case "partition": o.partition = try string(v, section, key)
            case "time": o.time = try string(v, section, key)
            case "mem": o.mem = try string(v, section, key)
            case "account": o.account = try string(v, section, key)
            case "cpus_per_task": o.cpusPerTask = try int(v, section, key, min: 1)
            case "max_parallel": o.maxParallel = try int(v, section, key, min: 1)
            case "sbatch_args": o.sbatchArguments = try strings(v, section, key)
            default: return false
            }
            return true
        }
        for key in table.keys {
            let v = table[key]!
            switch key {
            case "kind":
                let s = try string(v, "executor", key)
                guard let k = Kind(rawValue: s) else {
                    throw fail("executor", key, "executor.kind must be \"local\" or \"slurm\", not \"\(s)\"")
                }
                config.kind = k
            case "shards": config.shards = try int(v, "executor", key, min: 1)
            case "jobs": config.jobs = try int(v, "executor", key, min: 1)
            case "slurm":
                guard let slurm = v.table else {
                    throw fail("executor", key, "executor.slurm must be a table ([executor.slurm]), not \(typeName(v))")
                }
                let section = "executor.slurm"
                for key in slurm.keys {
                    let v = slurm[key]!
                    if try job(&config.slurm.job, v, section, key) { continue }
                    switch key {
                    case "retries": config.slurm.retries = try int(v, section, key, min: 0)
                    case "poll_seconds":
                        guard let d = v.double ?? v.int.map(Double.init), d > 0, d.isFinite else {
                            throw fail(section, key, "executor.slurm.poll_seconds must be a positive number")
                        }
                        config.slurm.pollSeconds = d
                    case "detach":
                        guard let b = v.bool else {
                            throw fail(section, key, "executor.slurm.detach must be a boolean, not \(typeName(v))")
                        }
                        config.slurm.detach = b
                    default:
                        guard let stage = v.table else {
                            throw fail(section, key, "unknown key executor.slurm.\(key) (known: "
                                       + slurmKeys.joined(separator: ", ") + ", or a stage's table)")
                        }
                        let sub = section + "." + key
                        guard RunStages.spec(key) != nil else {
                            throw fail(nil, sub, "unknown stage in [\(sub)] (known: "
                                       + RunStages.names.joined(separator: ", ") + ")")
                        }
                        var o = SlurmJobOptions()
                        for k in stage.keys {
                            guard try job(&o, stage[k]!, sub, k) else {
                                throw fail(sub, k, "unknown key \(sub).\(k) (known: "
                                           + jobKeys.joined(separator: ", ") + ")")
                            }
                        }
                        config.slurm.stages[key] = o
                    }
                }
            default:
                throw fail("executor", key, "unknown key executor.\(key) (known: \(keys.joined(separator: ", ")))")
            }
        }
        return config
    }
}
