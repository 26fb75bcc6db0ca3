import ArgumentParser
import Core
import Foundation
import Ingest

/// The extraction worker `pipeline ingest` starts: framed requests on stdin, answers on stdout.
struct IngestWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest-worker",
        abstract: "Internal: the extraction worker process of `pipeline ingest`.",
        shouldDisplay: false)

    func run() throws {
        let status = IngestWorker.serve()
        if status != 0 { throw StageExit(status: .failed) }
    }
}
