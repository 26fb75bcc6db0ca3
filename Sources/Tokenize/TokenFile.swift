import Core
import Foundation

/// `tokens.bin.zst`: a 16-byte header — ASCII `PTOK`, UInt32 LE version (1), UInt32 LE bytes per token
/// (2 when every id fits in 16 bits, else 4), UInt32 LE vocabulary size — then the token ids, little-endian.
/// The whole file is zstd-compressed (plain files are read too).
public enum TokenFile {
    public static let magic: [UInt8] = Array("PTOK".utf8)
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
    public let path: String
    public let bytesPerToken: Int
    public let vocabSize: Int
    private let reader: ByteReader
    private var pending: [UInt8] = []

    public init(path: String) throws {
        self.path = path
        let reader = try ByteReader(path: path)
        self.reader = reader
        var header = [UInt8](repeating: 0, count: 16)
        var got = 0
        while got < 16 {
            let n = try header.withUnsafeMutableBytes { try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[got...])) }
            if n == 0 { break }
            got += n
        }
        guard got == 16, Array(header[0..<4]) == TokenFile.magic else {
            throw TokenizeError.badTokenFile(path: path, reason: "no PTOK header")
        }
        func u32(_ o: Int) -> UInt32 {
            UInt32(header[o]) | UInt32(header[o + 1]) << 8 | UInt32(header[o + 2]) << 16 | UInt32(header[o + 3]) << 24
        }
        guard u32(4) == TokenFile.version else { throw TokenizeError.badTokenFile(path: path, reason: "version \(u32(4))") }
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
            let n = try buf.withUnsafeMutableBytes { try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[have...])) }
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
                for i in 0..<out.count { out[i] = UInt32(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            } else {
                for i in 0..<out.count { out[i] = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
            }
        }
        return out
    }
}

/// Writes a token file (zstd).
public final class TokenFileWriter {
    public let bytesPerToken: Int
    public let vocabSize: Int
    public private(set) var count: Int64 = 0
    private let out: ZstdWriter
    private var buf: [UInt8] = []

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

    public func append(_ ids: [UInt32]) throws {
        buf.removeAll(keepingCapacity: true)
        buf.reserveCapacity(ids.count * bytesPerToken)
        if bytesPerToken == 2 {
            for id in ids { buf.append(UInt8(id & 0xFF)); buf.append(UInt8(id >> 8 & 0xFF)) }
        } else {
            for id in ids {
                buf.append(UInt8(id & 0xFF)); buf.append(UInt8(id >> 8 & 0xFF))
                buf.append(UInt8(id >> 16 & 0xFF)); buf.append(UInt8(id >> 24))
            }
        }
        try out.write(buf)
        count += Int64(ids.count)
    }

    public func close() throws { try out.close() }
}
