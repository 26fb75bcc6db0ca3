import Foundation

/// Locates the project's reference data (`../shared/data` beside the checkout, or `$PIPELINE_SHARED_DATA`).
/// Tests that need it skip with a clear message when it is absent.
public enum SharedData {
    /// The shared data folder, or nil. `filePath` is any file inside the package (pass `#filePath`).
    public static func directory(filePath: String = #filePath) -> String? {
        if let env = ProcessInfo.processInfo.environment["PIPELINE_SHARED_DATA"], FileSystem.isDirectory(env) {
            return env
        }
        var url = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileSystem.exists(url.appendingPathComponent("Package.swift").path) {
                let candidate = url.deletingLastPathComponent().appendingPathComponent("shared/data").path
                return FileSystem.isDirectory(candidate) ? candidate : nil
            }
            url = url.deletingLastPathComponent()
        }
        return nil
    }

    /// The package root (the folder holding Package.swift), found from `filePath`.
    public static func packageRoot(filePath: String = #filePath) -> String {
        var url = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileSystem.exists(url.appendingPathComponent("Package.swift").path) { return url.path }
            url = url.deletingLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath
    }

    /// The built `pipeline` executable the process tests run: `$PIPELINE_BINARY`, else the package's debug build,
    /// else its release build; nil when none is built.
    public static func pipelineBinary(filePath: String = #filePath) -> String? {
        let root = packageRoot(filePath: filePath)
        let candidates = [ProcessInfo.processInfo.environment["PIPELINE_BINARY"], root + "/.build/debug/pipeline",
                          root + "/.build/release/pipeline"]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The skip message of a test that needs the built executable.
    public static let binaryAbsentMessage = "the pipeline executable is not built (swift build): skipped"

    /// The skip message of a test that needs the shared reference data.
    public static let absentMessage = "reference data ../shared/data is absent (set PIPELINE_SHARED_DATA): skipped"
}
