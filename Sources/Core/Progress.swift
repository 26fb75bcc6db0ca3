import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The shared logger; the CLI installs a handler that prints `warning: …` style lines on stderr.
public let log = Logger(label: "pipeline")

/// Progress of a long task on stderr: a live line with count, rate and ETA on a terminal; a plain line every
/// `logInterval` seconds otherwise (cron, CI). Thread-safe.
public final class Progress: @unchecked Sendable {
    /// Whether progress is shown at all.
    public static var enabled = true
    /// What is being done (the line's prefix).
    public let label: String
    /// What is counted (items, steps, …).
    public let unit: String
    private let total: Int64?
    private var done: Int64 = 0
    private let start = Date()
    private var lastDraw = Date.distantPast
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let logInterval: TimeInterval
    private let lock = NSLock()
    private var drewLive = false

    /// A progress of `total` (if known) `unit`s, logged every `logInterval` seconds when stderr is not a terminal.
    public init(_ label: String, total: Int? = nil, unit: String = "items", logInterval: TimeInterval = 10) {
        self.label = label
        self.total = total.map(Int64.init)
        self.unit = unit
        self.logInterval = logInterval
    }

    /// Counts `n` more done and redraws or logs when due.
    public func advance(by n: Int = 1) {
        lock.lock(); defer { lock.unlock() }
        done += Int64(n)
        let now = Date()
        let interval = isTerminal ? 0.1 : logInterval
        if now.timeIntervalSince(lastDraw) >= interval {
            lastDraw = now
            draw(now: now, final: false)
        }
    }

    /// Prints the final line (elapsed time and rate).
    public func finish() {
        lock.lock(); defer { lock.unlock() }
        draw(now: Date(), final: true)
    }

    private func draw(now: Date, final: Bool) {
        guard Progress.enabled else { return }
        let elapsed = max(now.timeIntervalSince(start), 1e-9)
        if !final && !isTerminal && elapsed < logInterval { return }
        let rate = Double(done) / elapsed
        var line = "\(label): \(Progress.count(done))"
        if let t = total {
            line += "/\(Progress.count(t)) \(unit)"
            if t > 0 { line += String(format: " (%.1f%%)", 100 * Double(done) / Double(t)) }
        } else {
            line += " \(unit)"
        }
        line += ", \(Progress.count(Int64(rate)))/s"
        if final {
            line += ", " + Progress.duration(elapsed)
        } else if let t = total, rate > 0, done < t {
            line += ", ETA " + Progress.duration(Double(t - done) / rate)
        }
        if isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line + (final ? "\n" : "")).utf8))
            drewLive = !final
        } else {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    static func count(_ n: Int64) -> String {
        if n >= 10_000_000 { return String(format: "%.1fM", Double(n) / 1e6) }
        if n >= 10_000 { return String(format: "%.1fk", Double(n) / 1e3) }
        return String(n)
    }

    /// `s` seconds as `12.3s`, `m:ss` or `h:mm:ss`.
    public static func duration(_ s: Double) -> String {
        if s < 60 { return String(format: "%.1fs", s) }
        let total = Int(s.rounded())
        if total < 3600 { return String(format: "%d:%02d", total / 60, total % 60) }
        return String(format: "%d:%02d:%02d", total / 3600, (total / 60) % 60, total % 60)
    }
}
