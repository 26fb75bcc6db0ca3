import Core
import Foundation
import Metrics

/// Small inline-SVG charts for the run report (no scripts, no network).
public enum SVG {
    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
    static func num(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e12 { return String(Int(v)) }
        return String(format: abs(v) >= 100 ? "%.0f" : (abs(v) >= 1 ? "%.2f" : "%.3g"), v)
    }
    static let colors = ["#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00"]

    /// Horizontal bars, one per label.
    public static func bars(_ items: [(String, Double)], unit: String = "", width: Int = 640) -> String {
        guard !items.isEmpty else { return "<p class=muted>no data</p>" }
        let rowH = 22, left = 190, h = items.count * rowH + 10
        // Bars grow from a zero line: at the left edge, or in the middle when some values are negative.
        let maxAbs = max(items.map { abs($0.1) }.max() ?? 1, 1e-9)
        let negative = items.contains { $0.1 < 0 }
        let span = Double(width - left - 90)
        let zero = Double(left) + (negative ? span / 2 : 0)
        let scale = (negative ? span / 2 : span) / maxAbs
        var s = "<svg xmlns='http://www.w3.org/2000/svg' width='\(width)' height='\(h)' class=chart>"
        for (i, (label, v)) in items.enumerated() {
            let y = 5 + i * rowH
            let w = v * scale
            s += "<text x='\(left - 6)' y='\(y + 15)' text-anchor='end'>\(esc(label))</text>"
            s += "<rect x='\(String(format: "%.1f", w < 0 ? zero + w : zero))' y='\(y + 3)' "
                + "width='\(String(format: "%.1f", max(abs(w), 1)))' height='\(rowH - 6)' fill='\(colors[0])'/>"
            s += "<text x='\(String(format: "%.1f", zero + max(w, 0) + 6))' y='\(y + 15)'>"
                + "\(num(v))\(esc(unit))</text>"
        }
        return s + "</svg>"
    }

    /// A histogram of `values` in `bins` equal-width bins.
    public static func histogram(_ values: [Double], bins: Int = 20, xLabel: String, width: Int = 640,
                                 height: Int = 220) -> String {
        guard let lo = values.min(), let hi = values.max() else { return "<p class=muted>no data</p>" }
        let n = hi > lo ? bins : 1
        var counts = [Int](repeating: 0, count: n)
        for v in values {
            let b = hi > lo ? min(n - 1, Int((v - lo) / (hi - lo) * Double(n))) : 0
            counts[b] += 1
        }
        let (l, r, t, b) = (50, 10, 10, 40)
        let pw = Double(width - l - r), ph = Double(height - t - b)
        let maxC = Double(counts.max() ?? 1)
        var s = "<svg xmlns='http://www.w3.org/2000/svg' width='\(width)' height='\(height)' class=chart>"
        s += axes(l: l, t: t, pw: pw, ph: ph)
        for (i, c) in counts.enumerated() {
            let bw = pw / Double(n)
            let bh = ph * Double(c) / maxC
            s += "<rect x='\(f(Double(l) + Double(i) * bw + 1))' y='\(f(Double(t) + ph - bh))' "
                + "width='\(f(max(bw - 2, 1)))' height='\(f(bh))' fill='\(colors[0])'><title>\(c)</title></rect>"
        }
        s += labels(l: l, t: t, pw: pw, ph: ph, yTop: String(Int(maxC)), yBottom: nil, xLow: num(lo), xHigh: num(hi),
                    title: "\(xLabel) (n = \(values.count))", titleY: height - 6)
        return s + "</svg>"
    }

