import Core
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The framing between `pipeline ingest` and its `ingest-worker` processes: each message is a 4-byte
/// little-endian length followed by that many bytes. A request carries one document to extract and the text
/// options; the answer carries the document's pages and metadata, or why it is skipped.
/// Package-visible for the fuzz target (`pipeline-fuzz`, worker-protocol), which decodes hostile answers.
package enum WorkerMessage {
    /// The largest message either side accepts (a longer length prefix is a broken or hostile peer).
    package static let maxFrame = 1 << 30

    /// One document to extract, with the text options.
    package struct Request: Equatable {
        package var path: String
        package var password: String?
        package var options: TextOptions
    }

    /// A worker's answer for one document.
    package struct Response: Equatable {
        package var document: ExtractedDocument
        /// What poppler printed on stderr while extracting (first line and count), or nil.
        package var diagnostics: String?
    }

    /// The framed bytes of a request.
    package static func encode(_ r: Request) -> [UInt8] {
        var w = FrameWriter()
        w.string(r.path)
        w.optional(r.password)
        w.string(r.options.normalization.rawValue)
        w.byte(r.options.dehyphenate ? 1 : 0)
        w.byte(r.options.stripHeaders ? 1 : 0)
        return w.framed()
    }

    /// The request in a frame's body (length prefix removed).
    package static func decodeRequest(_ bytes: [UInt8]) throws -> Request {
        var r = FrameReader(bytes: bytes)
        let path = try r.string()
        let password = try r.optional()
        let name = try r.string()
        guard let norm = Normalization(rawValue: name) else {
            throw FrameReader.bad("unknown normalization \(name.debugDescription)")
        }
        let options = TextOptions(normalization: norm, dehyphenate: try r.byte() != 0, stripHeaders: try r.byte() != 0)
        return Request(path: path, password: password, options: options)
    }

    /// The framed bytes of an answer.
    package static func encode(_ r: Response) -> [UInt8] {
        var w = FrameWriter()
        let d = r.document
        w.optional(d.skipReason)
        w.optional(d.note)
        w.optional(d.title)
        w.optional(d.author)
        w.optional(d.created)
        w.optional(r.diagnostics)
        w.u32(UInt32(d.pages.count))
        for p in d.pages { w.string(p) }
        return w.framed()
    }

    /// The answer in a frame's body (length prefix removed).
    package static func decodeResponse(_ bytes: [UInt8]) throws -> Response {
        var r = FrameReader(bytes: bytes)
        var d = ExtractedDocument()
        d.skipReason = try r.optional()
        d.note = try r.optional()
        d.title = try r.optional()
        d.author = try r.optional()
        d.created = try r.optional()
        let diagnostics = try r.optional()
        let n = Int(try r.u32())
        // Each page takes at least its 4-byte length: a larger count is a lie, not a reason to allocate.
        guard n <= (bytes.count - r.offset) / 4 else {
            throw FrameReader.bad("\(n) pages announced in the \(bytes.count - r.offset) bytes left")
        }
        d.pages.reserveCapacity(n)
        for _ in 0..<n { d.pages.append(try r.string()) }
        return Response(document: d, diagnostics: diagnostics)
    }

    /// The length of the first complete frame in `buffer` (prefix included), nil while it is incomplete; a
    /// length prefix above `maxFrame` is an error (waiting for it would buffer without bound).
    package static func frameLength(_ buffer: [UInt8]) throws -> Int? {
        try FrameReader.frameLength(buffer)
    }
}

struct FrameWriter {
    var bytes: [UInt8] = [0, 0, 0, 0]

    mutating func byte(_ b: UInt8) { bytes.append(b) }
    mutating func u32(_ v: UInt32) {
        bytes.append(UInt8(v & 0xFF)); bytes.append(UInt8((v >> 8) & 0xFF))
        bytes.append(UInt8((v >> 16) & 0xFF)); bytes.append(UInt8(v >> 24))
    }
    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { u in
            u32(UInt32(u.count))
            bytes.append(contentsOf: u)
        }
    }
    mutating func optional(_ s: String?) {
        if let s { byte(1); string(s) } else { byte(0) }
    }
    /// The message with its length prefix filled in.
    func framed() -> [UInt8] {
        var b = bytes
        let n = UInt32(b.count - 4)
        b[0] = UInt8(n & 0xFF); b[1] = UInt8((n >> 8) & 0xFF); b[2] = UInt8((n >> 16) & 0xFF); b[3] = UInt8(n >> 24)
        return b
    }
}

struct FrameReader {
    /// A malformed message: what is wrong with it.
    static func bad(_ reason: String) -> IngestError { .worker("malformed message: \(reason)") }
    let bytes: [UInt8]
    var offset = 0

