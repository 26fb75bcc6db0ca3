import Core
import Foundation

/// Reads the rows of a GSM8K file: JSON Lines (plain or zstd) or one JSON array, streamed either way.
public enum GSM8KReader {
    /// One row as found in the file: decoded, or the reason it cannot be.
    public enum Row {
        case ok(question: String, answer: String)
        case bad(reason: String)
    }

    /// Calls `body(row, line, rowIndex)` for every row: every non-blank line of a JSON Lines file, every element
    /// of a JSON array file. Returns the number of rows. A JSON array that is not closed is an error.
    @discardableResult
    public static func forEachRow(path: String, _ body: (Row, Int, Int) throws -> Void) throws -> Int {
        if try isArray(path: path) {
            return try forEachArrayElement(path: path) { bytes, line, index in
                try body(decode(bytes), line, index)
            }
        }
        var index = 0
        try ByteReader(path: path).forEachLine { line, number in
            var start = 0
            if number == 1 && line.count >= 3 && line[0] == 0xEF && line[1] == 0xBB && line[2] == 0xBF { start = 3 }
            var blank = true
            for k in start..<line.count where !isJSONSpace(line[k]) { blank = false; break }
            if blank { return }
            try body(decode(UnsafeBufferPointer(rebasing: line[start...])), number, index)
            index += 1
        }
        return index
    }

    @inline(__always) static func isJSONSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> Row {
        var first: UInt8 = 0
        for b in bytes where !isJSONSpace(b) { first = b; break }
        let data = Data(buffer: bytes)
        do {
            let f = try JSONDecoder().decode(GSM8KRow.self, from: data)
            return .ok(question: f.question, answer: f.answer)
        } catch DecodingError.dataCorrupted {
            return .bad(reason: "invalid JSON")
        } catch {
            if first != 0x7B, (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil {
                return .bad(reason: "not a JSON object")
            }
            return .bad(reason: JSONLReader.describe(error))
        }
    }

    /// Whether the first non-blank byte of the content (after a byte order mark) is `[`.
    static func isArray(path: String) throws -> Bool {
        let reader = try ByteReader(path: path)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var offset = 0
        while true {
            let n = try chunk.withUnsafeMutableBytes { try reader.read(into: $0) }
            if n == 0 { return false }
            for k in 0..<n {
                let b = chunk[k]
                if offset + k < 3 && (b == 0xEF || b == 0xBB || b == 0xBF) { continue }
                if !isJSONSpace(b) { return b == 0x5B }
            }
            offset += n
        }
    }

    /// Streams the elements of a top-level JSON array: each element's bytes, its first line, its index. Elements
    /// are delimited by the top-level commas (outside strings and nested brackets); each is decoded on its own, so
    /// one bad element is one bad row. An array that never closes, or text after it, is an error.
    static func forEachArrayElement(path: String,
                                    _ body: (UnsafeBufferPointer<UInt8>, Int, Int) throws -> Void) throws -> Int {
        let reader = try ByteReader(path: path)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var line = 1
        var state = 0 // 0 before '[', 1 inside the array, 2 after ']'
        var element: [UInt8] = []
        var elementLine = 0
        var depth = 0
        var inString = false, escaped = false
        var index = 0
        var sawSeparator = false
        var offset = 0

        func finishElement() throws {
            while let last = element.last, isJSONSpace(last) { element.removeLast() }
            if element.isEmpty {
                // `[]` is an empty array; an empty element between commas is a bad row.
                if sawSeparator || index > 0 {
                    try [UInt8]().withUnsafeBufferPointer { try body($0, line, index) }
                    index += 1
                }
            } else {
                try element.withUnsafeBufferPointer { try body($0, elementLine, index) }
                index += 1
            }
            element.removeAll(keepingCapacity: true)
        }

        while true {
            let n = try chunk.withUnsafeMutableBytes { try reader.read(into: $0) }
            if n == 0 { break }
            for k in 0..<n {
                let b = chunk[k]
                defer { if b == 0x0A { line += 1 } }
                switch state {
                case 0:
                    if offset + k < 3 && (b == 0xEF || b == 0xBB || b == 0xBF) { continue }
                    if isJSONSpace(b) { continue }
                    guard b == 0x5B else {
                        throw GSM8KError.malformed(path: path, line: line, reason: "expected a JSON array")
                    }
                    state = 1
                case 1:
                    if inString {
                        element.append(b)
                        if escaped {
                            escaped = false
                        } else if b == 0x5C {
                            escaped = true
                        } else if b == 0x22 {
                            inString = false
                        }
                        continue
                    }
                    if depth == 0 && (b == 0x2C || b == 0x5D) {
                        if b == 0x2C { sawSeparator = true }
                        try finishElement()
                        if b == 0x5D { state = 2 }
                        continue
                    }
                    if element.isEmpty {
                        if isJSONSpace(b) { continue }
                        elementLine = line
                    }
                    element.append(b)
                    switch b {
                    case 0x22: inString = true
                    case 0x7B, 0x5B: depth += 1
                    case 0x7D, 0x5D: if depth > 0 { depth -= 1 }
                    default: break
                    }
                default:
                    if !isJSONSpace(b) {
                        throw GSM8KError.malformed(path: path, line: line,
                                                   reason: "text after the end of the JSON array")
                    }
                }
            }
            offset += n
        }
        if state == 1 {
            throw GSM8KError.malformed(path: path, line: line,
                                       reason: "the JSON array is not closed (file ends inside it)")
        }
        return index
    }
}

/// The `gsm8k` stage: GSM8K files → `gsm8k/<split>.jsonl.zst` (one per input file) and `gsm8k/rejects.jsonl.zst`.
public enum GSM8KStage {
    /// The stage's name and folder.
    public static let name = "gsm8k"
    /// Bumped when the record format changes (makes earlier outputs stale).
    public static let formatVersion = "1"