    /// Line chart of named series of (x, y) points.
    public static func lines(_ series: [(String, [(Double, Double)])], xLabel: String, width: Int = 640,
                             height: Int = 240) -> String {
        let pts = series.flatMap(\.1)
        guard !pts.isEmpty else { return "<p class=muted>no data</p>" }
        let (l, r, t, b) = (60, 10, 10, 56)
        let pw = Double(width - l - r), ph = Double(height - t - b)
        let x0 = pts.map(\.0).min()!, x1 = pts.map(\.0).max()!
        var y0 = pts.map(\.1).min()!, y1 = pts.map(\.1).max()!
        if y1 == y0 { y0 -= 1; y1 += 1 }
        func px(_ x: Double) -> Double { Double(l) + (x1 > x0 ? (x - x0) / (x1 - x0) * pw : pw / 2) }
        func py(_ y: Double) -> Double { Double(t) + ph - (y - y0) / (y1 - y0) * ph }
        var s = "<svg xmlns='http://www.w3.org/2000/svg' width='\(width)' height='\(height)' class=chart>"
        s += axes(l: l, t: t, pw: pw, ph: ph)
        for (i, (name, points)) in series.enumerated() {
            let c = colors[i % colors.count]
            let path = points.map { "\(f(px($0.0))),\(f(py($0.1)))" }.joined(separator: " ")
            s += "<polyline fill='none' stroke='\(c)' stroke-width='2' points='\(path)'/>"
            for p in points where points.count <= 40 {
                s += "<circle cx='\(f(px(p.0)))' cy='\(f(py(p.1)))' r='3' fill='\(c)'>"
                    + "<title>\(esc(name)): \(num(p.1))</title></circle>"
            }
            s += "<rect x='\(l + i * 150)' y='\(height - 16)' width='10' height='10' fill='\(c)'/>"
                + "<text x='\(l + i * 150 + 14)' y='\(height - 7)'>\(esc(name))</text>"
        }
        s += labels(l: l, t: t, pw: pw, ph: ph, yTop: num(y1), yBottom: num(y0), xLow: num(x0), xHigh: num(x1),
                    title: xLabel, titleY: t + Int(ph) + 30)
        return s + "</svg>"
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    /// The value labels at the ends of both axes and the x-axis title, for a plot area at (l, t) of pw × ph.
    static func labels(l: Int, t: Int, pw: Double, ph: Double, yTop: String, yBottom: String?, xLow: String,
                       xHigh: String, title: String, titleY: Int) -> String {
        let base = t + Int(ph)
        var s = "<text x='\(l - 4)' y='\(t + 10)' text-anchor='end'>\(esc(yTop))</text>"
        if let yBottom { s += "<text x='\(l - 4)' y='\(base)' text-anchor='end'>\(esc(yBottom))</text>" }
        s += "<text x='\(l)' y='\(base + 16)'>\(esc(xLow))</text>"
        s += "<text x='\(l + Int(pw))' y='\(base + 16)' text-anchor='end'>\(esc(xHigh))</text>"
        return s + "<text x='\(l + Int(pw / 2))' y='\(titleY)' text-anchor='middle'>\(esc(title))</text>"
    }
    static func axes(l: Int, t: Int, pw: Double, ph: Double) -> String {
        "<line x1='\(l)' y1='\(t)' x2='\(l)' y2='\(f(Double(t) + ph))' stroke='#444'/>"
            + "<line x1='\(l)' y1='\(f(Double(t) + ph))' x2='\(f(Double(l) + pw))' y2='\(f(Double(t) + ph))' "
            + "stroke='#444'/>"
    }
}

/// `runs/<ts>/report.html`: the stage table, one section per stage, the comparison with the previous run.
public enum RunReport {
    /// Run folder names under `runs` that hold a summary.json, oldest first.
    public static func runNames(runs: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? []
        return names.filter { FileSystem.exists(runs + "/" + $0 + "/summary.json") }.sorted()
    }

    /// Records what the report shows of each stage's artifacts, as they are at the end of the run, under
    /// `runDir/sections/<folder>.html`: re-rendering a run's report later gives the same page even after the work
    /// directory moved on. Called by `pipeline run` whether or not it writes the report.
    public static func snapshot(runDir: String) throws {
        let summary = try RunSummary.load(runDir: runDir)
        let work = Workdir(path: summary.workdir)
        try FileSystem.makeDirectory(runDir + "/sections")
        for o in summary.stages {
            guard let m = try? Manifest.load(path: runDir + "/manifests/\(o.folder).json") else { continue }
            try FileSystem.atomicWrite(section(o.folder, manifest: m, dir: work.stageDir(o.folder)),
                                       to: runDir + "/sections/\(o.folder).html")
        }
    }

    /// Renders the report of `runDir` and writes it to `runDir/report.html`; returns its path.
    @discardableResult
    public static func write(runDir: String, runsDir: String) throws -> String {
        let html = try render(runDir: runDir, runsDir: runsDir)
        let path = runDir + "/report.html"
        try FileSystem.atomicWrite(html, to: path)
        return path
    }

