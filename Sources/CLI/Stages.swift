import ArgumentParser

extension Pipeline {
    /// The stage commands, in pipeline order. Each stage's issue adds its command here.
    static let stageCommands: [ParsableCommand.Type] = [
        GSM8KCommand.self,
        RewardCommand.self,
    ]
}
