import CPoppler
import Core
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What extraction found in one input file, before the text is normalised.
public struct ExtractedDocument: Sendable, Equatable {
    /// One entry per page of the document, in page order (empty text for a page without text).
    public var pages: [String]
    /// The document's title, when it has one.
    public var title: String?
    /// The document's author, when it has one.
    public var author: String?
    /// Creation date, ISO 8601 UTC (`2008-05-14T00:27:48Z`), or nil when the file has none.
    public var created: String?
    /// Nil: extracted. Otherwise why the document is skipped (one line).
    public var skipReason: String?
    /// A remark on an extracted document (e.g. pages that could not be read), or nil.
    public var note: String?

    /// A document with these pages and metadata.
    public init(pages: [String] = [], title: String? = nil, author: String? = nil, created: String? = nil,
                skipReason: String? = nil, note: String? = nil) {
        self.pages = pages; self.title = title; self.author = author; self.created = created
        self.skipReason = skipReason; self.note = note
    }

    /// A skipped document with `reason`.
    public static func skipped(_ reason: String) -> ExtractedDocument { ExtractedDocument(skipReason: reason) }
}

/// Text and metadata of a PDF through poppler-glib (one document at a time: poppler's glib layer is not
/// thread-safe across one document, so the stage runs each document in a worker process).
public enum PDFExtractor {
    /// Extracts `path`: a PDF (by its extension), or a plain text file taken as one page.
    public static func extract(path: String, password: String?) -> ExtractedDocument {
        let lower = path.lowercased()
        if lower.hasSuffix(".txt") || lower.hasSuffix(".md") { return extractText(path: path) }
        return extractPDF(path: path, password: password)
    }

    /// A text file: one page, its bytes as UTF-8 (invalid sequences become U+FFFD).
    public static func extractText(path: String) -> ExtractedDocument {
        do {
            let bytes = try ByteReader(path: path).readAll()
            return ExtractedDocument(pages: [String(decoding: bytes, as: UTF8.self)])
        } catch let e as PipelineError {
            return .skipped("unreadable: \(e.message)")
        } catch {
            return .skipped("unreadable: \(error)")
        }
    }

    /// Looks at the first and last bytes of a file: empty, no `%PDF-` header, or no `%%EOF` near the end.
    struct Shape {
        var size: Int64
        var hasHeader: Bool
        var hasEOF: Bool
        var head: [UInt8]
    }