    /// The report of `runDir` as HTML, compared with the earlier runs under `runsDir`.
    public static func render(runDir: String, runsDir: String) throws -> String {
        let summary = try RunSummary.load(runDir: runDir)
        let name = (runDir as NSString).lastPathComponent
        let all = runNames(runs: runsDir)
        let earlier = all.filter { $0 < name }
        let previous = earlier.last.flatMap { try? RunSummary.load(runDir: runsDir + "/" + $0) }
        let work = Workdir(path: summary.workdir)
        func manifest(_ folder: String) -> Manifest? {
            (try? Manifest.load(path: runDir + "/manifests/\(folder).json"))
        }
        var h = """
        <!DOCTYPE html><html><head><meta charset="utf-8"><title>pipeline run \(SVG.esc(name))</title><style>
        body{font:14px/1.4 sans-serif;margin:24px;max-width:1000px;color:#222}
        table{border-collapse:collapse;margin:8px 0}\
        td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
        th{background:#f0f0f0}.ok{color:#109618}.bad{color:#dc3912;font-weight:bold}.muted{color:#888}
        .chart text{font:11px sans-serif;fill:#333}h2{border-bottom:1px solid #ddd;margin-top:28px}code{font-size:12px}
        </style></head><body>
        <h1>pipeline run \(SVG.esc(name))</h1>
        <p>Status: <b class="\(summary.status == "ok" ? "ok" : "bad")">\(summary.status)</b>\
        \(summary.failedStage.map { " — stage <b>\(SVG.esc($0))</b> failed" } ?? "") \
        · started \(summary.started) · \
        \(SVG.num(summary.seconds)) s · work directory <code>\(SVG.esc(summary.workdir))</code> \
        · config <code>\(SVG.esc(summary.config))</code></p>
        <h2>Stages</h2><table><tr><th>stage</th><th>status</th><th>time (s)</th><th>inputs</th>\
        <th>outputs</th><th>records</th><th>log</th></tr>
        """
        for o in summary.stages {
            let m = manifest(o.folder)
            let cls = o.status == "failed" ? "bad"
                : (o.status == "ran" || o.status == "up to date" || o.status == "ran with skips" ? "ok" : "muted")
            let ins = m?.inputs.map { "\(SVG.esc($0.path)) (\($0.bytes) B)" }.joined(separator: "<br>") ?? ""
            let outs = m?.outputs.map { "\(SVG.esc($0.path)) (\($0.bytes) B)" }.joined(separator: "<br>") ?? ""
            let recs = o.records.sorted { $0.key < $1.key }.map { "\(SVG.esc($0.key)): \($0.value)" }
                .joined(separator: "<br>")
            h += "<tr><td>\(SVG.esc(o.stage))</td><td class=\(cls)>\(SVG.esc(o.status))"
                + "\(o.exitCode.map { $0 != 0 ? " (exit \($0))" : "" } ?? "")</td>"
            h += "<td>\(SVG.num(o.seconds))</td><td>\(ins)</td><td>\(outs)</td><td>\(recs)</td>"
            h += "<td>\(o.log.map { "<a href='\(SVG.esc($0))'>\(SVG.esc($0))</a>" } ?? "")</td></tr>"
        }
        h += "</table><h3>Time per stage (s)</h3>"
        h += SVG.bars(summary.stages.filter { $0.exitCode != nil }.map { ($0.stage, $0.seconds) }, unit: " s")
        h += scaleOutSection(summary)

        for o in summary.stages {
            h += "<h2>\(SVG.esc(o.stage))</h2>"
            guard let m = manifest(o.folder) else {
                h += "<p class=muted>Not yet run (\(SVG.esc(o.status))): no manifest for this stage in this run.</p>"
                continue
            }
            h += "<p>Finished \(m.finished) (\(SVG.num(m.seconds)) s of work when it last ran). Parameters: "
            h += m.parameters.sorted { $0.key < $1.key }
                .map { "<code>\(SVG.esc($0.key))=\(SVG.esc($0.value))</code>" }.joined(separator: " ")
            h += "</p>"
            if let recorded = try? String(contentsOfFile: runDir + "/sections/\(o.folder).html", encoding: .utf8) {
                h += recorded
            } else {  // a run recorded before sections were snapshotted
                h += "<p class=muted>(figures below read from the work directory as it is now)</p>"
                h += section(o.folder, manifest: m, dir: work.stageDir(o.folder))
            }
        }

        let scores = scoresSection(work.stageDir("score"))
        if !scores.isEmpty { h += "<h2>Scores (pipeline score --name)</h2>" + scores }

        h += "<h2>Comparison with the previous run</h2>"
        if let p = previous, let pname = earlier.last {
            h += "<p>Previous run: \(SVG.esc(pname)) (\(p.status), \(SVG.num(p.seconds)) s).</p>"
            h += "<table><tr><th>stage</th><th>status</th><th>records changed</th><th>flag</th></tr>"
            for o in summary.stages {
                guard let q = p.stages.first(where: { $0.stage == o.stage }) else { continue }
                var changes: [String] = []
                var regression = false
                for k in Set(o.records.keys).union(q.records.keys).sorted() where o.records[k] != q.records[k] {
                    let a = q.records[k], b = o.records[k]
                    changes.append("\(k): \(a.map(String.init) ?? "–") → \(b.map(String.init) ?? "–")")
                    if let a, let b, b < a { regression = true }
                }
                if q.status != "failed" && o.status == "failed" { regression = true }
                h += "<tr><td>\(SVG.esc(o.stage))</td><td>\(SVG.esc(q.status)) → \(SVG.esc(o.status))</td>"
                h += "<td>"
                    + (changes.isEmpty ? "<span class=muted>unchanged</span>"
                                       : changes.map(SVG.esc).joined(separator: "<br>"))
                    + "</td>"
                h += "<td>\(regression ? "<span class=bad>regression</span>" : "")</td></tr>"
            }
            h += "</table>"
        } else {
            h += "<p class=muted>No previous run under \(SVG.esc(runsDir)).</p>"
        }
        let trendRuns = (earlier.suffix(19) + [name]).compactMap { n in
            (try? RunSummary.load(runDir: runsDir + "/" + n)).map { (n, $0) }
        }
        h += "<h3>Run time over the last \(trendRuns.count) runs (s)</h3>"
        h += SVG.lines([("run seconds", trendRuns.enumerated().map { (Double($0.offset + 1), $0.element.1.seconds) })],
                       xLabel: "run (oldest → newest)")
        // Evaluation trend: mean reward and accuracy of the eval stage in every run that has them.
        var rewardTrend: [(Double, Double)] = [], accuracyTrend: [(Double, Double)] = []
        for (i, run) in trendRuns.enumerated() {
            guard let e = run.1.stages.first(where: { $0.stage == "eval" }), let q = e.records["questions"],
                  q > 0 else { continue }
            if let r = e.records["reward_milli"] { rewardTrend.append((Double(i + 1), Double(r) / 1000)) }
            if let a = e.records["exact_answers"] { accuracyTrend.append((Double(i + 1), Double(a) / Double(q))) }
        }
        if !rewardTrend.isEmpty {
            h += "<h3>Eval over the last runs: mean total reward</h3>"
            h += SVG.lines([("reward", rewardTrend)], xLabel: "run (oldest → newest)")
            h += "<h3>Eval over the last runs: accuracy (check_answer = 3)</h3>"
            h += SVG.lines([("accuracy", accuracyTrend)], xLabel: "run (oldest → newest)")
        }
        h += "</body></html>\n"
        return h
    }

