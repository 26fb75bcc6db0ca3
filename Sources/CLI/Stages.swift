import ArgumentParser
import Core
import Orchestration

extension Pipeline {
    /// The stage commands, in pipeline order (the names `pipeline run` knows), then the tools that work on
    /// their outputs.
    static let stageCommands: [ParsableCommand.Type] = RunStages.registered.map { stage in
        (stage as? any ShardedStage.Type)?.shardedCommand ?? stage.command
    } + [
        SearchCommand.self,
        AskCommand.self,
        GenerateCommand.self,
        EvalLossCommand.self,
        RewardCommand.self,
        ScoreGroup.self,
        SynthGSM8KCommand.self,
        Encode.self,
        Decode.self,
        PeftInfoCommand.self,
        Export.self,
    ]

    /// `pipeline merge <stage>` of every sharded stage.
    static let mergeCommands: [ParsableCommand.Type] = RunStages.registered.compactMap {
        ($0 as? any ShardedStage.Type)?.mergeCommand
    }

    /// Commands the user never calls (not in --help): the ingest stage's worker processes.
    static let internalCommands: [ParsableCommand.Type] = [IngestWorkerCommand.self, BenchCommand.self]
}
