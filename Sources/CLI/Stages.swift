import ArgumentParser

extension Pipeline {
    /// The stage commands, in pipeline order (the names `pipeline run` knows), then the tools that work on
    /// their outputs.
    static let stageCommands: [ParsableCommand.Type] = [
        IngestCommand.self,
        BPETrain.self,
        TokenizeCorpus.self,
        GSM8KCommand.self,
        ChunkCommand.self,
        IndexCommand.self,
        PretrainCommand.self,
        SFTCommand.self,
        GRPOCommand.self,
        EvalCommand.self,
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

    /// Commands the user never calls (not in --help): the ingest stage's worker processes.
    static let internalCommands: [ParsableCommand.Type] = [IngestWorkerCommand.self]
}
