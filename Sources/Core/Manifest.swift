import Foundation

/// The version written into every manifest. A change here makes every stage stale.
public enum PipelineVersion {
    public static let current = "0.1.0"
}

public struct FileRecord: Codable, Equatable, Sendable {
    public var path: String
    public var bytes: Int64
    public var sha256: String

    public init(path: String, bytes: Int64, sha256: String) {
        self.path = path; self.bytes = bytes; self.sha256 = sha256
    }

    /// Size and sha256 of the file at `path` (recorded under `name`, default the path itself).
    public static func of(path: String, name: String? = nil) throws -> FileRecord {
        FileRecord(path: name ?? path, bytes: try FileSystem.fileSize(path), sha256: try Hashing.sha256(path: path))
    }
}

/// `manifest.json` of a stage: what went in, with which parameters, what came out. Written last.
public struct Manifest: Codable, Equatable, Sendable {
    public var stage: String
    public var toolVersion: String
    public var parameters: [String: String]
    public var inputs: [FileRecord]
    /// Paths relative to the stage folder.
    public var outputs: [FileRecord]
    public var started: String
    public var finished: String
    public var seconds: Double
    public var records: [String: Int]

    enum CodingKeys: String, CodingKey {
        case stage, parameters, inputs, outputs, started, finished, seconds, records
        case toolVersion = "tool_version"
    }

    public static func load(path: String) throws -> Manifest {
        let bytes = try ByteReader(path: path).readAll()
        do {
            return try JSONDecoder().decode(Manifest.self, from: Data(bytes))
        } catch {
            throw CoreError.badRecord(path: path, line: 1, reason: "unreadable manifest: \(JSONLReader.describe(error))")
        }
    }
}

public enum Freshness: Equatable, Sendable {
    case upToDate
    case stale(reason: String)
    case missing

    public var label: String {
        switch self {
        case .upToDate: return "up to date"
        case .stale(let r): return "stale (\(r))"
        case .missing: return "missing"
        }
    }
}

extension Manifest {
    /// Compares this manifest with the stage's would-be inputs and parameters, and checks its outputs are intact.
    /// `inputs == nil` checks the recorded inputs against the files as they are now.
    public func freshness(stageDir: String, inputs: [String]? = nil, parameters: [String: String]? = nil) -> Freshness {
        if toolVersion != PipelineVersion.current { return .stale(reason: "made by version \(toolVersion)") }
        if let p = parameters, p != self.parameters {
            let changed = Set(p.keys).union(self.parameters.keys).filter { p[$0] != self.parameters[$0] }.sorted()
            return .stale(reason: "parameters changed: \(changed.joined(separator: ", "))")
        }
        if let paths = inputs, paths != self.inputs.map(\.path) { return .stale(reason: "the set of inputs changed") }
        for input in self.inputs {
            guard let size = try? FileSystem.fileSize(input.path) else { return .stale(reason: "input \(input.path) is gone") }
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
        }
        return .upToDate
    }
}
