import CZstd
import Foundation

/// Streaming zstd compressor writing to a file.
///
/// Level 3 by default, content checksum on. The first `multiThreadThreshold` bytes are held back: a stream that
/// ends before that is compressed in one thread; a larger one switches to zstd's multi-threaded mode with a fixed
/// worker count, so that the output is the same on every machine (zstd's multi-threaded output does not depend on
/// the number of workers, but differs from single-threaded output).
public final class ZstdWriter {
    /// Bytes held back before a stream switches to multi-threaded compression (4 MiB).
    public static let multiThreadThreshold = 4 << 20
    /// The file written.
    public let path: String
    private let output: FileOutput
    private let cctx: OpaquePointer
    private var pending: [UInt8] = []
    private var started = false
    private var outBuffer: [UInt8]
    /// Bytes given to `write` so far.
    public private(set) var uncompressedBytes: Int64 = 0

    /// Creates (or truncates) the file at `path`, compressing at `level`.
    public init(path: String, level: Int32 = 3) throws {
        self.path = path
        output = try FileOutput(path: path)
        guard let ctx = ZSTD_createCCtx() else { throw CoreError.io(path: path, operation: "zstd init", errno: ENOMEM) }
        cctx = ctx
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
        outBuffer = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
    }

    deinit { ZSTD_freeCCtx(cctx) }

    /// Compresses and appends `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        uncompressedBytes += Int64(bytes.count)
        if !started {
            pending.append(contentsOf: bytes.bindMemory(to: UInt8.self))
            if pending.count >= Self.multiThreadThreshold {
                // Large output: multi-threaded mode (fixed worker count for reproducible bytes).
                ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, 2)
                started = true
                let held = pending
                pending = []
                try held.withUnsafeBytes { try compress($0, directive: ZSTD_e_continue) }
            }
            return
        }
        try compress(bytes, directive: ZSTD_e_continue)
    }

    /// Compresses and appends `bytes`.
    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// Compresses and appends the UTF-8 bytes of `string`.
    public func write(_ string: String) throws {
        var s = string
        try s.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Ends the zstd frame, fsyncs and closes the file.
    public func close() throws {
        if !started {
            started = true
            ZSTD_CCtx_setPledgedSrcSize(cctx, UInt64(pending.count))
            let held = pending
            pending = []
            try held.withUnsafeBytes { try compress($0, directive: ZSTD_e_end) }
        } else {
            try compress(UnsafeRawBufferPointer(start: nil, count: 0), directive: ZSTD_e_end)
        }
        try output.close()
    }

    private func compress(_ bytes: UnsafeRawBufferPointer, directive: ZSTD_EndDirective) throws {
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        let outSize = outBuffer.count
        while true {
            var remaining = 0
            var produced = 0
            try outBuffer.withUnsafeMutableBytes { out in
                var ob = ZSTD_outBuffer(dst: out.baseAddress, size: outSize, pos: 0)
                remaining = ZSTD_compressStream2(cctx, &ob, &input, directive)
                if ZSTD_isError(remaining) != 0 {
                    throw CoreError.io(path: path,
                                       operation: "zstd compress (\(String(cString: ZSTD_getErrorName(remaining))))",
                                       errno: EIO)
                }
                produced = ob.pos
            }
            if produced > 0 {
                try outBuffer.withUnsafeBytes { try output.write(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) }
            }
            if directive == ZSTD_e_end {
                if remaining == 0 { return }
            } else if input.pos == input.size {
                return
            }
        }
    }
}

/// Reads a file that may be plain or zstd-compressed (detected by the magic bytes), as a stream of bytes.
/// Concatenated zstd frames are read one after another; a corrupt or truncated stream is an error, never garbage.
public final class ByteReader {
    /// The file read.
    public let path: String
    /// Whether the file is zstd-compressed.
    public let isCompressed: Bool
    private let input: FileInput
    private var dctx: OpaquePointer?
    private var inBuffer: [UInt8]
    private var inPos = 0
    private var inEnd = 0
    private var inputEOF = false
    /// zstd's hint after the last call: 0 when a frame just ended.
    private var frameHint = 0

    /// Opens the file at `path` and detects whether it is compressed.
    public init(path: String) throws {
        self.path = path
        let file = try FileInput(path: path)
        var first = [UInt8](repeating: 0, count: max(ZSTD_DStreamInSize(), 1 << 17))
        let n = try first.withUnsafeMutableBytes { try file.readFully(into: $0) }
        input = file
        inBuffer = first
        inEnd = n
        if n < first.count { inputEOF = true }
        isCompressed = n >= 4 && first[0] == 0x28 && first[1] == 0xB5 && first[2] == 0x2F && first[3] == 0xFD
        if isCompressed {
            dctx = ZSTD_createDCtx()
        }
    }

    deinit { if let d = dctx { ZSTD_freeDCtx(d) } }

    private func refill() throws {
        if inPos < inEnd || inputEOF { return }
        let n = try inBuffer.withUnsafeMutableBytes { try input.read(into: $0) }
        inPos = 0
        inEnd = n
        if n == 0 { inputEOF = true }
    }

