import Core
import Foundation
@testable import GSM8K
import XCTest

/// The one resolver of `--data` (sft, grpo, eval, reward): a records file, or a split of the stage folder.
final class RecordsFileTests: XCTestCase {
    var temp = ""

    override func setUpWithError() throws {
        temp = NSTemporaryDirectory() + "gsm8k-records-file-\(getpid())-\(UUID().uuidString)"
        try FileSystem.makeDirectory(temp)
        Progress.enabled = false
    }

    override func tearDown() { FileSystem.remove(temp) }

    func message(_ path: String) -> String? {
        do { _ = try GSM8KStage.recordsFile(path); return nil } catch { return (error as? PipelineError)?.message }
    }

    func testAFileOrASplitNamesRecords() throws {
        let work = Workdir(path: temp + "/work")
        var files: [String] = []
        for split in ["train", "test"] {
            files.append(temp + "/\(split).jsonl")
            try FileSystem.atomicWrite("{\"question\": \"q\", \"answer\": \"#### 1\"}\n", to: files.last!)
        }
        _ = try GSM8KStage.run(workdir: work, files: files)
        let dir = work.stageDir("gsm8k")
        XCTAssertEqual(try GSM8KStage.recordsFile(dir + "/train"), dir + "/train.jsonl.zst")
        XCTAssertEqual(try GSM8KStage.recordsFile(dir + "/test.jsonl.zst"), dir + "/test.jsonl.zst")
        XCTAssertEqual(try GSM8KStage.recordsFile(temp + "/train"), temp + "/train.jsonl")
        XCTAssertEqual(message(dir + "/valid"),
                       dir + "/valid: no GSM8K records file here (give a file, or a split such as artifacts/gsm8k/test)")
    }

    /// A folder is neither a file nor a split (as `sft --help` and `reward --help` say): the error names the
    /// splits in it, for every command alike (sft and grpo used to take the folder's train split silently).
    func testAFolderIsAnErrorNamingItsSplits() throws {
        let work = Workdir(path: temp + "/work")
        let file = temp + "/train.jsonl"
        try FileSystem.atomicWrite("{\"question\": \"q\", \"answer\": \"#### 1\"}\n", to: file)
        _ = try GSM8KStage.run(workdir: work, files: [file])
        let dir = work.stageDir("gsm8k")
        XCTAssertEqual(message(dir), dir + ": a folder, not a GSM8K records file (give a file, or one of its splits: "
                       + dir + "/train)")
        XCTAssertEqual(message(dir + "/"), dir + "/: a folder, not a GSM8K records file (give a file, or one of its "
                       + "splits: " + dir + "/train)")
        try FileSystem.makeDirectory(temp + "/empty")
        XCTAssertEqual(message(temp + "/empty"), temp + "/empty: no GSM8K records file here (give a file, or a split "
                       + "such as artifacts/gsm8k/test)")
    }
}