    /// The stage-specific part of a section, from the manifest and the artifacts in the work directory.
    static func section(_ folder: String, manifest m: Manifest, dir: String) -> String {
        var h = ""
        if !m.records.isEmpty {
            h += "<table><tr><th>record</th><th>value</th></tr>"
            for (k, v) in m.records.sorted(by: { $0.key < $1.key }) {
                h += "<tr><td>\(SVG.esc(k))</td><td>\(v)</td></tr>"
            }
            h += "</table>"
        }
        switch folder {
        case "tokenize":
            let vocab = m.records["vocab_size"] ?? 0
            let target = Int(m.parameters["vocab_size"] ?? m.parameters["vocab-size"] ?? "") ?? -1
            h += "<p>Vocabulary \(vocab) tokens, \(m.records["merges"] ?? 0) merges; stop reason: <b>"
            h += vocab >= target && target > 0 ? "full (vocab size reached)"
                : "min_frequency (no pair frequent enough, or none left)"
            h += "</b>.</p>"
            if let tokens = vocabTokens(dir + "/vocab.json.zst") {
                h += "<h3>Token length (bytes) over the vocabulary</h3>"
                    + SVG.histogram(tokens.map { Double($0) }, bins: 16, xLabel: "bytes per token")
            }
        case "tokens":
            if let text = m.records["text_bytes"], let tokens = m.records["tokens"], tokens > 0 {
                h += "<p>Compression on the corpus: <b>" + String(format: "%.2f", Double(text) / Double(tokens))
                    + "</b> bytes of text per token (\(text) bytes → \(tokens) tokens).</p>"
            }
        case "ingest":
            h += ingestSection(dir)
        case "dedup":
            h += dedupSection(m, dir: dir)
        case "eval":
            h += evalSection(dir)
            // The questions evaluated: the eval's JSON Lines input.
            if let data = m.inputs.first(where: { $0.path.hasSuffix(".jsonl.zst") || $0.path.hasSuffix(".jsonl") }) {
                let work = Workdir(path: (dir as NSString).deletingLastPathComponent)
                h += "<p>Questions " + SVG.esc(work.decontaminationStatement(evalData: data.path)) + ".</p>"
            }
        case "decontaminate":
            h += decontaminationSection(m, dir: dir)
        case "grpo":
            h += grpoEvals(dir) + grpoSamples(dir)
        case "gsm8k":
            let lengths = fieldLengths(m, dir: dir, record: GSM8KRecord.self, skip: "rejects.jsonl.zst") { $0.answer }
            if !lengths.isEmpty {
                h += "<h3>Answer length (characters)</h3>" + SVG.histogram(lengths, bins: 12, xLabel: "characters")
            }
        case "chunk":
            let lengths = fieldLengths(m, dir: dir, record: Lenient<ChunkRecord>.self) { $0.record.text }
            if !lengths.isEmpty {
                h += "<h3>Chunk length (characters)</h3>" + SVG.histogram(lengths, bins: 20, xLabel: "characters")
            }
        default: break
        }
        // Training curves (pretrain, sft, grpo): every logged value of metrics.jsonl.zst over its step.
        if m.outputs.contains(where: { $0.path == "metrics.jsonl.zst" }) {
            var series: [String: [(Double, Double)]] = [:]
            func read<R: StepMetrics>(_ type: R.Type) {
                try? JSONLReader.forEachReadable(R.self, path: dir + "/metrics.jsonl.zst") { r in
                    for (k, v) in r.logged { series[k, default: []].append((Double(r.step), v)) }
                }
            }
            switch folder {
            case "pretrain": read(PretrainMetrics.self)
            case "sft": read(SFTMetrics.self)
            case "grpo": read(GRPOMetrics.self)
            default: break
            }
            // Losses share one chart (train and validation), the other metrics get one each.
            let losses = series.keys.filter { $0.hasSuffix("loss") }
                .sorted { ($0.hasPrefix("train") ? 0 : 1, $0) < ($1.hasPrefix("train") ? 0 : 1, $1) }
            if !losses.isEmpty { h += "<h3>loss</h3>" + SVG.lines(losses.map { ($0, series[$0]!) }, xLabel: "step") }
            for k in series.keys.sorted() where !losses.contains(k) {
                h += "<h3>\(SVG.esc(k))</h3>" + SVG.lines([(k, series[k]!)], xLabel: "step")
            }
        }
        return h
    }

