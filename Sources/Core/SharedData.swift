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

    public static let absentMessage = "reference data ../shared/data is absent (set PIPELINE_SHARED_DATA): skipped"
}
