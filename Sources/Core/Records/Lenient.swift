import Foundation

/// A record that can also be read leniently: from older or hand-written files whose lines lack a field, or give
/// one in another JSON type, that this project's writers always write in one way.
public protocol LenientDecodable: Decodable {
    /// Decodes the record; `lenient: false` is the strict reading (`init(from:)`).
    init(from decoder: Decoder, lenient: Bool) throws
}

/// A record read leniently (`JSONLReader.forEach(Lenient<PageRecord>.self, …)`); what leniency allows is said
/// by each record type.
public struct Lenient<Record: LenientDecodable>: Decodable {
    /// The record read.
    public var record: Record

    /// Reads the record leniently.
    public init(from decoder: Decoder) throws {
        record = try Record(from: decoder, lenient: true)
    }
}

/// A document id read leniently: a JSON string, or an integer (its decimal text, `isInteger` set).
struct LenientDocID {
    var text: String
    var isInteger: Bool

    init<Key: CodingKey>(_ c: KeyedDecodingContainer<Key>, _ key: Key, lenient: Bool) throws {
        if lenient, let i = try? c.decode(Int64.self, forKey: key) {
            text = String(i); isInteger = true
        } else {
            text = try c.decode(String.self, forKey: key); isInteger = false
        }
    }

    /// Writes the id back as it was read.
    static func encode<Key: CodingKey>(_ text: String, isInteger: Bool, to c: inout KeyedEncodingContainer<Key>,
                                       _ key: Key) throws {
        if isInteger, let i = Int64(text) { try c.encode(i, forKey: key) } else { try c.encode(text, forKey: key) }
    }
}