    /// What one input file gave.
    public struct Split: Equatable, Sendable {
        /// The split's name (its records are `<name>.jsonl.zst`).
        public var name: String
        /// The input file as given.
        public var input: String
        /// Records written.
        public var records: Int
        /// Rows skipped (in `rejects.jsonl.zst`).
        public var skipped: Int
        /// The first few skipped lines, for the summary.
        public var skippedLines: [Int]
    }

    /// What a run of the stage did.
    public struct Outcome: Sendable {
        /// False when the stage was up to date and nothing ran.
        public var ran: Bool
        /// The splits written, in input order (none when up to date).
        public var splits: [Split]
        /// The stage's folder.
        public var outputDir: String
        /// Rows skipped over all splits.
        public var skipped: Int { splits.reduce(0) { $0 + $1.skipped } }
    }

    /// The split named after a file: its name without `.zst`, then without `.jsonl`/`.json`/`.jl`/`.ndjson`.
    public static func splitName(for path: String) -> String {
        var name = (path as NSString).lastPathComponent
        if name.hasSuffix(".zst") { name.removeLast(4) }
        for ext in [".jsonl", ".json", ".ndjson", ".jl"] where name.hasSuffix(ext) {
            name.removeLast(ext.count)
            break
        }
        return name
    }

    /// The records file a `--data` argument names (`sft`, `grpo`, `eval`, `reward`): the path itself when it is a
    /// file, else the split it names, with `.jsonl.zst` or `.jsonl` appended (`artifacts/gsm8k/test` →
    /// `artifacts/gsm8k/test.jsonl.zst`). A folder is not a records file: the error lists its splits.
    public static func recordsFile(_ path: String) throws -> String {
        for candidate in [path, path + ".jsonl.zst", path + ".jsonl"]
        where FileSystem.exists(candidate) && !FileSystem.isDirectory(candidate) {
            return candidate
        }
        let splits = FileSystem.isDirectory(path) ? FileSystem.listFiles(path).compactMap(split(ofRecordsFile:)) : []
        throw GSM8KError.noRecords(path: path, splits: splits)
    }

