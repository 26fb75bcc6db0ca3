import CShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive `flock` on `<workdir>/.lock`, held for the life of the object (and released by the kernel if the
/// process dies, so a killed run never leaves a stale lock).
public final class WorkdirLock {
    private let fd: Int32
    /// The lock file.
    public let path: String

    /// `wait`: block until the holder finishes; otherwise throw `RunError.locked` at once.
    public init(workdir: String, wait: Bool, onWait: () -> Void = {}) throws {
        try FileSystem.makeDirectory(workdir)
        path = workdir + "/.lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CoreError.io(path: path, operation: "open", errno: errno) }
        if pipeline_flock_exclusive(fd, 0) != 0 {
            let e = errno
            guard e == EWOULDBLOCK || e == EAGAIN else {
                close(fd); throw CoreError.io(path: path, operation: "flock", errno: e)
            }
            guard wait else { close(fd); throw RunError.locked(path: workdir) }
            onWait()
            guard pipeline_flock_exclusive(fd, 1) == 0 else {
                let e2 = errno; close(fd); throw CoreError.io(path: path, operation: "flock", errno: e2)
            }
        }
        // Record the holder for humans (the lock itself is the flock, not this text).
        let text = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    deinit { close(fd) }
}

/// This process: its executable (to start workers and stages with) and its tie to the run that started it.
public enum SelfProcess {
    /// In a stage spawned by a run: have the kernel kill this process when the run dies. False when the run
    /// (pid `parent`) is already gone.
    public static func dieWithParent(_ parent: Int32) -> Bool { pipeline_die_with_parent(parent) == 0 }

    /// The executable of this process (`/proc/self/exe` resolved).
    public static func executable() -> String {
        if let p = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return p }
        return CommandLine.arguments[0]
    }
}
