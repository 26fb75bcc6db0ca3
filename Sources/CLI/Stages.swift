import ArgumentParser

extension Pipeline {
    /// The stage commands, in pipeline order, then the tools that work on their outputs.
    static let stageCommands: [ParsableCommand.Type] = [
        BPETrain.self,
        TokenizeCorpus.self,
        GSM8KCommand.self,
        ChunkCommand.self,
        RewardCommand.self,
        IndexCommand.self,
        SearchCommand.self,
        PretrainCommand.self,
        GenerateCommand.self,
        EvalLossCommand.self,
        Encode.self,
        Decode.self,
        Export.self,
        PeftInfoCommand.self,
        SFTCommand.self,
        GRPOCommand.self,
    ]
}
