import Core
import Foundation
@testable import Tokenize
import XCTest

/// Inputs `make fuzz` (tokenizer-json) found crashing the tokenizer.json loader.
final class TokenizeFuzzRegressionTests: XCTestCase {
    func load(_ json: String) throws -> BPETokenizer {
        let path = NSTemporaryDirectory() + "fuzz-\(UUID().uuidString)-tokenizer.json"
        try FileSystem.atomicWrite(json, to: path)
        defer { FileSystem.remove(path) }
        return try BPETokenizer(tokenizerJSON: path)
    }

    func tokenizer(addedId: String) -> String {
        #"{"added_tokens":[{"id":"# + addedId + #","content":"a","special":true}],"normalizer":null,"# +
            #""pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":true},"# +
            #""model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":[]}}"#
    }

    /// An added token with id 2⁶³ − 1 overflowed `id + 1` while sizing the vocabulary (a trap, exit 132); it is now
    /// the same error as any other id over the limit, naming the id.
    func testAddedTokenIdAtIntMaxIsAnError() throws {
        XCTAssertThrowsError(try load(tokenizer(addedId: "9223372036854775807"))) { error in
            XCTAssertTrue("\(error)".contains("token id 9223372036854775807 is too large (limit 16777215)"), "\(error)")
        }
        XCTAssertThrowsError(try load(tokenizer(addedId: "16777216")))
        XCTAssertNoThrow(try load(tokenizer(addedId: "2")))
    }
}

extension TokenizeFuzzRegressionTests {
    /// `make fuzz` (tokenizer-json) ran out of memory after ~18,000 inputs: a tokenizer that had encoded once was
    /// never freed (its shared encoder held it: a retain cycle). Both are freed now; an encoder from
    /// `makeEncoder()` still keeps its tokenizer alive.
    func testTokenizerIsFreedAfterEncoding() throws {
        let json = #"{"normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"# +
            #""use_regex":true},"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}}"#
        weak var freed: BPETokenizer?
        do {
            let t = try load(json)
            XCTAssertEqual(t.encode("ab"), [2])
            freed = t
        }
        XCTAssertNil(freed, "the tokenizer outlived its last reference")
        var encoder: Encoder?
        weak var kept: BPETokenizer?
        do {
            let t = try load(json)
            encoder = t.makeEncoder()
            kept = t
        }
        XCTAssertNotNil(kept)
        var out: [UInt32] = []
        encoder!.encode("ab", into: &out)
        XCTAssertEqual(out, [2])
    }
}
