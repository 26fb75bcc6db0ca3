import Core
import Foundation

extension SlurmExecutor {
    /// The `sacct` states of `jobs` (array tasks as `<job>_<i>`): id → (state, ""), the state's first word
    /// (`CANCELLED by 0` → `CANCELLED`). Empty when sacct is absent or accounting is off (then squeue and the status
    /// files are all there is).
    func accounting(_ jobs: [String]) -> [String: (state: String, reason: String)] {
        let ids = Array(Set(jobs.map(SlurmChain.jobOf))).sorted()
        guard !ids.isEmpty, let out = try? command("sacct", ["--noheader", "--parsable2", "--allocations",
                                                             "--jobs=" + ids.joined(separator: ","),
                                                             "--format=JobID,State"]) else { return [:] }
        var states: [String: (state: String, reason: String)] = [:]
        for (job, q) in SlurmChain.parseQueue(out) {
            states[job] = (String(q.state.split(separator: " ").first ?? ""), "")
        }
        return states
    }

    /// What `pipeline status` prints of the Slurm chain submitted into `runDir`: a line per task (its label, its
    /// job id, done / running / pending / failed, with the exit status or Slurm's state) and a line of totals.
    /// Nil when the run has no chain.
    public func statusLines(runDir: String) throws -> [String]? {
        guard let states = try snapshot(runDir: runDir) else { return nil }
        let labels = states.map { t in
            t.merge ? t.stage + " merge" : (states.filter { $0.stage == t.stage && !$0.merge }.count > 1
                                            ? "\(t.stage) shard \(t.task)" : t.stage)
        }
        let width = labels.map(\.count).max() ?? 0
        let jobWidth = states.map(\.job.count).max() ?? 0
        var lines: [String] = []
        for (t, label) in zip(states, labels) {
            var state = t.job.isEmpty ? "missing (never submitted)" : t.state
            if t.state == "failed" {
                state += t.exit.map { " (exit \($0))" } ?? t.slurmState.map { " (\($0))" } ?? ""
            }
            lines.append("  " + label.padding(toLength: width + 2, withPad: " ", startingAt: 0) + "job "
                         + t.job.padding(toLength: jobWidth + 2, withPad: " ", startingAt: 0) + state)
        }
        let count = { (s: String) in states.filter { $0.state == s && !$0.job.isEmpty }.count }
        lines.append("  \(states.count) tasks: \(count("done")) done, \(count("running")) running, "
                     + "\(count("pending")) pending, \(count("failed")) failed")
        return lines
    }
}