    /// Reads up to `buffer.count` bytes of content; returns 0 at the end.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        if !isCompressed {
            if inPos < inEnd {
                let n = min(buffer.count, inEnd - inPos)
                inBuffer.withUnsafeBytes { src in
                    buffer.baseAddress!.copyMemory(from: src.baseAddress! + inPos, byteCount: n)
                }
                inPos += n
                return n
            }
            if inputEOF { return 0 }
            return try input.read(into: buffer)
        }
        while true {
            try refill()
            let atEnd = inPos >= inEnd && inputEOF
            // At the end of the input with a frame complete: done. With a frame open, zstd may still hold
            // output to flush; one more call tells (nothing produced then means the file was cut short).
            if atEnd && frameHint == 0 { return 0 }
            var produced = 0
            var consumed = 0
            let start = inPos, end = inEnd
            let hint: Int = try inBuffer.withUnsafeBytes { src in
                var ib = ZSTD_inBuffer(src: src.baseAddress, size: end, pos: start)
                var ob = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
                let r = ZSTD_decompressStream(dctx, &ob, &ib)
                if ZSTD_isError(r) != 0 {
                    throw CoreError.corrupt(path: path, reason: String(cString: ZSTD_getErrorName(r)))
                }
                produced = ob.pos
                consumed = ib.pos - start
                return r
            }
            inPos += consumed
            frameHint = hint
            if produced > 0 { return produced }
            if atEnd { throw CoreError.truncated(path: path) }
        }
    }

    /// The whole content (for small files).
    public func readAll() throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try read(into: $0) }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// Calls `body` with each line, without its `\n` unless `keepNewline`; a last line without `\n` is given too.
    /// `lineNumber` is 1-based.
    public func forEachLine(keepNewline: Bool = false,
                            _ body: (_ line: UnsafeBufferPointer<UInt8>, _ lineNumber: Int) throws -> Void) throws {
        var carry: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var lineNumber = 0
        while true {
            let n = try chunk.withUnsafeMutableBytes { try read(into: $0) }
            if n == 0 { break }
            try chunk.withUnsafeBufferPointer { buf in
                var start = 0
                let base = buf.baseAddress!
                while start < n {
                    guard let nl = memchr(base + start, 0x0A, n - start) else {
                        carry.append(contentsOf: UnsafeBufferPointer(start: base + start, count: n - start))
                        return
                    }
                    let idx = base.distance(to: nl.assumingMemoryBound(to: UInt8.self))
                    let end = keepNewline ? idx + 1 : idx
                    lineNumber += 1
                    if carry.isEmpty {
                        try body(UnsafeBufferPointer(start: base + start, count: end - start), lineNumber)
                    } else {
                        carry.append(contentsOf: UnsafeBufferPointer(start: base + start, count: end - start))
                        try carry.withUnsafeBufferPointer { try body($0, lineNumber) }
                        carry.removeAll(keepingCapacity: true)
                    }
                    start = idx + 1
                }
            }
        }
        if !carry.isEmpty {
            lineNumber += 1
            try carry.withUnsafeBufferPointer { try body($0, lineNumber) }
        }
    }
}

/// One-shot zstd compression, file compression and format detection.
public enum Zstd {
    /// Compresses a whole buffer in one frame (level 3, checksum on).
    public static func compress(_ bytes: [UInt8], level: Int32 = 3) -> [UInt8] {
        guard let cctx = ZSTD_createCCtx() else { return [] }
        defer { ZSTD_freeCCtx(cctx) }
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
        var out = [UInt8](repeating: 0, count: ZSTD_compressBound(bytes.count))
        let n = out.withUnsafeMutableBytes { o in
            bytes.withUnsafeBytes { i in ZSTD_compress2(cctx, o.baseAddress, o.count, i.baseAddress, i.count) }
        }
        out.removeSubrange(n...)
        return out
    }

    /// Streams `input` (plain or zstd: a compressed input is decompressed first) into a new zstd file `output`
    /// through a temporary file in the same folder, fsync'ed and renamed into place: an interrupted call never
    /// leaves a partial `output`. `progress` is called with the bytes read so far.
    public static func compressFile(_ input: String, to output: String, level: Int32 = 3,
                                    progress: (Int) -> Void = { _ in }) throws {
        try FileSystem.atomicReplace(output) { tmp in
            let reader = try ByteReader(path: input)
            let writer = try ZstdWriter(path: tmp, level: level)
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
                if n == 0 { break }
                try buffer.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                progress(n)
            }
            try writer.close()
        }
    }

    /// Whether the file at `path` starts with the zstd magic bytes.
    public static func isCompressed(path: String) -> Bool {
        (try? ByteReader(path: path).isCompressed) ?? false
    }
}

extension Zstd {
    /// The linked libzstd's version, for `pipeline --version`.
    public static var libraryVersion: String { String(cString: ZSTD_versionString()) }
}
