import CPoppler
import Core
import Foundation

/// Errors of the `ingest` stage.
public enum IngestError: PipelineError {
    case notFound(path: String)
    case noInputs(paths: [String])
    case usage(String)
    case worker(String)
    case badPrevious(path: String, reason: String)

    /// The one-line message naming the file or folder at fault.
    public var message: String {
        switch self {
        case let .notFound(path): return "\(path): no such file or directory"
        case let .noInputs(paths): return "no PDF, .txt or .md file found in \(paths.joined(separator: ", "))"
        case let .usage(text): return text
        case let .worker(text): return "ingest worker: \(text)"
        case let .badPrevious(path, reason): return "\(path): \(reason)"
        }
    }

    /// The exit status: usage for a usage error, otherwise failed.
    public var exitStatus: ExitStatus {
        if case .usage = self { return .usage }
        return .failed
    }
}

extension DocumentRecord {
    /// A skip that says nothing about the file itself (a worker crash or time-out): retried by the next run.
    var isTransient: Bool {
        status == "skipped" && (error?.hasPrefix(IngestStage.transientPrefixes.0) == true
                                || error?.hasPrefix(IngestStage.transientPrefixes.1) == true)
    }
}

/// `pipeline ingest`: PDFs, text and Markdown files → pages, documents and a plain-text corpus.
public enum IngestStage {
    /// The stage's name and folder.
    public static let stage = "ingest"
    static let transientPrefixes = ("worker ", "timed out")

    /// The options of one ingest run.
    public struct Options: Sendable {
        /// Files and folders to ingest.
        public var paths: [String]
        /// How the extracted text is cleaned.
        public var text: TextOptions
        /// Password for encrypted PDFs.
        public var password: String?
        /// Worker processes extracting in parallel.
        public var jobs: Int
        /// Seconds a worker may spend on one document before it is stopped.
        public var docTimeout: Double
        /// How to start a worker process.
        public var worker: WorkerCommand
        /// Re-extract every document even when the stage is up to date.
        public var force: Bool

        /// Options for `paths`, the others at their defaults.
        public init(paths: [String], text: TextOptions = TextOptions(), password: String? = nil,
                    jobs: Int = Machine.cores, docTimeout: Double = 120, worker: WorkerCommand, force: Bool = false) {
            self.paths = paths; self.text = text; self.password = password; self.jobs = jobs
            self.docTimeout = docTimeout; self.worker = worker; self.force = force
        }
    }

    /// What an ingest run did.
    public struct Outcome: Sendable {
        /// Whether the stage ran (false: up to date).
        public var ran: Bool
        /// The stage folder the outputs are in.
        public var outputDir: String
        /// Documents recorded.
        public var documents = 0
        /// Pages extracted.
        public var pages = 0
        /// Documents skipped.
        public var skipped = 0
        /// Documents extracted by the workers in this run (the rest were reused from the previous output).
        public var extracted = 0
        /// Documents reused from the previous output.
        public var reused = 0
        /// Worker processes started.
        public var workersStarted = 0
        /// Documents skipped because their worker crashed or timed out (tried again by the next run).
        public var transient = 0
        /// Inputs with the same bytes as an earlier input (recorded as `duplicate`, not extracted).
        public var duplicates = 0
        /// Each skipped input (its path as found) with the reason.
        public var skippedInputs: [StageResult.SkippedInput] = []
    }

