import Foundation

/// The version written into every manifest. A change here makes every stage stale.
public enum PipelineVersion {
    /// The current version.
    public static let current = "0.1.0"
}

/// One file of a manifest: its path, size and sha256.
public struct FileRecord: Codable, Equatable, Sendable {
    /// The file's path as recorded (outputs: relative to the stage folder).
    public var path: String
    /// Size in bytes.
    public var bytes: Int64
    /// SHA-256 of the contents, lower-case hex.
    public var sha256: String
    /// Outputs only: modification time (nanoseconds since 1970) and inode when written, so that a file changed
    /// in place with its size kept is noticed without hashing it.
    public var mtimeNs: Int64?
    /// The file's inode when written (outputs only).
    public var inode: UInt64?

    enum CodingKeys: String, CodingKey {
        case path, bytes, sha256
        case mtimeNs = "mtime_ns", inode
    }

    /// Two records are equal when they describe the same content under the same path; modification time and
    /// inode are a hint for the up-to-date check, not part of the content.
    public static func == (a: FileRecord, b: FileRecord) -> Bool {
        a.path == b.path && a.bytes == b.bytes && a.sha256 == b.sha256
    }

    /// A record of these values.
    public init(path: String, bytes: Int64, sha256: String, mtimeNs: Int64? = nil, inode: UInt64? = nil) {
        self.path = path; self.bytes = bytes; self.sha256 = sha256; self.mtimeNs = mtimeNs; self.inode = inode
    }

    /// Size and sha256 of the file at `path` (recorded under `name`, default the path itself); with `identity`,
    /// also its modification time and inode.
    public static func of(path: String, name: String? = nil, identity: Bool = false) throws -> FileRecord {
        var r = FileRecord(path: name ?? path, bytes: try FileSystem.fileSize(path),
                           sha256: try Hashing.sha256(path: path))
        if identity, let id = FileSystem.identity(path) { r.mtimeNs = id.mtimeNs; r.inode = id.inode }
        return r
    }
}

/// `manifest.json` of a stage: what went in, with which parameters, what came out. Written last.
public struct Manifest: Codable, Equatable, Sendable {
    /// The stage's name.
    public var stage: String
    /// The pipeline version that wrote it.
    public var toolVersion: String
    /// The parameters that change the outputs.
    public var parameters: [String: String]
    /// The files read.
    public var inputs: [FileRecord]
    /// Paths relative to the stage folder.
    public var outputs: [FileRecord]
    /// When the run started (ISO 8601 UTC).
    public var started: String
    /// When the run finished (ISO 8601 UTC).
    public var finished: String
    /// Duration of the run in seconds.
    public var seconds: Double
    /// Counts the stage reports (records, pages, steps, …).
    public var records: [String: Int]

    enum CodingKeys: String, CodingKey {
        case stage, parameters, inputs, outputs, started, finished, seconds, records
        case toolVersion = "tool_version"
    }

    /// The manifest at `path`; an error when it cannot be read or decoded.
    public static func load(path: String) throws -> Manifest {
        let bytes = try ByteReader(path: path).readAll()
        do {
            return try JSONDecoder().decode(Manifest.self, from: Data(bytes))
        } catch {
            throw CoreError.badRecord(path: path, line: 1,
                                      reason: "unreadable manifest: \(JSONLReader.describe(error))")
        }
    }
}

/// Whether a stage's folder matches its would-be inputs and parameters.
public enum Freshness: Equatable, Sendable {
    case upToDate
    /// A checkpointing stage (pretrain, grpo) that committed step `step` of `total` and was interrupted: its next
    /// run continues from there.
    case partial(step: Int, total: Int)
    case stale(reason: String)
    case missing

    /// A short description for `pipeline status`.
    public var label: String {
        switch self {
        case .upToDate: return "up to date"
        case let .partial(step, total): return "partial (step \(step) of \(total))"
        case .stale(let r): return "stale (\(r))"
        case .missing: return "missing"
        }
    }
}

extension Manifest {
    /// Compares this manifest with the stage's would-be inputs and parameters, and checks its outputs are intact:
    /// size, modification time and inode as recorded (a file whose time or inode moved is hashed), or with
    /// `verify` the sha256 of every output. `inputs == nil` checks the recorded inputs against the files as they
    /// are now. A checkpointing stage that stopped before its last step is `partial`.
    public func freshness(stageDir: String, inputs: [String]? = nil, parameters: [String: String]? = nil,
                          verify: Bool = false) -> Freshness {
        if toolVersion != PipelineVersion.current { return .stale(reason: "made by version \(toolVersion)") }
        if let p = parameters, p != self.parameters {
            let changed = Set(p.keys).union(self.parameters.keys).filter { p[$0] != self.parameters[$0] }.sorted()
            return .stale(reason: "parameters changed: \(changed.joined(separator: ", "))")
        }
        if let paths = inputs, paths != self.inputs.map(\.path) { return .stale(reason: "the set of inputs changed") }
        for input in self.inputs {
            guard let size = try? FileSystem.fileSize(input.path) else {
                return .stale(reason: "input \(input.path) is gone")
            }
            if size != input.bytes { return .stale(reason: "input \(input.path) changed") }
            guard let sha = try? Hashing.sha256(path: input.path), sha == input.sha256 else {
                return .stale(reason: "input \(input.path) changed")
            }
        }
        for output in outputs {
            let p = stageDir + "/" + output.path
            guard let size = try? FileSystem.fileSize(p), size == output.bytes else {
                return .stale(reason: "output \(output.path) is missing or altered")
            }
            // Time and inode are recorded for outputs only; a file whose either moved is hashed.
            let id = FileSystem.identity(p)
            let moved = (output.mtimeNs != nil && output.mtimeNs != id?.mtimeNs)
                || (output.inode != nil && output.inode != id?.inode)
            if verify || moved {
                guard let sha = try? Hashing.sha256(path: p), sha == output.sha256 else {
                    return .stale(reason: "output \(output.path) is altered (sha256 differs from the manifest)")
                }
            }
        }
        if let step = records["steps"], let total = records["total_steps"], step < total {
            return .partial(step: step, total: total)
        }
        return .upToDate
    }
}
