import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A buffered, append-only file written through POSIX calls so that it can be fsync'ed.
public final class FileOutput {
    /// The file written.
    public let path: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private let capacity: Int
    /// Bytes written so far (buffered ones included).
    public private(set) var bytesWritten: Int64 = 0

    /// Creates (or truncates) the file at `path`, buffering up to `capacity` bytes.
    public init(path: String, capacity: Int = 1 << 20) throws {
        self.path = path
        self.capacity = capacity
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw CoreError.io(path: path, operation: "create", errno: errno) }
        buffer.reserveCapacity(capacity)
    }

    deinit { if fd >= 0 { _ = Glibc.close(fd) } }

    /// Appends `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if bytes.count >= capacity {
            try flush()
            try writeFully(bytes)
            return
        }
        if buffer.count + bytes.count > capacity { try flush() }
        buffer.append(contentsOf: bytes.bindMemory(to: UInt8.self))
    }

    /// Appends `bytes`.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Appends the UTF-8 bytes of `string`.
    public func write(_ string: String) throws {
        var s = string
        try s.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Writes out the buffered bytes.
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
    /// The file read.
    public let path: String
    private var fd: Int32

    /// Opens the file at `path` for reading.
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

/// File-system queries and durable writes.
public enum FileSystem {
    /// fsync a directory so that renames and creations inside it are durable.
    public static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { _ = fsync(fd); _ = Glibc.close(fd) }
    }

    /// The size of the file at `path` in bytes; an error when it is missing.
    public static func fileSize(_ path: String) throws -> Int64 {
        var st = stat()
        if stat(path, &st) != 0 {
            if errno == ENOENT { throw CoreError.notFound(path: path) }
            throw CoreError.io(path: path, operation: "stat", errno: errno)
        }
        return Int64(st.st_size)
    }

    /// Whether anything exists at `path`.
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// Whether `path` is a folder.
    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Creates `path` and its parents; an existing file (not a folder) on the way is an error naming it.
    public static func makeDirectory(_ path: String) throws {
        if exists(path) && !isDirectory(path) { throw CoreError.notADirectory(path: path) }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw CoreError.io(path: path, operation: "mkdir", errno: errno == 0 ? EIO : errno)
        }
    }

    /// Removes `path` and everything under it, if it exists.
    public static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes `bytes` to `path` atomically: a temporary file beside it, fsync, rename, fsync of the folder.
    public static func atomicWrite(_ bytes: [UInt8], to path: String) throws {
        try atomicReplace(path) { tmp in
            let out = try FileOutput(path: tmp)
            try out.write(bytes)
            try out.close()
        }
    }

    /// The one temporary-file writer: `write` fills a temporary file beside the target (and closes it, which
    /// fsyncs it), which is then renamed over the target and the folder fsync'ed; on any error the temporary file
    /// is removed and the target is untouched. Only a regular file (or nothing) is ever replaced: a symbolic link
    /// is written through to the file it points to, and a device, FIFO, socket or folder is refused with an error
    /// naming it (`pipeline pack f /dev/null` must not turn a device node into a file).
    public static func atomicReplace(_ path: String, _ write: (String) throws -> Void) throws {
        let target = try replaceableTarget(path)
        let dir = (target as NSString).deletingLastPathComponent
        let folder = dir.isEmpty ? "." : dir
        let tmp = folder + "/.tmp-\(getpid())-" + (target as NSString).lastPathComponent
        do {
            try write(tmp)
            if rename(tmp, target) != 0 { throw CoreError.io(path: path, operation: "rename", errno: errno) }
        } catch {
            unlink(tmp)
            throw error
        }
        syncDirectory(folder)
    }

    /// The file an atomic write of `path` replaces: `path` itself, or the end of its chain of symbolic links.
    /// Throws when that is anything but a regular file or nothing.
    public static func replaceableTarget(_ path: String) throws -> String {
        var target = path
        for _ in 0..<40 {
            var st = stat()
            guard lstat(target, &st) == 0 else { return target }  // nothing there: created
            switch st.st_mode & S_IFMT {
            case S_IFREG: return target
            case S_IFLNK:
                var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let n = readlink(target, &buf, buf.count - 1)
                guard n > 0 else { throw CoreError.io(path: target, operation: "readlink", errno: errno) }
                let link = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                target = link.hasPrefix("/") ? link : ((target as NSString).deletingLastPathComponent as NSString)
                    .appendingPathComponent(link)
            default:
                throw CoreError.notReplaceable(path: path, kind: kind(st.st_mode))
            }
        }
        throw CoreError.notReplaceable(path: path, kind: "a loop of symbolic links")
    }

    /// What a file mode is, in words.
    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: return "a directory"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "not a regular file"
        }
    }

    /// Modification time (ns since 1970) and inode of `path`, or nil when it cannot be stat'ed.
    public static func identity(_ path: String) -> (mtimeNs: Int64, inode: UInt64)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec), UInt64(st.st_ino))
    }

    /// Whether `path` is a regular file (after following symbolic links): one that can be read twice.
    public static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// Writes the UTF-8 bytes of `string` to `path` atomically.
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

/// Inputs that can be read only once (a pipe, a FIFO, process substitution, `/dev/stdin`) copied to a temporary
/// file first, so that a stage can hash an input and then read it. Regular files are used in place.
public enum Spool {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var made: [String] = []

    /// `path` itself when it is a regular file (or a folder, or missing: the caller reports those); otherwise the
    /// path of a temporary copy of its bytes in `folder` (named `.tmp-<pid>-…`, so a crashed run's copy is
    /// removed by the next one), removed by `removeAll()`.
    public static func readable(_ path: String, in folder: String) throws -> String {
        let p = path == "-" ? "/dev/stdin" : path
        var st = stat()
        guard stat(p, &st) == 0 else { return path }
        let mode = st.st_mode & S_IFMT
        guard mode == S_IFIFO || mode == S_IFCHR || mode == S_IFSOCK else { return path }
        try FileSystem.makeDirectory(folder)
        let copy: String = lock.withLock {
            let name = folder + "/.tmp-\(getpid())-spool-\(made.count)-" + (p as NSString).lastPathComponent
            made.append(name)
            return name
        }
        let input = try FileInput(path: p)
        let out = try FileOutput(path: copy)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let k = try buffer.withUnsafeMutableBytes { try input.read(into: $0) }
            if k == 0 { break }
            try buffer.withUnsafeBytes { try out.write(UnsafeRawBufferPointer(rebasing: $0[0..<k])) }
        }
        try out.close()
        return copy
    }

    /// Removes every temporary copy this process made.
    public static func removeAll() {
        lock.lock(); defer { lock.unlock() }
        for p in made { unlink(p) }
        made.removeAll()
    }
}