    /// The input files: each file argument as given, and the `*.pdf`, `*.txt` and `*.md` files (extension in any
    /// case; hidden files and folders skipped) under each folder argument, recursively. Sorted by path (byte
    /// order); a file reached by several paths (`dir` and `./dir`, symbolic links) is taken once, by its first path.
    /// Among paths to one file, the first argument's wins, then a path that is not itself a symbolic link, then
    /// byte order.
    public static func findInputs(_ paths: [String]) throws -> [String] {
        var best: [String: (arg: Int, link: Bool, path: String)] = [:]
        var unresolved: [String] = []
        for (arg, raw) in paths.enumerated() {
            for path in try findPaths([raw]) {
                guard let real = realpath(path, nil) else { unresolved.append(path); continue }
                let key = String(cString: real)
                free(real)
                var st = stat()
                let link = lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
                let candidate = (arg: arg, link: link, path: path)
                if let b = best[key] {
                    let better = arg != b.arg ? arg < b.arg
                        : link != b.link ? !link : Array(path.utf8).lexicographicallyPrecedes(Array(b.path.utf8))
                    if !better { continue }
                }
                best[key] = candidate
            }
        }
        return Set(best.values.map(\.path) + unresolved).sorted {
            Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8))
        }
    }

    static func findPaths(_ paths: [String]) throws -> [String] {
        var found = Set<String>()
        for raw in paths {
            guard FileSystem.exists(raw) else { throw IngestError.notFound(path: raw) }
            if !FileSystem.isDirectory(raw) {
                // Each input is read twice (hashed, then extracted by a worker): a pipe would be empty the second time.
                guard FileSystem.isRegularFile(raw) else {
                    throw IngestError.usage("\(raw): not a regular file (a pipe or device); "
                                            + "ingest reads each file twice, so save it to a file first")
                }
                found.insert(raw)
                continue
            }
            var base = raw
            while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
            for rel in walk(base) {
                let lower = rel.lowercased()
                guard lower.hasSuffix(".pdf") || lower.hasSuffix(".txt") || lower.hasSuffix(".md") else { continue }
                found.insert(base == "." ? rel : (base == "/" ? "/" + rel : base + "/" + rel))
            }
        }
        return found.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// Regular files under `dir` (relative paths), not entering hidden entries; symbolic links are followed, each
    /// folder entered once (a link back up the tree is not a loop).
    static func walk(_ dir: String) -> [String] {
        var out: [String] = []
        var stack: [String] = [""]
        var seen = Set<String>()
        while let rel = stack.popLast() {
            let full = rel.isEmpty ? dir : dir + "/" + rel
            var st = stat()
            guard stat(full, &st) == 0, seen.insert("\(st.st_dev):\(st.st_ino)").inserted else { continue }
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: full) else { continue }
            for name in names where !name.hasPrefix(".") {
                let r = rel.isEmpty ? name : rel + "/" + name
                let p = dir + "/" + r
                if FileSystem.isDirectory(p) { stack.append(r) } else if FileSystem.exists(p) { out.append(r) }
            }
        }
        return out
    }

    /// The parameters recorded in the manifest: every option that changes the output. The password is recorded
    /// as a hash prefix, never in clear.
    public static func parameters(_ o: Options) -> [String: String] {
        [
            "normalize": o.text.normalization.rawValue,
            "dehyphenate": String(o.text.dehyphenate),
            "strip_headers": String(o.text.stripHeaders),
            "password": o.password.map { "sha256:" + String(Hashing.sha256($0).prefix(16)) } ?? "none",
            "poppler": String(cString: poppler_get_version()),
        ]
    }

    /// Ingests `o.paths` into <workdir>/ingest (unless up to date) and says what it did.
    public static func run(workdir: Workdir, options o: Options) throws -> Outcome {
        try execute(workdir: workdir, options: o, shard: nil)
    }

    /// Shard `shard` of the stage: the input files whose sha256 is the shard's (`Shard.owns(sha256:)`), in
    /// `ingest/shards/I-of-N/`. Every path to the same bytes lands in the same shard, so a duplicate and the file it
    /// duplicates are always side by side. The shard's corpus has no blank line between documents; its
    /// `corpus_extents.json` gives each document's bytes there, for the merge. Not run when it is up to date.
    public static func runShard(workdir: Workdir, options o: Options, shard: Shard) throws -> Outcome {
        try execute(workdir: workdir, options: o, shard: shard)
    }

    /// The checks every ingest run makes, and its input files.
    static func validInputs(_ o: Options) throws -> [String] {
        guard !o.paths.isEmpty else { throw IngestError.usage("ingest: give at least one file or folder") }
        guard o.jobs >= 1 else { throw IngestError.usage("--jobs must be at least 1") }
        guard o.docTimeout > 0 else { throw IngestError.usage("--doc-timeout must be positive") }
        let inputs = try findInputs(o.paths)
        guard !inputs.isEmpty else { throw IngestError.noInputs(paths: o.paths) }
        return inputs
    }

    /// The whole stage (`shard` nil) or one shard of it.
    static func execute(workdir: Workdir, options o: Options, shard: Shard?) throws -> Outcome {
        var inputs = try validInputs(o)
        var params = parameters(o)
        let stage = shard.map { Workdir.shardStage(Self.stage, $0) } ?? Self.stage
        // A shard hashes every input to find its own; those hashes are not computed again.
        var known: [String: String] = [:]
        if let shard {
            params["shard"] = shard.description
            var mine: [String] = []
            for path in inputs {
                let sha = try Hashing.sha256(path: path)
                if shard.owns(sha256: sha) { mine.append(path); known[path] = sha }
            }
            inputs = mine
        }
        var outcome = Outcome(ran: false, outputDir: workdir.stageDir(stage))
        // Documents skipped last time for a worker crash or time-out are tried again, even if nothing changed.
        let retry = (workdir.manifest(stage)?.records["retry"] ?? 0) > 0
        guard let run = try StageRun.begin(workdir: workdir, stage: stage, inputs: inputs, parameters: params,
                                           force: o.force || retry) else { return outcome }
        outcome.ran = true

        // Identity of each input; a later file with the same bytes is a duplicate of the first (not extracted).
        var records: [DocumentRecord] = []
        records.reserveCapacity(inputs.count)
        var firstSource: [String: String] = [:]
        for path in inputs {
            let sha = try known[path] ?? Hashing.sha256(path: path)
            var r = DocumentRecord(docID: String(sha.prefix(16)), source: path, sha256: sha,
                                   bytes: try FileSystem.fileSize(path), pages: 0, title: nil, author: nil,
                                   created: nil, status: "ok", error: nil)
            if let first = firstSource[sha] {
                r.status = "duplicate"
                r.duplicateOf = first
            } else {
                firstSource[sha] = path
            }
            records.append(r)
        }

        // Results of the previous run with the same parameters, by sha256 (pages spilled to a scratch file).
        let cache = o.force ? nil : try PreviousResults.load(run: run, parameters: params,
                                                             wanted: Set(records.map(\.sha256)),
                                                             scratch: run.output(".reuse.tmp"))
        defer { cache?.close() }

        let pagesOut = try JSONLWriter<PageRecord>(path: run.output("pages.jsonl.zst"))
        let docsOut = try JSONLWriter<DocumentRecord>(path: run.output("documents.jsonl.zst"))
        let corpus = try ZstdWriter(path: run.output("corpus.txt.zst"))
        var corpusDocs = 0
        var extents: [Int] = []   // a shard's corpus bytes of each document
        let progress = Progress("ingest", total: inputs.count, unit: "documents")

        /// Writes document `i` and its pages.
        func emit(_ i: Int, _ doc: DocumentRecord, _ pages: [String]) throws {
            var doc = doc
            doc.pages = doc.status == "ok" ? pages.count : 0
            for (k, text) in pages.enumerated() where doc.status == "ok" {
                try pagesOut.write(PageRecord(docID: doc.docID, source: doc.source, page: k, text: text))
            }
            try docsOut.write(doc)
            if doc.status == "ok" && !pages.isEmpty {
                let text = CorpusLayout.document(pages)
                try corpus.write(corpusDocs > 0 && shard == nil ? "\n" + text : text)
                corpusDocs += 1
                outcome.pages += pages.count
                extents.append(text.utf8.count)
            } else {
                extents.append(0)
            }
            outcome.documents += 1
            if doc.isDuplicate {
                outcome.duplicates += 1
                log.notice("\(doc.source): duplicate of \(doc.duplicateOf ?? "?") (same sha256), not extracted again")
            } else if doc.status == "skipped" {
                outcome.skipped += 1
                outcome.skippedInputs.append(.init(input: doc.source, reason: doc.error ?? "unknown reason"))
                if doc.isTransient { outcome.transient += 1 }
                log.warning("\(doc.source): skipped: \(doc.error ?? "unknown reason")")
            } else if let note = doc.error {
                log.warning("\(doc.source): \(note)")
            }
            progress.advance()
        }

        // Reused documents are ready at once; the others go to the workers. Results are written in input order:
        // a result that arrives early waits (at most `window` documents ahead of the oldest one still out).
        // Reused documents' pages are read from the scratch file only when their turn comes.
        var ready: [Int: (DocumentRecord, [String])] = [:]
        var reusable = Set<Int>()
        var todo: [Int] = []
        for (i, r) in records.enumerated() {
            if r.isDuplicate {
                ready[i] = (r, [])
            } else if cache?.has(sha256: r.sha256) == true {
                reusable.insert(i)
                outcome.reused += 1
            } else {
                todo.append(i)
            }
        }
        var nextToEmit = 0
        func flush() throws {
            while true {
                if let r = ready.removeValue(forKey: nextToEmit) {
                    try emit(nextToEmit, r.0, r.1)
                } else if reusable.remove(nextToEmit) != nil,
                          let hit = try cache?.take(sha256: records[nextToEmit].sha256) {
                    var d = hit.0
                    d.source = records[nextToEmit].source
                    try emit(nextToEmit, d, hit.1)
                } else {
                    return
                }
                nextToEmit += 1
            }
        }
        try flush()
        if !todo.isEmpty {
            let pool = WorkerPool(command: o.worker, size: min(o.jobs, todo.count), timeout: o.docTimeout)
            defer { pool.shutdown() }
            let window = max(8, 16 * o.jobs)
            // Largest file first among the pending documents of the window: big documents start early instead
            // of leaving one worker busy alone at the end (the output order is unaffected).
            var pending = todo
            try pool.run(
                hasMore: { !pending.isEmpty },
                next: {
                    let limit = nextToEmit + window
                    var best = -1
                    for (k, i) in pending.enumerated() {
                        if i >= limit { break }
                        if best < 0 || records[i].bytes > records[pending[best]].bytes { best = k }
                    }
                    guard best >= 0 else { return nil }
                    let i = pending.remove(at: best)
                    return WorkerPool.Job(index: i, request: WorkerMessage.Request(
                        path: records[i].source, password: o.password, options: o.text))
                },
                done: { job, result in
                    var doc = records[job.index]
                    var pages: [String] = []
                    switch result {
                    case .done(let response):
                        let d = response.document
                        doc.title = d.title
                        doc.author = d.author
                        doc.created = d.created
                        if let reason = d.skipReason {
                            doc.status = "skipped"
                            doc.error = reason
                        } else {
                            doc.error = d.note
                            pages = d.pages
                        }
                        if let diag = response.diagnostics { log.debug("\(doc.source): poppler: \(diag)") }
                    case .failed(let why):
                        doc.status = "skipped"
                        doc.error = why
                    }
                    outcome.extracted += 1
                    ready[job.index] = (doc, pages)
                    try flush()
                })
            outcome.workersStarted = pool.started
        }
        try flush()
        guard nextToEmit == records.count else {
            throw IngestError.worker("internal error: \(records.count - nextToEmit) document(s) from "
                                     + "\(records[nextToEmit].source) on were never answered")
        }
        progress.finish()
        try pagesOut.close()
        try docsOut.close()
        try corpus.close()
        cache?.close()
        FileSystem.remove(run.output(".reuse.tmp"))
        if shard != nil { try FileSystem.atomicWrite(try JSON.encode(extents), to: run.output(extentsName)) }
        run.records = ["documents": outcome.documents, "pages": outcome.pages, "skipped": outcome.skipped,
                       "retry": outcome.transient]
        if outcome.duplicates > 0 { run.records["duplicates"] = outcome.duplicates }
        try run.commit()
        return outcome
    }
}

