import Core
import Foundation
@testable import Ingest
import XCTest

/// Runs the built `pipeline` executable (.build/debug/pipeline, built by `swift build --build-tests`), the way a
/// user does: the ingest workers are that same executable.
enum PipelineProcess {
    static let packageRoot = SharedData.packageRoot(filePath: #filePath)

    static func binary() throws -> String {
        guard let b = SharedData.pipelineBinary() else { throw XCTSkip(SharedData.binaryAbsentMessage) }
        return b
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs `pipeline args…` in `directory` with extra environment variables; output goes through files (no pipe
    /// can fill up).
    static func run(_ args: [String], in directory: String, environment: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try binary())
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment
        env["PIPELINE_RUN_PARENT"] = nil
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = directory + "/.stdout-\(UUID().uuidString)", err = directory + "/.stderr-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        defer { FileSystem.remove(out); FileSystem.remove(err) }
        p.standardOutput = FileHandle(forWritingAtPath: out)
        p.standardError = FileHandle(forWritingAtPath: err)
        try p.run()
        p.waitUntilExit()
        return Result(status: p.terminationStatus,
                      stdout: String(decoding: FileManager.default.contents(atPath: out) ?? Data(), as: UTF8.self),
                      stderr: String(decoding: FileManager.default.contents(atPath: err) ?? Data(), as: UTF8.self))
    }
}

/// The outputs of one ingest run.
struct IngestOutput {
    let documents: [DocumentRecord]
    let pages: [PageRecord]
    let corpus: String
    /// sha256 of each output file.
    let hashes: [String: String]

    init(workdir: String) throws {
        let dir = workdir + "/ingest"
        documents = try JSONLReader.readAll(DocumentRecord.self, path: dir + "/documents.jsonl.zst")
        pages = try JSONLReader.readAll(PageRecord.self, path: dir + "/pages.jsonl.zst")
        corpus = String(decoding: try ByteReader(path: dir + "/corpus.txt.zst").readAll(), as: UTF8.self)
        var h: [String: String] = [:]
        for f in ["documents.jsonl.zst", "pages.jsonl.zst", "corpus.txt.zst"] { h[f] = try Hashing.sha256(path: dir + "/" + f) }
        hashes = h
    }

    func document(named name: String) -> DocumentRecord? {
        documents.first { ($0.source as NSString).lastPathComponent == name }
    }
}

/// Character-level similarity of two texts: 2·LCS / (|a| + |b|) over Unicode scalars (difflib's ratio without
/// its junk heuristics), computed with Myers' O((N+M)·D) difference algorithm. 1 for equal texts.
enum Similarity {
    static func ratio(_ a: String, _ b: String) -> Double {
        let x = Array(a.unicodeScalars.map(\.value)), y = Array(b.unicodeScalars.map(\.value))
        let total = x.count + y.count
        if total == 0 { return 1 }
        let d = editDistance(x, y)
        return Double(total - d) / Double(total)
    }

    /// The number of insertions and deletions that turn `x` into `y` (Myers 1986).
    static func editDistance(_ x: [UInt32], _ y: [UInt32]) -> Int {
        let n = x.count, m = y.count
        let maxD = n + m
        if maxD == 0 { return 0 }
        let offset = maxD + 1
        var v = [Int](repeating: 0, count: 2 * maxD + 3)
        for d in 0...maxD {
            var k = -d
            while k <= d {
                var px: Int
                if k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]) {
                    px = v[offset + k + 1]
                } else {
                    px = v[offset + k - 1] + 1
                }
                var py = px - k
                while px < n && py < m && x[px] == y[py] { px += 1; py += 1 }
                v[offset + k] = px
                if px >= n && py >= m { return d }
                k += 2
            }
        }
        return maxD
    }

    /// Runs of white space (spaces, tabs, newlines) as one space, trimmed.
    static func collapseSpaces(_ s: String) -> String {
        s.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).joined(separator: " ")
    }
}

extension XCTestCase {
    func sharedData() throws -> String {
        guard let d = SharedData.directory(filePath: #filePath) else { throw XCTSkip(SharedData.absentMessage) }
        return d
    }

    func makeTemp(_ label: String) throws -> String {
        let t = NSTemporaryDirectory() + "ingest-\(label)-\(getpid())-\(UUID().uuidString)"
        try FileSystem.makeDirectory(t)
        return t
    }

    /// The sample PDFs committed in data/papers (made by scripts/make_sample_papers.py).
    var samplePapers: String { PipelineProcess.packageRoot + "/data/papers" }

    func copy(_ from: String, to: String) throws {
        try FileSystem.makeDirectory((to as NSString).deletingLastPathComponent)
        FileSystem.remove(to)
        try FileManager.default.copyItem(atPath: from, toPath: to)
    }
}
