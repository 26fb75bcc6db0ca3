import Core
import Foundation
import Logging

/// Thrown by a command that finished but must exit with a non-zero status (3: some inputs skipped).
struct StageExit: Error {
    let status: ExitStatus
}

/// Prints log records as single lines on stderr: `warning: …`, `error: …`, and plain text for info.
struct LineLogHandler: LogHandler {
    let label: String
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = ProcessInfo.processInfo.environment["PIPELINE_DEBUG"] == nil ? .info : .debug

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let prefix: String
        switch event.level {
        case .trace, .debug: prefix = "debug: "
        case .info, .notice: prefix = ""
        case .warning: prefix = "warning: "
        case .error, .critical: prefix = "error: "
        }
        FileHandle.standardError.write(Data((prefix + event.message.description + "\n").utf8))
    }
}