    /// Documents ok/skipped with their reasons, pages and characters, from the ingest stage's records.
    static func ingestSection(_ dir: String) -> String {
        var ok = 0, pages = 0, duplicates = 0
        var skipped: [(String, String)] = []
        try? JSONLReader.forEachReadable(Lenient<DocumentRecord>.self, path: dir + "/documents.jsonl.zst") {
            let d = $0.record
            if d.status == "ok" {
                ok += 1
                pages += d.pages
            } else if d.status == "duplicate" {
                duplicates += 1
            } else {
                skipped.append((d.ifPresent(.source, d.source) ?? "?", d.error ?? "skipped"))
            }
        }
        var characters = 0
        var perPage: [Double] = []
        try? JSONLReader.forEachReadable(Lenient<PageRecord>.self, path: dir + "/pages.jsonl.zst") {
            let n = $0.record.text.count
            characters += n
            perPage.append(Double(n))
        }
        var h = "<p>Documents: <b>\(ok) ok</b>, <b>\(skipped.count) skipped</b>"
            + (duplicates > 0
                ? ", <b>\(duplicates) duplicate\(duplicates == 1 ? "" : "s")</b> (same bytes as an earlier file)" : "")
            + "; \(pages) pages, \(characters) characters.</p>"
        if !skipped.isEmpty {
            h += "<table><tr><th>skipped document</th><th>reason</th></tr>"
            for (source, reason) in skipped { h += "<tr><td>\(SVG.esc(source))</td><td>\(SVG.esc(reason))</td></tr>" }
            h += "</table>"
        }
        if !perPage.isEmpty {
            h += "<h3>Characters per page</h3>" + SVG.histogram(perPage, bins: 20, xLabel: "characters")
        }
        return h
    }

