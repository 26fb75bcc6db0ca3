import Foundation

/// JSON encoding used for every artifact: keys sorted, no escaped slashes, so output bytes are reproducible.
public enum JSON {
    /// An encoder with the artifact settings; `pretty` indents.
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
                                    : [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    /// `value` as JSON bytes with the artifact settings.
    public static func encode<T: Encodable>(_ value: T, pretty: Bool = false) throws -> [UInt8] {
        Array(try encoder(pretty: pretty).encode(value))
    }
}

/// Writes one JSON record per line into a zstd stream (or a plain file when the path does not end in `.zst`).
public final class JSONLWriter<Record: Encodable> {
    private let zstd: ZstdWriter?
    private let plain: FileOutput?
    private let encoder = JSON.encoder()
    /// Records written so far.
    public private(set) var count = 0

    /// Creates the file at `path` (zstd unless the name does not end in `.zst`).
    public init(path: String) throws {
        if path.hasSuffix(".zst") {
            zstd = try ZstdWriter(path: path); plain = nil
        } else {
            plain = try FileOutput(path: path); zstd = nil
        }
    }

    /// Appends `record` as one line.
    public func write(_ record: Record) throws {
        var data = try encoder.encode(record)
        data.append(0x0A)
        try data.withUnsafeBytes { raw in
            if let z = zstd { try z.write(raw) } else { try plain!.write(raw) }
        }
        count += 1
    }

    /// Finishes the stream and closes the file.
    public func close() throws {
        if let z = zstd { try z.close() } else { try plain!.close() }
    }
}

/// Reads JSON Lines (plain or zstd), decoding each non-empty line; a bad line is an error naming file and line.
public enum JSONLReader {
    /// Calls `body(record, line)` for every non-blank line, decoded with `decoder` (a reader of some fields of a
    /// record type passes that type's partial decoder, e.g. `GSM8KRecord.decoder(requiring:)`).
    public static func forEach<Record: Decodable>(_ type: Record.Type, path: String,
                                                   decoder: JSONDecoder = JSONDecoder(),
                                                   _ body: (Record, Int) throws -> Void) throws {
        let reader = try ByteReader(path: path)
        try reader.forEachLine { line, number in
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }
            let record: Record
            do {
                record = try decoder.decode(Record.self, from: Data(buffer: line))
            } catch {
                throw CoreError.badRecord(path: path, line: number,
                                          reason: "invalid record: \(JSONLReader.describe(error))")
            }
            try body(record, number)
        }
    }

    /// Every record of the file at `path`.
    public static func readAll<Record: Decodable>(_ type: Record.Type, path: String) throws -> [Record] {
        var out: [Record] = []
        try forEach(type, path: path) { r, _ in out.append(r) }
        return out
    }

    /// A one-line description of a decoding error.
    public static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx):
            let path = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            return "wrong type for '\(path)'"
        case DecodingError.dataCorrupted: return "not valid JSON"
        default: return "\(error)"
        }
    }
}

extension JSONLReader {
    /// Each line of a JSON Lines file as a dictionary (lines that are not objects are skipped).
    public static func forEachLine(path: String, _ body: ([String: Any]) -> Void) throws {
        let reader = try ByteReader(path: path)
        try reader.forEachLine(keepNewline: false) { line, _ in
            if let obj = try? JSONSerialization.jsonObject(with: Data(buffer: line)) as? [String: Any] { body(obj) }
        }
    }
}

extension JSONLReader {
    /// Each line of a JSON Lines file that decodes as `Record`; the other lines are skipped (for readers that show
    /// what they can, such as the run report).
    public static func forEachReadable<Record: Decodable>(_ type: Record.Type, path: String,
                                                          _ body: (Record) -> Void) throws {
        let reader = try ByteReader(path: path)
        let decoder = JSONDecoder()
        try reader.forEachLine(keepNewline: false) { line, _ in
            if let r = try? decoder.decode(Record.self, from: Data(buffer: line)) { body(r) }
        }
    }
}
