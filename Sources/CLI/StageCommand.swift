import ArgumentParser
import Core

/// The command of a stage: its declared options, the options every stage takes, and the shared driver.
struct StageCommand<S: Stage>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: S.name, abstract: S.abstract, discussion: S.discussion)
    }

    @OptionGroup var arguments: S.Arguments
    @OptionGroup var global: GlobalOptions

    func run() throws {
        global.apply()
        let status = try StageDriver.run(S.self, arguments, in: StageContext(workdir: global.work, force: global.force))
        if status != .ok { throw StageExit(status: status) }
    }
}

extension Stage {
    /// `pipeline <name>` for this stage.
    static var command: ParsableCommand.Type { StageCommand<Self>.self }
}