    /// The decontaminate stage's counts in words and its first overlaps (training text, eval item, shared n-gram).
    static func decontaminationSection(_ m: Manifest, dir: String) -> String {
        let r = m.records, n = m.parameters["ngram"] ?? "13"
        let reportOnly = m.parameters["report_only"] == "true"
        var h = "<p>\(r["eval_items"] ?? 0) evaluation items (\(SVG.esc(m.parameters["eval"] ?? "?"))) against "
            + "\(r["documents"] ?? 0) documents and \(r["records"] ?? 0) GSM8K training records: <b>"
            + "\(r["contaminated_documents"] ?? 0) documents and \(r["contaminated_records"] ?? 0) records</b> "
            + "share a \(n)-gram with <b>\(r["contaminated_eval_items"] ?? 0) evaluation items</b> ("
            + (reportOnly ? "report only: kept in training" : "removed from the training copies") + ").</p>"
        var rows: [OverlapRecord] = []
        try? JSONLReader.forEachReadable(OverlapRecord.self, path: dir + "/overlaps.jsonl.zst") {
            if rows.count < 10 { rows.append($0) }
        }
        if !rows.isEmpty {
            h += "<table><tr><th>training text</th><th>source</th><th>eval item</th><th>shared</th>"
                + "<th>first shared \(n)-gram</th></tr>"
            for o in rows {
                h += "<tr><td>\(SVG.esc(o.trainID))</td><td>\(SVG.esc(o.trainSource))</td><td>\(SVG.esc(o.evalID))"
                    + "</td><td>\(o.sharedNgrams)</td><td>\(SVG.esc(o.ngram))</td></tr>"
            }
            h += "</table>"
        }
        return h
    }

    /// The units removed (exact and near) and the five largest clusters, each with an excerpt of its members.
    static func dedupSection(_ m: Manifest, dir: String) -> String {
        var clusters: [DuplicateCluster] = []
        try? JSONLReader.forEachReadable(DuplicateCluster.self, path: dir + "/clusters.jsonl.zst") {
            clusters.append($0)
        }
        let unit = m.parameters["level"] == "page" ? "pages" : "documents"
        let removed = m.records["removed"] ?? 0
        var h = "<p>Removed <b>\(removed) of \(m.records["units"] ?? 0) \(unit)</b>: \(m.records["exact"] ?? 0) "
            + "exact and \(m.records["near"] ?? 0) near duplicates, in \(clusters.count) "
            + "cluster\(clusters.count == 1 ? "" : "s").</p>"
        // Largest first; ties in file order (the order of the kept units).
        let largest = clusters.enumerated()
            .sorted { ($1.element.removed.count, $0.offset) < ($0.element.removed.count, $1.offset) }
            .prefix(5).map(\.element)
        guard !largest.isEmpty else { return h }
        func where_(_ x: DuplicateCluster.Member) -> String {
            SVG.esc(x.source) + (x.page.map { " p. \($0 + 1)" } ?? "")
        }
        h += "<h3>Largest clusters</h3><table><tr><th>kind</th><th>kept</th><th>removed</th>"
            + "<th>Jaccard (estimated / exact)</th></tr>"
        for c in largest {
            let similar = c.removed.map { r in
                SVG.num(r.estimatedJaccard ?? 0) + " / " + SVG.num(r.jaccard ?? 0)
            }
            h += "<tr><td>\(c.kind)</td><td>\(where_(c.kept))<br><span class=muted>\(SVG.esc(c.kept.excerpt))"
                + "</span></td><td>"
                + c.removed.map { "\(where_($0))<br><span class=muted>\(SVG.esc($0.excerpt))</span>" }
                    .joined(separator: "<br>")
                + "</td><td>\(similar.joined(separator: "<br>"))</td></tr>"
        }
        return h + "</table>"
    }

    /// The length in code points (Python's `len`) of a string field of every record of the stage's JSON Lines outputs.
    static func fieldLengths<R: Decodable>(_ m: Manifest, dir: String, record: R.Type, skip: String? = nil,
                                           _ field: (R) -> String) -> [Double] {
        var lengths: [Double] = []
        for f in m.outputs where f.path.hasSuffix(".jsonl.zst") && f.path != skip {
            try? JSONLReader.forEachReadable(R.self, path: dir + "/" + f.path) {
                lengths.append(Double(field($0).unicodeScalars.count))
            }
        }
        return lengths
    }

