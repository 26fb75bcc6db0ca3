import Core
import Foundation

/// A trainer whose complete state can be written into a stage folder and read back from it (`--resume`).
protocol ResumableTrainer: AnyObject {
    /// Optimizer steps done so far.
    var step: Int { get }
    /// Writes every file a resume needs (weights, moments, `trainer_state.json`, metrics) into `dir`.
    func writeState(to dir: String) throws
    /// Restores the state `writeState` wrote into `dir`.
    func restore(from dir: String) throws
}

/// The checkpoint-and-resume skeleton a training stage (pretrain, grpo) shares: whether an earlier run continues,
/// the restore, and the loop that commits a complete, resumable stage folder atomically every `saveEvery` steps
/// and at the end (a kill -9 loses at most the steps since the last commit).
struct CheckpointedStage {
    let workdir: Workdir
    let stage: String
    let inputs: [String]
    let parameters: [String: String]

    /// Whether to resume: when asked to, or when an interrupted run with the same inputs and parameters left a
    /// checkpoint (it continues); nil when that run finished (up to date). `force` starts afresh.
    func shouldResume(_ resume: Bool, force: Bool) -> Bool? {
        guard !resume, !force, let c = workdir.checkpoint(stage, inputs: inputs, parameters: parameters) else {
            return resume
        }
        if c.step >= c.total { return nil }
        log.info("\(stage): an interrupted run with the same options stopped at step \(c.step); continuing it")
        return true
    }

    /// Restores `trainer` from the stage folder when it holds a trainer state; otherwise warns (step 0).
    func restore(_ trainer: ResumableTrainer) throws {
        let dir = workdir.stageDir(stage)
        if FileSystem.exists(dir + "/trainer_state.json") {
            try trainer.restore(from: dir)
            log.info("\(stage): resuming at step \(trainer.step)")
        } else {
            log.warning("\(stage): nothing to resume in \(dir); starting from step 0")
        }
    }

    /// Calls `trainStep` (one optimizer step of `trainer`) until `total` steps are done or `stopAfter` is
    /// reached, committing the stage folder every `saveEvery` steps and at `total`; the manifest records `steps`,
    /// `total_steps` and `records`.
    func train(_ trainer: ResumableTrainer, total: Int, saveEvery: Int, stopAfter: Int?, records: [String: Int],
               trainStep: () throws -> Void) throws {
        func commit() throws {
            guard let run = try StageRun.begin(workdir: workdir, stage: stage, inputs: inputs, parameters: parameters,
                                               force: true) else { return }
            try trainer.writeState(to: run.tempDir)
            run.records["steps"] = trainer.step
            run.records["total_steps"] = total
            run.records.merge(records) { _, new in new }
            try run.commit()
        }
        let progress = Progress(stage, total: total, unit: "steps")
        progress.advance(by: trainer.step)
        while trainer.step < total {
            try trainStep()
            progress.advance()
            if trainer.step % max(1, saveEvery) == 0 || trainer.step == total { try commit() }
            if let stopAfter, trainer.step >= stopAfter { break }
        }
        progress.finish()
    }
}