    mutating func byte() throws -> UInt8 {
        guard offset < bytes.count else { throw Self.bad("ends inside a field") }
        defer { offset += 1 }
        return bytes[offset]
    }
    mutating func u32() throws -> UInt32 {
        guard offset + 4 <= bytes.count else { throw Self.bad("ends inside a length") }
        defer { offset += 4 }
        return UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8
            | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }
    mutating func string() throws -> String {
        let n = Int(try u32())
        guard offset + n <= bytes.count else {
            throw Self.bad("a string of \(n) bytes with \(bytes.count - offset) left")
        }
        defer { offset += n }
        return String(decoding: bytes[offset..<(offset + n)], as: UTF8.self)
    }
    mutating func optional() throws -> String? {
        try byte() == 0 ? nil : try string()
    }

    /// The length of the first complete frame in `buffer` (prefix included), or nil if it is not complete yet.
    static func frameLength(_ buffer: [UInt8]) throws -> Int? {
        guard buffer.count >= 4 else { return nil }
        let n = Int(buffer[0]) | Int(buffer[1]) << 8 | Int(buffer[2]) << 16 | Int(buffer[3]) << 24
        guard n <= WorkerMessage.maxFrame else {
            throw bad("length \(n) exceeds the limit of \(WorkerMessage.maxFrame) bytes")
        }
        return buffer.count >= 4 + n ? 4 + n : nil
    }
}

/// Writes all of `bytes` to `fd`; false on any error (the reader is gone).
func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { raw in
        var off = 0
        while off < raw.count {
            let n = write(fd, raw.baseAddress! + off, raw.count - off)
            if n < 0 { if errno == EINTR { continue }; return false }
            off += n
        }
        return true
    }
}

/// Reads exactly `count` bytes from `fd`; nil at end of input or on error.
func readExactly(_ fd: Int32, _ count: Int) -> [UInt8]? {
    var buf = [UInt8](repeating: 0, count: count)
    var off = 0
    while off < count {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress! + off, count - off) }
        if n < 0 { if errno == EINTR { continue }; return nil }
        if n == 0 { return nil }
        off += n
    }
    return buf
}

/// The worker side: `pipeline ingest-worker` reads requests on stdin and answers on stdout until stdin closes.
public enum IngestWorker {
    /// Test hook: `PIPELINE_INGEST_TEST_FAULT=crash:<file name>` makes the worker kill itself with SIGSEGV when
    /// asked to extract a file of that name, `stall:<file name>` makes it sleep forever (several: comma-separated).
    public static let faultVariable = "PIPELINE_INGEST_TEST_FAULT"

    /// Runs the worker: answers extraction requests on stdin/stdout until stdin closes; returns the exit status.
    public static func serve() -> Int32 {
        // The protocol runs on a private copy of stdout; fd 1 then points at stderr, so nothing else printed in
        // this process can corrupt a frame. poppler's own messages (stderr) go to a scratch file, read back after
        // each document and passed on to the parent as diagnostics.
        let out = dup(STDOUT_FILENO)
        guard out >= 0 else { return 1 }
        let scratch = tmpfile().map { fileno($0) } ?? -1
        if scratch >= 0 {
            dup2(scratch, STDERR_FILENO)
        }
        dup2(STDERR_FILENO, STDOUT_FILENO)
        let faults = parseFaults(ProcessInfo.processInfo.environment[faultVariable])

        while true {
            guard let header = readExactly(STDIN_FILENO, 4) else { return 0 }
            let n = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16 | Int(header[3]) << 24
            guard n <= WorkerMessage.maxFrame, let body = readExactly(STDIN_FILENO, n),
                  let request = try? WorkerMessage.decodeRequest(body) else { return 1 }
            let name = (request.path as NSString).lastPathComponent
            if let fault = faults[name] {
                if fault == "crash" { signal(SIGSEGV, SIG_DFL); raise(SIGSEGV) }
                if fault == "stall" { while true { sleep(1000) } }
            }
            var doc = PDFExtractor.extract(path: request.path, password: request.password)
            if doc.skipReason == nil { doc.pages = TextCleanup.apply(request.options, to: doc.pages) }
            let diagnostics = scratch >= 0 ? drain(scratch) : nil
            let response = WorkerMessage.encode(WorkerMessage.Response(document: doc, diagnostics: diagnostics))
            guard writeAll(out, response) else { return 1 }
        }
    }

    static func parseFaults(_ value: String?) -> [String: String] {
        var faults: [String: String] = [:]
        for part in (value ?? "").split(separator: ",") {
            let kv = part.split(separator: ":", maxSplits: 1)
            if kv.count == 2 { faults[String(kv[1])] = String(kv[0]) }
        }
        return faults
    }

    /// What was written to the scratch file since the last call: its first line and the number of lines.
    static func drain(_ fd: Int32) -> String? {
        let end = lseek(fd, 0, SEEK_END)
        guard end > 0 else { return nil }
        var buf = [UInt8](repeating: 0, count: Int(min(end, 1 << 16)))
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        _ = ftruncate(fd, 0)
        _ = lseek(fd, 0, SEEK_SET)
        guard n > 0 else { return nil }
        let text = String(decoding: buf.prefix(n), as: UTF8.self)
        let lines = text.split(separator: "\n")
        guard let first = lines.first else { return nil }
        return lines.count == 1 ? String(first) : "\(first) (and \(lines.count - 1) more lines\(end > n ? "+" : ""))"
    }
}