    /// The last logged group of GRPO completions: prompt end, answer, each completion with its reward and advantage.
    static func grpoSamples(_ dir: String) -> String {
        var last: GRPOSampleRecord? = nil
        try? JSONLReader.forEachReadable(GRPOSampleRecord.self, path: dir + "/samples.jsonl.zst") { last = $0 }
        guard let s = last else { return "" }
        let completions = s.completions, rewards = s.rewards, advantages = s.advantages
        let prompt = String(s.prompt.suffix(300))
        var h = "<h3>Sample completions (step \(s.step), answer "
            + "\(SVG.esc(s.answer))</h3><p class=muted>…\(SVG.esc(prompt))</p>"
        h += "<table><tr><th>#</th><th>reward</th><th>advantage</th><th>completion</th></tr>"
        for (i, c) in completions.prefix(4).enumerated() {
            let r = i < rewards.count ? SVG.num(rewards[i]) : "", a = i < advantages.count ? SVG.num(advantages[i]) : ""
            h += "<tr><td>\(i + 1)</td><td>\(r)</td><td>\(a)</td><td>\(completionCell(c))</td></tr>"
        }
        return h + "</table>"
    }

    /// `grpo --eval-every`: the held-out greedy accuracy over the steps beside the mean sampled reward, and the
    /// first questions' answers before the first step and after the last.
    static func grpoEvals(_ dir: String) -> String {
        var evals: [GRPOEvalRecord] = []
        try? JSONLReader.forEachReadable(GRPOEvalRecord.self, path: dir + "/evals.jsonl.zst") { evals.append($0) }
        guard let first = evals.first, let last = evals.last else { return "" }
        var reward: [(Double, Double)] = []
        try? JSONLReader.forEachReadable(GRPOMetrics.self, path: dir + "/metrics.jsonl.zst") { m in
            if let r = m.reward { reward.append((Double(m.step), r)) }
        }
        let pct = { (x: Double) in String(format: "%.1f%%", 100 * x) }
        var h = "<h3>Held-out greedy accuracy over the GRPO steps</h3><p>\(last.questions) held-out questions: "
            + "accuracy <b>\(pct(first.accuracy))</b> at step \(first.step) → <b>\(pct(last.accuracy))</b> at step "
            + "\(last.step); exact format \(pct(first.formatExact)) → \(pct(last.formatExact)).</p>"
            + "<div style='display:flex;flex-wrap:wrap;gap:12px'><div>"
            + SVG.lines([("accuracy %", evals.map { (Double($0.step), 100 * $0.accuracy) }),
                         ("exact format %", evals.map { (Double($0.step), 100 * $0.formatExact) })],
                        xLabel: "GRPO step (greedy, held-out)", width: 480)
            + "</div><div>" + SVG.lines([("mean sampled reward", reward)], xLabel: "GRPO step", width: 480)
            + "</div></div>"
        guard last.step != first.step else { return h }
        h += "<h3>The same questions before and after GRPO (greedy)</h3><table><tr><th>question</th><th>answer</th>"
            + "<th>step \(first.step) (reward)</th><th>step \(last.step) (reward)</th></tr>"
        for (a, b) in zip(first.samples, last.samples) where a.id == b.id {
            h += "<tr><td>\(SVG.esc(a.question))</td><td>\(SVG.esc(a.answer))</td>"
                + "<td>\(SVG.num(a.reward))\(completionCell(a.completion))</td>"
                + "<td>\(SVG.num(b.reward))\(completionCell(b.completion))</td></tr>"
        }
        return h + "</table>"
    }

    /// A completion as a table cell (whitespace-only ones said so, long ones scroll).
    static func completionCell(_ text: String) -> String {
        text.allSatisfy(\.isWhitespace)
            ? "<span class=muted>(\(text.unicodeScalars.count) whitespace characters only)</span>"
            : "<pre style='white-space:pre-wrap;margin:0;max-height:14em;overflow:auto'>"
                + "\(SVG.esc(String(text.prefix(600))))</pre>"
    }