/// The previous output's documents (with the same parameters), reusable by sha256: the page texts of the wanted
/// documents are copied to a scratch file once, so that memory holds only their offsets.
final class PreviousResults {
    private var docs: [String: DocumentRecord] = [:]
    /// doc_id → (offset, length) of each page's text in the scratch file.
    private var pages: [String: [(Int, Int)]] = [:]
    private let scratch: FileHandle?
    private let scratchPath: String

    private init(scratchPath: String, scratch: FileHandle?) {
        self.scratchPath = scratchPath; self.scratch = scratch
    }

    static func load(run: StageRun, parameters: [String: String], wanted: Set<String>,
                     scratch: String) throws -> PreviousResults? {
        guard let dir = run.previousDir, let m = run.previous, m.parameters == parameters else { return nil }
        let docsPath = dir + "/documents.jsonl.zst", pagesPath = dir + "/pages.jsonl.zst"
        guard FileSystem.exists(docsPath), FileSystem.exists(pagesPath) else { return nil }
        var docs: [String: DocumentRecord] = [:]
        do {
            try JSONLReader.forEach(DocumentRecord.self, path: docsPath) { d, _ in
                if wanted.contains(d.sha256) && !d.isTransient && !d.isDuplicate
                    && docs[d.sha256] == nil { docs[d.sha256] = d }
            }
        } catch {
            log.warning("previous ingest output unreadable, extracting everything again: \(error)")
            return nil
        }
        guard !docs.isEmpty else { return nil }
        let ids = Set(docs.values.filter { $0.status == "ok" }.map(\.docID))
        guard FileManager.default.createFile(atPath: scratch, contents: nil),
              let handle = FileHandle(forUpdatingAtPath: scratch) else {
            throw CoreError.io(path: scratch, operation: "create", errno: errno)
        }
        let result = PreviousResults(scratchPath: scratch, scratch: handle)
        var offset = 0
        var buffer = Data()
        do {
            try JSONLReader.forEach(PageRecord.self, path: pagesPath) { p, _ in
                guard ids.contains(p.docID) else { return }
                var list = result.pages[p.docID] ?? []
                guard list.count == p.page else { return } // a repeated document: its first copy is enough
                let bytes = Data(p.text.utf8)
                buffer.append(bytes)
                list.append((offset, bytes.count))
                result.pages[p.docID] = list
                offset += bytes.count
                if buffer.count >= 1 << 20 {
                    try handle.write(contentsOf: buffer); buffer.removeAll(keepingCapacity: true)
                }
            }
            try handle.write(contentsOf: buffer)
        } catch {
            log.warning("previous ingest output unreadable, extracting everything again: \(error)")
            result.close()
            return nil
        }
        // Only documents whose pages are all there are reused.
        for (sha, d) in docs where d.status == "ok" && (result.pages[d.docID]?.count ?? 0) != d.pages {
            docs[sha] = nil
        }
        result.docs = docs
        return result
    }

    func has(sha256: String) -> Bool { docs[sha256] != nil && scratch != nil }

    /// The record and page texts for a file of this sha256, or nil.
    func take(sha256: String) throws -> (DocumentRecord, [String])? {
        guard let d = docs[sha256], let scratch else { return nil }
        guard d.status == "ok" else { return (d, []) }
        var texts: [String] = []
        for (off, len) in pages[d.docID] ?? [] {
            try scratch.seek(toOffset: UInt64(off))
            let data = try scratch.read(upToCount: len) ?? Data()
            texts.append(String(decoding: data, as: UTF8.self))
        }
        return (d, texts)
    }

    func close() {
        try? scratch?.close()
    }
}
