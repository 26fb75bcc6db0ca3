import ArgumentParser
import Core
import Foundation
import Logging

// A stage spawned by `pipeline run` dies with it (so a killed run leaves no stage writing on its own).
if let parent = ProcessInfo.processInfo.environment["PIPELINE_RUN_PARENT"].flatMap({ Int32($0) }),
   !SelfProcess.dieWithParent(parent) {
    exit(ExitStatus.failed.rawValue)
}
LoggingSystem.bootstrap { label in LineLogHandler(label: label) }
atexit { Spool.removeAll() }  // temporary copies of piped inputs
setvbuf(stdout, nil, _IOFBF, 1 << 16)

// A file named like a cluster of short options (`-dash` = -d -a -s -h) would be parsed as flags, not as a path.
for arg in CommandLine.arguments.dropFirst().prefix(while: { $0 != "--" })
where arg.hasPrefix("-") && !arg.hasPrefix("--") && arg.count > 2 && FileSystem.exists(arg) {
    FileHandle.standardError.write(Data(("error: \(arg) is a file but would be read as options; put paths that "
                                         + "start with a dash after --, as in `pipeline ingest -- \(arg)`\n").utf8))
    exit(ExitStatus.usage.rawValue)
}

do {
    var command = try Pipeline.parseAsRoot()
    try command.run()
    fflush(stdout)
    exit(0)
} catch let error as PipelineError {
    fflush(stdout)
    FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
    exit(error.exitStatus.rawValue)
} catch let error as StageExit {
    fflush(stdout)
    exit(error.status.rawValue)
} catch {
    fflush(stdout)
    let code = Pipeline.exitCode(for: error)
    if code == .success {
        Pipeline.exit(withError: error) // --help, --version
    }
    if code == .validationFailure {
        FileHandle.standardError.write(Data((Pipeline.fullMessage(for: error) + "\n").utf8))
        exit(ExitStatus.usage.rawValue)
    }
    let message = Pipeline.message(for: error)
    FileHandle.standardError.write(Data("error: \(message.isEmpty ? "\(error)" : message)\n".utf8))
    exit(ExitStatus.failed.rawValue)
}