    /// The eval summary and a few sample answers.
    static func evalSection(_ dir: String) -> String {
        var h = ""
        if let bytes = try? ByteReader(path: dir + "/summary.json").readAll(),
           let e = try? JSONDecoder().decode(EvalSummary.self, from: Data(bytes)) {
            h += "<p>\(e.questions) questions: mean total reward <b>"
                + String(format: "%.3f", e.reward) + "</b> (std " + String(format: "%.3f", e.rewardStd)
                + "), accuracy <b>" + String(format: "%.1f%%", 100 * e.accuracy) + "</b>, exact format "
                + String(format: "%.1f%%", 100 * e.formatExact) + ", " + String(format: "%.1f", e.meanCompletionTokens)
                + " tokens per answer.</p>"
            let short = { (k: String) in
                k.replacingOccurrences(of: "rewards/", with: "").replacingOccurrences(of: "/mean", with: "")
            }
            h += SVG.bars(e.means.keys.sorted().map { (short($0), e.means[$0]!) })
        }
        if let bytes = try? ByteReader(path: dir + "/metrics.json").readAll(),
           let report = try? JSONDecoder().decode(ScoreReport.self, from: Data(bytes)) {
            h += "<h3>Text metrics against the reference reasoning (eval --metrics)</h3>" + scoreBars(report)
        }
        var samples: [(String, String, Double)] = []
        try? JSONLReader.forEachReadable(EvalCompletion.self, path: dir + "/completions.jsonl.zst") { c in
            if samples.count < 3 { samples.append((c.id, c.completion, c.reward)) }
        }
        if !samples.isEmpty {
            h += "<h3>Sample answers</h3><table><tr><th>id</th><th>reward</th><th>completion</th></tr>"
            for (id, text, r) in samples {
                h += "<tr><td>\(SVG.esc(id))</td><td>\(SVG.num(r))</td><td>\(completionCell(text))</td></tr>"
            }
            h += "</table>"
        }
        return h
    }

    /// A score report as bars on one 0–100 scale: BLEU, chrF, ROUGE F1 × 100, QA EM and F1, semsim × 100.
    static func scoreBars(_ r: ScoreReport) -> String {
        var bars: [(String, Double)] = []
        if let b = r.bleu { bars.append(("BLEU", b.score)) }
        if let c = r.chrf { bars.append(("chrF", c.score)) }
        for (k, v) in (r.rouge ?? [:]).sorted(by: { $0.key < $1.key }) { bars.append(("\(k) F1", 100 * v.fmeasure)) }
        if let q = r.qa { bars += [("QA exact match", q.exactMatch), ("QA F1", q.f1)] }
        if let m = r.semsim { bars.append(("semsim", 100 * m.mean)) }
        return "<p>\(r.items) items.</p>" + SVG.bars(bars)
    }

    /// The `pipeline score --name NAME` results kept in `<workdir>/score/` (text metrics and perplexities).
    static func scoresSection(_ dir: String) -> String {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return "" }
        var h = ""
        for name in names.filter({ $0.hasSuffix(".json") }).sorted() {
            guard let bytes = try? ByteReader(path: dir + "/" + name).readAll() else { continue }
            let title = "<h3>\(SVG.esc(String(name.dropLast(5))))</h3>"
            if let r = try? JSONDecoder().decode(ScoreReport.self, from: Data(bytes)), r.items > 0 {
                h += title + scoreBars(r)
            } else if let p = try? JSONDecoder().decode([String: Perplexity].self, from: Data(bytes)),
                      let v = p["perplexity"] {
                h += title + "<p>perplexity <b>" + String(format: "%.3f", v.perplexity) + "</b> over \(v.tokens) "
                    + "tokens (window \(v.window), stride \(v.stride))</p>"
            }
        }
        return h
    }

    /// The `{"perplexity": …}` of `pipeline score perplexity --name`.
    struct Perplexity: Decodable {
        var perplexity: Double
        var tokens: Int
        var window: Int
        var stride: Int
    }

    /// Per sharded stage: its shards, wall time, slowest shard and retries (from `summary.json`).
    static func scaleOutSection(_ summary: RunSummary) -> String {
        let sharded = summary.stages.filter { ($0.shards ?? 0) > 1 }
        guard !sharded.isEmpty else { return "" }
        var h = "<h3>Scale-out</h3><table><tr><th>stage</th><th>shards</th><th>wall time (s)</th>"
            + "<th>slowest shard (s)</th><th>merge and waiting (s)</th><th>retries</th></tr>"
        for o in sharded {
            let slow = o.slowestShardSeconds ?? 0
            h += "<tr><td>\(SVG.esc(o.stage))</td><td>\(o.shards ?? 1)</td><td>\(SVG.num(o.seconds))</td>"
                + "<td>\(SVG.num(slow))</td><td>\(SVG.num(max(0, o.seconds - slow)))</td><td>\(o.retries ?? 0)</td></tr>"
        }
        return h + "</table>"
    }

    static func vocabTokens(_ path: String) -> [Int]? {
        guard FileSystem.exists(path), let bytes = try? ByteReader(path: path).readAll(),
              let vocab = try? JSONDecoder().decode([String: Int].self, from: Data(bytes)) else { return nil }
        return vocab.keys.map { $0.unicodeScalars.count }
    }
}