    static func shape(path: String) throws -> Shape {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw CoreError.io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CoreError.io(path: path, operation: "stat", errno: errno) }
        let size = Int64(st.st_size)
        var head = [UInt8](repeating: 0, count: Int(min(size, 1024)))
        let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        head = Array(head.prefix(max(n, 0)))
        let tailCount = Int(min(size, 1024))
        var tail = [UInt8](repeating: 0, count: tailCount)
        let m = tail.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(size - Int64(tailCount))) }
        tail = Array(tail.prefix(max(m, 0)))
        return Shape(size: size, hasHeader: contains(head, "%PDF-"), hasEOF: contains(tail, "%%EOF"), head: head)
    }

    static func contains(_ bytes: [UInt8], _ needle: String) -> Bool {
        let n = Array(needle.utf8)
        guard bytes.count >= n.count else { return false }
        for i in 0...(bytes.count - n.count) where bytes[i] == n[0] {
            if Array(bytes[i..<(i + n.count)]) == n { return true }
        }
        return false
    }

    /// The start of a non-PDF file, for the skip reason: printable ASCII only, at most 40 characters.
    static func preview(_ head: [UInt8]) -> String {
        var s = ""
        for b in head.prefix(40) {
            if b >= 0x20 && b < 0x7F {
                s.append(Character(Unicode.Scalar(b)))
            } else {
                s.append(b == 0x0A || b == 0x0D || b == 0x09 ? " " : "?")
            }
        }
        return s.trimmingCharacters(in: .whitespaces)
    }

    /// The pages and metadata of the PDF at `path`, or a skip saying why it cannot be read.
    public static func extractPDF(path: String, password: String?) -> ExtractedDocument {
        let s: Shape
        do { s = try shape(path: path) } catch let e as PipelineError {
            return .skipped("unreadable: \(e.message)")
        } catch { return .skipped("unreadable: \(error)") }
        if s.size == 0 { return .skipped("empty file (0 bytes)") }
        if !s.hasHeader {
            let p = preview(s.head)
            return .skipped("not a PDF: no %PDF- header in the first 1024 bytes"
                            + (p.isEmpty ? "" : " (it begins \"\(p)\")"))
        }
        let truncated = !s.hasEOF

        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var uriError: UnsafeMutablePointer<GError>?
        guard let uri = g_filename_to_uri(absolute, nil, &uriError) else {
            let m = uriError.map { String(cString: $0.pointee.message) } ?? "bad file name"
            if let e = uriError { g_error_free(e) }
            return .skipped("unreadable: \(m)")
        }
        defer { g_free(uri) }
        var opened = openDocument { poppler_document_new_from_file(uri, password, $0) }
        var rebuilt = false
        if opened.doc == nil && truncated && opened.code != Int32(POPPLER_ERROR_ENCRYPTED.rawValue),
           let bytes = try? ByteReader(path: path).readAll(), let repaired = withTrailer(bytes) {
            // A truncated file loses its trailer (and cross-reference table), which poppler cannot rebuild
            // without: give it a trailer naming the catalog, and poppler reconstructs the rest by scanning.
            let again = repaired.withUnsafeBytes { raw -> (doc: OpaquePointer?, code: Int32, message: String) in
                let gbytes = g_bytes_new(raw.baseAddress, gsize(raw.count))
                defer { g_bytes_unref(gbytes) }
                return openDocument { poppler_document_new_from_bytes(gbytes, password, $0) }
            }
            if again.doc != nil { opened = again; rebuilt = true }
        }
        guard let doc = opened.doc else {
            if opened.code == Int32(POPPLER_ERROR_ENCRYPTED.rawValue) {
                return .skipped(password == nil ? "encrypted: a password is needed to open it (use --password)"
                                                : "encrypted: the password given (--password) is not the right one")
            }
            if truncated {
                return .skipped("truncated PDF (no %%EOF at the end of its \(s.size) bytes): "
                                + "no page could be recovered (\(opened.message))")
            }
            return .skipped("damaged PDF: \(opened.message)")
        }
        defer { g_object_unref(UnsafeMutableRawPointer(doc)) }

        var result = ExtractedDocument()
        result.title = take(poppler_document_get_title(doc))
        result.author = take(poppler_document_get_author(doc))
        let t = poppler_document_get_creation_date(doc)
        result.created = t == -1 ? nil : isoDate(t)
        let count = Int(poppler_document_get_n_pages(doc))
        var unreadable: [Int] = []
        result.pages.reserveCapacity(count)
        for i in 0..<count {
            guard let page = poppler_document_get_page(doc, Int32(i)) else {
                unreadable.append(i)
                result.pages.append("")
                continue
            }
            result.pages.append(take(poppler_page_get_text(page)) ?? "")
            g_object_unref(UnsafeMutableRawPointer(page))
        }
        if count == 0 {
            return .skipped(truncated ? "truncated PDF (no %%EOF at the end of its \(s.size) bytes): "
                                        + "no page could be recovered"
                                      : "damaged PDF: no page found")
        }
        if unreadable.count == count {
            return .skipped((truncated ? "truncated PDF (no %%EOF at the end of its \(s.size) bytes)" : "damaged PDF")
                            + ": none of its \(count) pages can be read")
        }
        var notes: [String] = []
        if truncated {
            let recovered = count - unreadable.count
            let withText = result.pages.filter { !$0.isEmpty }.count
            notes.append("truncated PDF (no %%EOF at the end of its \(s.size) bytes"
                         + "\(rebuilt ? "; trailer rebuilt" : "")): \(recovered) of \(count) pages recovered"
                         + (withText < recovered ? ", \(withText) of them with text" : ""))
        }
        if !unreadable.isEmpty {
            notes.append("\(unreadable.count) of \(count) pages cannot be read "
                         + "(\(unreadable.count == 1 ? "page" : "pages") \(ranges(unreadable)), kept as empty text)")
        }
        if !truncated && unreadable.isEmpty
            && result.pages.allSatisfy({ $0.allSatisfy { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" } }) {
            notes.append("no text on any of its \(count) pages (images only? no OCR is done)")
        }
        result.note = notes.isEmpty ? nil : notes.joined(separator: "; ")
        return result
    }

    /// Calls a poppler constructor; on failure, the GError's code (in poppler's domain, else -1) and message.
    static func openDocument(_ body: (UnsafeMutablePointer<UnsafeMutablePointer<GError>?>) -> OpaquePointer?)
        -> (doc: OpaquePointer?, code: Int32, message: String) {
        var error: UnsafeMutablePointer<GError>?
        if let doc = body(&error) { return (doc, 0, "") }
        var code: Int32 = -1
        var message = "poppler could not open it"
        if let e = error {
            if e.pointee.domain == poppler_error_quark() { code = e.pointee.code }
            message = String(cString: e.pointee.message)
            g_error_free(e)
        }
        return (nil, code, message)
    }

    /// The bytes of a truncated PDF with a trailer appended that names its catalog (the last object holding
    /// `/Type /Catalog` in clear), or nil when there is no such object.
    static func withTrailer(_ bytes: [UInt8]) -> [UInt8]? {
        let keys = [Array("/Type/Catalog".utf8), Array("/Type /Catalog".utf8)]
        var at = -1
        for key in keys where bytes.count >= key.count {
            var i = bytes.count - key.count
            while i >= 0 {
                if bytes[i] == 0x2F && Array(bytes[i..<(i + key.count)]) == key { at = max(at, i); break }
                i -= 1
            }
        }
        guard at > 0 else { return nil }
        // Back to the nearest "obj" keyword, then read "<num> <gen>" before it.
        let obj = Array(" obj".utf8)
        var j = at - obj.count
        while j >= 0 && Array(bytes[j..<(j + obj.count)]) != obj { j -= 1 }
        guard j > 0 else { return nil }
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }
        var k = j
        let genEnd = k
        while k > 0 && isDigit(bytes[k - 1]) { k -= 1 }
        let gen = String(decoding: bytes[k..<genEnd], as: UTF8.self)
        guard !gen.isEmpty, k > 0, isSpace(bytes[k - 1]) else { return nil }
        while k > 0 && isSpace(bytes[k - 1]) { k -= 1 }
        let numEnd = k
        while k > 0 && isDigit(bytes[k - 1]) { k -= 1 }
        let num = String(decoding: bytes[k..<numEnd], as: UTF8.self)
        guard !num.isEmpty else { return nil }
        return bytes + Array("\nendstream\nendobj\ntrailer\n<</Root \(num) \(gen) R>>\n%%EOF\n".utf8)
    }

    /// A glib string as a Swift string (freed); nil stays nil.
    static func take(_ p: UnsafeMutablePointer<gchar>?) -> String? {
        guard let p else { return nil }
        defer { g_free(p) }
        return String(cString: p)
    }

    /// `2008-05-14T00:27:48Z`.
    public static func isoDate(_ t: time_t) -> String {
        var seconds = t
        var tm = tm()
        gmtime_r(&seconds, &tm)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1,
                      Int(tm.tm_mday), Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec))
    }

    /// 0-based page indices as a short list of ranges: `0-3, 7`.
    static func ranges(_ pages: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        while i < pages.count {
            var j = i
            while j + 1 < pages.count && pages[j + 1] == pages[j] + 1 { j += 1 }
            parts.append(i == j ? "\(pages[i])" : "\(pages[i])-\(pages[j])")
            i = j + 1
        }
        return parts.joined(separator: ", ")
    }
}
