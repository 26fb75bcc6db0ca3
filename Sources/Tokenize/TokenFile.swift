import Core
import Foundation

/// `tokens.bin.zst`: a 16-byte header — ASCII `PTOK`, UInt32 LE version (1), UInt32 LE bytes per token
/// (2 when every id fits in 16 bits, else 4), UInt32 LE vocabulary size — then the token ids, little-endian.
/// The whole file is zstd-compressed (plain files are read too).
public enum TokenFile {
    /// The header's first four bytes.
    public static let magic: [UInt8] = Array("PTOK".utf8)
    /// The format version this code reads and writes.
    public static let version: UInt32 = 1

    /// Bytes per token for a vocabulary of `vocabSize` ids.
    public static func width(vocabSize: Int) -> Int { vocabSize <= 65536 ? 2 : 4 }

    /// All tokens of a file (for files that fit in memory; use `TokenFileReader` to stream).
    public static func readAll(path: String) throws -> (vocabSize: Int, tokens: [UInt32]) {
        let r = try TokenFileReader(path: path)
        var out: [UInt32] = []
        while true {
            let chunk = try r.read(max: 1 << 20)
            if chunk.isEmpty { break }
            out.append(contentsOf: chunk)
        }
        return (r.vocabSize, out)
    }
}

/// Streams the ids of a token file.
public final class TokenFileReader {
    /// The file read.
    public let path: String
    /// Bytes per token id (2 or 4).
    public let bytesPerToken: Int
    /// Vocabulary size from the header.
    public let vocabSize: Int
    private let reader: ByteReader
    private var pending: [UInt8] = []

    /// Opens the token file at `path` and reads its header; an error for a missing file or a bad header.
    public init(path: String) throws {
        self.path = path
        let reader = try ByteReader(path: path)
        self.reader = reader
        var header = [UInt8](repeating: 0, count: 16)
        var got = 0
        while got < 16 {
            let n = try header.withUnsafeMutableBytes {
                try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[got...]))
            }
            if n == 0 { break }
            got += n
        }
        guard got == 16, Array(header[0..<4]) == TokenFile.magic else {
            throw TokenizeError.badTokenFile(path: path, reason: "no PTOK header")
        }
        func u32(_ o: Int) -> UInt32 {
            UInt32(header[o]) | UInt32(header[o + 1]) << 8 | UInt32(header[o + 2]) << 16 | UInt32(header[o + 3]) << 24
        }
        guard u32(4) == TokenFile.version else {
            throw TokenizeError.badTokenFile(path: path, reason: "version \(u32(4))")
        }
        let w = Int(u32(8))
        guard w == 2 || w == 4 else { throw TokenizeError.badTokenFile(path: path, reason: "\(w) bytes per token") }
        bytesPerToken = w
        vocabSize = Int(u32(12))
    }

    /// Up to `max` next ids; empty at the end.
    public func read(max: Int) throws -> [UInt32] {
        var buf = [UInt8](repeating: 0, count: max * bytesPerToken)
        var have = pending.count
        buf.replaceSubrange(0..<have, with: pending)
        pending.removeAll()
        while have < buf.count {
            let n = try buf.withUnsafeMutableBytes {
                try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[have...]))
            }
            if n == 0 { break }
            have += n
        }
        let whole = have / bytesPerToken * bytesPerToken
        if whole < have {
            // Only possible at the end of the stream.
            throw TokenizeError.badTokenFile(path: path, reason: "ends inside a token")
        }
        var out = [UInt32](repeating: 0, count: whole / bytesPerToken)
        buf.withUnsafeBytes { b in
            if bytesPerToken == 2 {
                for i in 0..<out.count {
                    out[i] = UInt32(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            } else {
                for i in 0..<out.count {
                    out[i] = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
                }
            }
        }
        return out
    }
}

/// Writes a token file (zstd).
public final class TokenFileWriter {
    /// Bytes per token id (2 or 4).
    public let bytesPerToken: Int
    /// Vocabulary size written in the header.
    public let vocabSize: Int
    /// Tokens written so far.
    public private(set) var count: Int64 = 0
    private let out: ZstdWriter
    private var buf: [UInt8] = []

    /// Creates the file at `path` and writes the header for a vocabulary of `vocabSize` ids.
    public init(path: String, vocabSize: Int) throws {
        self.vocabSize = vocabSize
        bytesPerToken = TokenFile.width(vocabSize: vocabSize)
        out = try ZstdWriter(path: path)
        var h = TokenFile.magic
        for v in [TokenFile.version, UInt32(bytesPerToken), UInt32(vocabSize)] {
            h.append(contentsOf: [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)])
        }
        try out.write(h)
    }

    /// Appends `ids`.
    public func append(_ ids: [UInt32]) throws {
        let width = bytesPerToken
        if buf.count < ids.count * width { buf = [UInt8](repeating: 0, count: ids.count * width) }
        buf.withUnsafeMutableBytes { b in
            ids.withUnsafeBufferPointer { src in
                if width == 2 {
                    for (i, id) in src.enumerated() {
                        b.storeBytes(of: UInt16(truncatingIfNeeded: id).littleEndian, toByteOffset: 2 * i,
                                     as: UInt16.self)
                    }
                } else {
                    for (i, id) in src.enumerated() {
                        b.storeBytes(of: id.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                    }
                }
            }
        }
        try buf.withUnsafeBytes { try out.write(UnsafeRawBufferPointer(rebasing: $0[0..<(ids.count * width)])) }
        count += Int64(ids.count)
    }

    /// Finishes the compressed stream and closes the file.
    public func close() throws { try out.close() }
}

/// A token file writer that compresses and writes on a background queue, so that encoding the next block overlaps
/// with writing the previous one (at most two blocks in flight).
public final class BackgroundTokenWriter {
    private let writer: TokenFileWriter
    private let queue = DispatchQueue(label: "tokenize.writer")
    private let slots = DispatchSemaphore(value: 2)
    private var failure: Error?
    private let lock = NSLock()

    /// Creates the file at `path` for a vocabulary of `vocabSize` ids.
    public init(path: String, vocabSize: Int) throws {
        writer = try TokenFileWriter(path: path, vocabSize: vocabSize)
    }

    /// Bytes per token id (2 or 4).
    public var bytesPerToken: Int { writer.bytesPerToken }

    /// Tokens written so far (complete after `close`).
    public var count: Int64 { queue.sync { writer.count } }

    /// Queues `ids` for writing; throws an error of an earlier write.
    public func append(_ ids: [UInt32]) throws {
        lock.lock(); let f = failure; lock.unlock()
        if let f = f { throw f }
        slots.wait()
        queue.async { [self] in
            defer { slots.signal() }
            lock.lock(); let failed = failure != nil; lock.unlock()
            if failed { return }
            do { try writer.append(ids) } catch { lock.lock(); failure = error; lock.unlock() }
        }
    }

    /// Waits for pending writes, then closes the file; rethrows the first write error.
    public func close() throws {
        queue.sync {}
        if let f = failure { throw f }
        try writer.close()
    }
}