    /// The split a file of a stage folder holds (`train.jsonl.zst` → `train`), or nil (rejects, other files).
    static func split(ofRecordsFile name: String) -> String? {
        guard !name.contains("/"), name.hasSuffix(".jsonl.zst") || name.hasSuffix(".jsonl") else { return nil }
        let split = splitName(for: name)
        return split.isEmpty || split == "rejects" ? nil : split
    }

    /// Checks the split names: `--split` only with one file, no two files with one name, names usable as file
    /// names.
    public static func splitNames(files: [String], split: String?) throws -> [String] {
        guard !files.isEmpty else { throw GSM8KError.usage("gsm8k: give at least one input file") }
        if let s = split, files.count != 1 {
            throw GSM8KError.usage("--split \(s) names the output of one input file; \(files.count) were given")
        }
        let names = split.map { [$0] } ?? files.map(splitName(for:))
        for name in names {
            if name.isEmpty || name.contains("/") || name.hasPrefix(".") || name == "rejects" || name == "manifest" {
                throw GSM8KError.usage("'\(name)' cannot be a split name (use --split NAME)")
            }
        }
        var seen: [String: String] = [:]
        for (name, file) in zip(names, files) {
            if let other = seen[name] {
                throw GSM8KError.usage("\(other) and \(file) would both write split '\(name)'")
            }
            seen[name] = file
        }
        return names
    }

    /// Runs the stage. Returns `ran == false` when it is up to date (unless `force`).
    public static func run(workdir: Workdir, files: [String], split: String? = nil,
                           markers: ReasoningMarkers = .standard, force: Bool = false) throws -> Outcome {
        if let problem = markers.problem { throw GSM8KError.usage(problem) }
        let names = try splitNames(files: files, split: split)
        for f in files where !FileSystem.exists(f) { throw CoreError.notFound(path: f) }
        var parameters = markers.parameters
        parameters["splits"] = names.joined(separator: ",")
        parameters["format_version"] = formatVersion
        let outDir = workdir.stageDir(name)
        guard let run = try StageRun.begin(workdir: workdir, stage: name, inputs: files, parameters: parameters,
                                           force: force) else {
            return Outcome(ran: false, splits: [], outputDir: outDir)
        }
        // The stage's folder is replaced as a whole: say which earlier splits this run does not write again.
        let dropped = (run.previous?.parameters["splits"] ?? "").split(separator: ",").map(String.init)
            .filter { !$0.isEmpty && !names.contains($0) }
        if !dropped.isEmpty {
            let list = dropped.joined(separator: ", "), s = dropped.count == 1 ? "" : "s"
            let keep = "give every file in one call to keep them"
            log.warning("gsm8k: replacing the previous output: split\(s) \(list) will be gone (\(keep))")
        }
        let rejects = try JSONLWriter<GSM8KReject>(path: run.output("rejects.jsonl.zst"))
        var splits: [Split] = []
        for (file, splitName) in zip(files, names) {
            let writer = try ZstdWriter(path: run.output(splitName + ".jsonl.zst"))
            var result = Split(name: splitName, input: file, records: 0, skipped: 0, skippedLines: [])
            let progress = Progress("gsm8k \(splitName)", unit: "rows")
            let rows = try GSM8KReader.forEachRow(path: file) { row, line, index in
                progress.advance()
                var reason: String
                switch row {
                case let .ok(question, answer):
                    if let record = GSM8K.record(id: "\(splitName)-\(index)", question: question, answer: answer,
                                                 markers: markers) {
                        try writer.write(record.jsonLine())
                        result.records += 1
                        return
                    }
                    reason = "no '####' in the answer"
                case let .bad(why):
                    reason = why
                }
                result.skipped += 1
                if result.skippedLines.count < 10 { result.skippedLines.append(line) }
                try rejects.write(GSM8KReject(file: file, split: splitName, line: line, row: index, reason: reason))
            }
            progress.finish()
            try writer.close()
            if rows == 0 { throw GSM8KError.emptyInput(path: file) }
            run.records[splitName] = result.records
            splits.append(result)
        }
        try rejects.close()
        run.records["rejects"] = splits.reduce(0) { $0 + $1.skipped }
        try run.commit()
        return Outcome(ran: true, splits: splits, outputDir: outDir)
    }
}
