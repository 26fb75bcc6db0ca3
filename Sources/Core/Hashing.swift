import CCrypto
import Foundation

/// SHA-256 digests as lower-case hex, computed by the system's OpenSSL libcrypto.
public enum Hashing {
    /// An incremental SHA-256: feed bytes with `update`, read the digest once with `finalize`.
    public final class SHA256 {
        private let ctx: OpaquePointer

        /// A digest of no bytes yet.
        public init() {
            ctx = EVP_MD_CTX_new()
            precondition(EVP_DigestInit_ex(ctx, EVP_sha256(), nil) == 1, "EVP_DigestInit_ex(sha256) failed")
        }

        deinit { EVP_MD_CTX_free(ctx) }

        /// Adds `bytes` to the digest.
        public func update(_ bytes: UnsafeRawBufferPointer) {
            guard let base = bytes.baseAddress, bytes.count > 0 else { return }
            precondition(EVP_DigestUpdate(ctx, base, bytes.count) == 1, "EVP_DigestUpdate failed")
        }

        /// The digest of everything added so far, as lower-case hex.
        public func finalize() -> String {
            var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
            var length: UInt32 = 0
            precondition(EVP_DigestFinal_ex(ctx, &digest, &length) == 1, "EVP_DigestFinal_ex failed")
            return Hashing.hex(digest.prefix(Int(length)))
        }
    }

    /// Lower-case hex sha256 of a file, read in a stream (the raw bytes on disk, compressed or not).
    public static func sha256(path: String) throws -> String {
        let input = try FileInput(path: path)
        let hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try input.read(into: $0) }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return hasher.finalize()
    }

    /// Lower-case hex sha256 of `bytes`.
    public static func sha256(_ bytes: [UInt8]) -> String {
        let hasher = SHA256()
        bytes.withUnsafeBytes { hasher.update($0) }
        return hasher.finalize()
    }

    /// Lower-case hex sha256 of the UTF-8 bytes of `string`.
    public static func sha256(_ string: String) -> String {
        sha256(Array(string.utf8))
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for b in digest { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
