import ArgumentParser
import Core
import Foundation

extension Normalization: ExpressibleByArgument {}

/// `pipeline ingest`.
extension IngestStage: ShardedStage {
    /// The options of `pipeline ingest` and the keys of `[ingest]`.
    public struct Arguments: ParsableArguments {
        @Argument(help: ArgumentHelp("PDF, text or Markdown files, or folders holding them.", valueName: "path"))
        public var paths: [String]

        @Option(name: .long, help: ArgumentHelp("Worker processes (default: the number of cores).", valueName: "n"))
        public var jobs: Int?

        @Option(name: .long, help: ArgumentHelp("Password for encrypted PDFs (tried on every PDF; recorded in the "
                                                 + "manifest only as a hash).", valueName: "password"))
        public var password: String?

        @Option(name: .long, help: ArgumentHelp("Text normalisation: nfkc (default) or none.", valueName: "nfkc|none"))
        public var normalize: Normalization = .nfkc

        @Flag(name: .long, help: "Join words split by a hyphen at a line end.")
        public var dehyphenate = false

        @Flag(name: .long, help: "Drop running heads, running feet and page numbers.")
        public var stripHeaders = false

        @Option(name: .long, help: ArgumentHelp("Time limit per document in seconds (default 120); a document over "
                                                 + "it is skipped.", valueName: "seconds"))
        public var docTimeout: Double = 120

        /// The defaults.
        public init() {}

        /// Rejects fewer than one job and a time-out that is not a positive number.
        public func validate() throws {
            if let j = jobs, j < 1 { throw ValidationError("--jobs must be at least 1") }
            if !(docTimeout > 0) { throw ValidationError("--doc-timeout must be a positive number of seconds") }
        }
    }

    public static var name: String { stage }
    public static let abstract =
        "Extract the text of PDFs (through poppler), text and Markdown files into pages and a corpus."
    public static let discussion = """
        Takes files and folders. Folders are searched recursively for *.pdf, *.txt and *.md files (extension in \
        any case; hidden files and folders are left out); a file named on the command line is always taken (.txt \
        and .md as text, anything else as a PDF). Inputs are processed in byte order of their paths.

        Text is poppler-glib's page text (reading order), extracted in worker processes (at most --jobs, one \
        document at a time each; a document that crashes its worker or runs longer than --doc-timeout is \
        skipped and a fresh worker takes over). A .txt or .md file is one page (its bytes as UTF-8).

        Normalisation (--normalize): form feeds become newlines; with nfkc (the default) the text is then \
        put in Unicode NFKC, so ligatures (ﬁ ﬂ ﬀ ﬃ …), full-width and other compatibility forms expand. \
        Nothing else changes.
        --dehyphenate: where a line ends with "-" right after a letter and the next line starts with a \
        lowercase letter, the hyphen and the line break are removed, so the word is whole and the rest of the \
        next line continues the line ("exam-\\nple text" → "example text"), as pdftotext's default mode does.
        --strip-headers: in documents of at least 3 pages, the first two and last two non-blank lines of each \
        page are compared position by position, blanks trimmed and digit runs read as one wildcard ("Page 3" = \
        "Page 4", bare page numbers match); such a line is dropped where its form recurs at the same position \
        on more than half the pages, or on more than half the odd or the even pages (at least 3 times), as \
        running heads, running feet and page numbers do.
        Order: normalisation, dehyphenation, header removal.

        Outputs in <workdir>/ingest/ (zstd):
          pages.jsonl.zst      one record per page, in document then page order: doc_id (first 16 hex digits \
        of the file's sha256), source (the path as found), page (0-based), text.
          documents.jsonl.zst  one record per input: doc_id, source, sha256, bytes, pages, title, author, \
        created (ISO 8601 UTC or null), status (ok | skipped | duplicate), error (null, the reason for a skip, \
        or a note on an extracted document such as the pages of a truncated file that were recovered); a \
        duplicate also has duplicate_of.

        Duplicates: a file with the same bytes (sha256) as an earlier input, in path order, is recorded as \
        status duplicate with duplicate_of (the first file's path) and no pages, with a note: line on stderr; \
        it is not a failure (exit status 0). A file reached through several paths (a folder given twice, \
        symbolic links) is taken once, by its first path.
          corpus.txt.zst       the text of every extracted document: its pages joined by a newline, ending \
        with a newline; documents separated by a blank line.

        Unreadable inputs (empty, not a PDF, truncated or damaged beyond recovery, encrypted without the right \
        --password, crashing or stalling the extractor) are recorded as skipped with a one-line reason and a \
        warning on stderr; the run goes on, and exits with status 3 once the outputs are written.

        Incremental: a re-run with the same files and options does nothing; otherwise documents whose sha256 \
        was extracted by the previous run with the same options are reused, and only new or changed files \
        are extracted (the outputs are the same bytes as a run from scratch). --force extracts everything again.
        """
    public static let wiredArguments: Set<String> = ["paths"]

    /// The PDFs of `[inputs]`.
    public static func runArguments(inputs: RunInputs, workdir: Workdir) -> [String] { inputs.pdfs }

    /// Not needed when `[inputs]` lists no PDFs.
    public static func notNeeded(inputs: RunInputs) -> String? {
        inputs.pdfs.isEmpty ? "no PDF folders in [inputs] pdfs" : nil
    }

    /// Ingests the files and reports the documents, pages and skips.
    public static func run(_ a: Arguments, in context: StageContext) throws -> StageResult {
        result(try run(workdir: context.workdir, options: options(a, context)), what: name)
    }

    /// Ingests the files of shard `shard` (by their sha256) into `ingest/shards/I-of-N/`.
    public static func runShard(_ a: Arguments, shard: Shard, in context: StageContext) throws -> StageResult {
        result(try runShard(workdir: context.workdir, options: options(a, context), shard: shard),
               what: "ingest shard \(shard)")
    }

    /// Builds pages, documents and corpus from the `shards` shards.
    public static func merge(_ a: Arguments, shards: Int, in context: StageContext) throws -> StageResult {
        result(try merge(workdir: context.workdir, options: options(a, context), shards: shards),
               what: name, merged: shards)
    }

    static func options(_ a: Arguments, _ context: StageContext) -> Options {
        Options(paths: a.paths,
                text: TextOptions(normalization: a.normalize, dehyphenate: a.dehyphenate, stripHeaders: a.stripHeaders),
                password: a.password, jobs: a.jobs ?? Machine.cores, docTimeout: a.docTimeout,
                worker: WorkerCommand(executable: SelfProcess.executable()), force: context.force)
    }

    static func result(_ o: Outcome, what: String, merged shards: Int? = nil) -> StageResult {
        guard o.ran else { return StageResult(stage: what, status: .upToDate) }
        let dups = o.duplicates > 0 ? ", \(o.duplicates) duplicate\(o.duplicates == 1 ? "" : "s")" : ""
        let how = shards.map { "merged from \($0) shards" } ?? "\(o.extracted) extracted, \(o.reused) reused"
        return StageResult(
            stage: what, status: o.skipped > 0 ? .ranWithSkips : .ran,
            lines: ["\(what): \(o.documents) documents (\(how), \(o.skipped) skipped\(dups)), \(o.pages) pages → "
                    + o.outputDir],
            skipped: o.skippedInputs)
    }
}
