import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A buffered, append-only file written through POSIX calls so that it can be fsync'ed.
public final class FileOutput {
    public let path: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private let capacity: Int
    public private(set) var bytesWritten: Int64 = 0

    public init(path: String, capacity: Int = 1 << 20) throws {
        self.path = path
        self.capacity = capacity
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw CoreError.io(path: path, operation: "create", errno: errno) }
        buffer.reserveCapacity(capacity)
    }

    deinit { if fd >= 0 { _ = Glibc.close(fd) } }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if bytes.count >= capacity {
            try flush()
            try writeFully(bytes)
            return
        }
        if buffer.count + bytes.count > capacity { try flush() }
        buffer.append(contentsOf: bytes.bindMemory(to: UInt8.self))
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    public func write(_ string: String) throws {
        var s = string
        try s.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    public func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try writeFully($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeFully(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw CoreError.io(path: path, operation: "write", errno: errno)
            }
            offset += n
        }
        bytesWritten += Int64(bytes.count)
    }

    /// Flushes, fsyncs and closes the file.
    public func close() throws {
        try flush()
        if fsync(fd) != 0 { throw CoreError.io(path: path, operation: "fsync", errno: errno) }
        if Glibc.close(fd) != 0 { fd = -1; throw CoreError.io(path: path, operation: "close", errno: errno) }
        fd = -1
    }
}

/// A file read sequentially through POSIX calls.
public final class FileInput {
    public let path: String
    private var fd: Int32

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { throw CoreError.notFound(path: path) }
            throw CoreError.io(path: path, operation: "open", errno: errno)
        }
    }

    deinit { if fd >= 0 { _ = Glibc.close(fd) } }

    /// Reads up to `buffer.count` bytes; returns 0 at end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw CoreError.io(path: path, operation: "read", errno: errno)
        }
    }

    /// Reads until `buffer` is full or the file ends.
    public func readFully(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var total = 0
        while total < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[total...]))
            if n == 0 { break }
            total += n
        }
        return total
    }
}

public enum FileSystem {
    /// fsync a directory so that renames and creations inside it are durable.
    public static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { _ = fsync(fd); _ = Glibc.close(fd) }
    }

    public static func fileSize(_ path: String) throws -> Int64 {
        var st = stat()
        if stat(path, &st) != 0 {
            if errno == ENOENT { throw CoreError.notFound(path: path) }
            throw CoreError.io(path: path, operation: "stat", errno: errno)
        }
        return Int64(st.st_size)
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public static func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw CoreError.io(path: path, operation: "mkdir", errno: errno == 0 ? EIO : errno)
        }
    }

    public static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes `bytes` to `path` atomically: a temporary file beside it, fsync, rename, fsync of the folder.
    public static func atomicWrite(_ bytes: [UInt8], to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        let tmp = (dir.isEmpty ? "." : dir) + "/.tmp-\(getpid())-" + (path as NSString).lastPathComponent
        do {
            let out = try FileOutput(path: tmp)
            try out.write(bytes)
            try out.close()
            if rename(tmp, path) != 0 { throw CoreError.io(path: path, operation: "rename", errno: errno) }
        } catch {
            unlink(tmp)
            throw error
        }
        syncDirectory(dir.isEmpty ? "." : dir)
    }

    public static func atomicWrite(_ string: String, to path: String) throws {
        try atomicWrite(Array(string.utf8), to: path)
    }

    /// All regular files below `root`, as paths relative to it, sorted.
    public static func listFiles(_ root: String) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: root) else { return [] }
        var out: [String] = []
        while let rel = e.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + rel, isDirectory: &isDir), !isDir.boolValue {
                out.append(rel)
            }
        }
        return out.sorted()
    }
}
