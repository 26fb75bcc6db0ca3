#!/usr/bin/env bash
# PDF text extraction: `pipeline ingest --jobs 2` against pdftotext (poppler-utils, one process per file, 2 at a
# time through xargs -P2), PyMuPDF and pypdf (each in a pool of 2 processes), on the same PDFs in one run.
# Prints the wall time, pages and pages/s of each, and our throughput relative to each.
#
# Corpus: $BENCH_PDFS (a folder of PDFs) if set; otherwise ../shared/data/pdfs plus the PDF manuals that Debian
# packages installed on this machine hold under /usr/share/doc (gunzipped). REPEAT=N copies the corpus N times
# (distinct names, same content) for a longer run. Larger real corpora: install e.g. texlive-publishers-doc,
# r-doc-pdf or octave-doc and point BENCH_PDFS at a folder of their PDFs. Without any of these, the sample
# papers in data/papers are used.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/pipeline}
PY=${PY:-.venv-bench/bin/python}
[ -x "$PY" ] || PY=/work/main/.venv-bench/bin/python
JOBS=${JOBS:-2}
REPEAT=${REPEAT:-1}
TMP=${TMPDIR:-/tmp}/pipeline-bench-ingest
rm -rf "$TMP"; mkdir -p "$TMP/src" "$TMP/corpus" "$TMP/pdftotext"

. Benchmarks/real_pdfs.sh
real_pdfs "$TMP/src"
# Nothing else on this machine: the repository's sample papers (tiny; the figures then mostly measure start-up).
ls "$TMP/src"/*.pdf > /dev/null 2>&1 || cp data/papers/*.pdf "$TMP/src/"
for r in $(seq 1 "$REPEAT"); do
  for f in "$TMP/src"/*.pdf; do cp "$f" "$TMP/corpus/$r-$(basename "$f")"; done
done
FILES=$(find "$TMP/corpus" -name '*.pdf' | wc -l)
[ "$FILES" -gt 0 ] || { echo "no PDFs found"; exit 1; }
BYTES=$(du -sb "$TMP/corpus" | cut -f1)

now() { date +%s.%N; }
# Warm the page cache (inputs, executables, Python modules) so that no tool pays for a first read.
cat "$TMP/corpus"/*.pdf > /dev/null
"$BIN" ingest data/papers --jobs "$JOBS" --force -q --workdir "$TMP/warm" > /dev/null 2>&1 || true
pdftotext -q data/papers/two-columns.pdf /dev/null || true
"$PY" -c "import pymupdf, pypdf" > /dev/null 2>&1 || true

s=$(now)
"$BIN" ingest "$TMP/corpus" --jobs "$JOBS" --force -q --workdir "$TMP/work" > "$TMP/ours.out" 2> "$TMP/ours.err" || [ $? -eq 3 ]
e=$(now)
OURS=$(python3 -c "print($e-$s)")
PAGES=$(zstd -dc "$TMP/work/ingest/pages.jsonl.zst" | wc -l)
CHARS=$(zstd -dc "$TMP/work/ingest/corpus.txt.zst" | wc -m)

s=$(now)
find "$TMP/corpus" -name '*.pdf' -print0 | \
  xargs -0 -P "$JOBS" -n 1 sh -c 'pdftotext -q -enc UTF-8 "$0" "'"$TMP"'/pdftotext/$(basename "$0").txt" || true'
e=$(now)
PDFTOTEXT=$(python3 -c "print($e-$s)")
PDFTOTEXT_CHARS=$(cat "$TMP/pdftotext"/*.txt | wc -m)

read -r MUPDF MUPDF_PAGES MUPDF_CHARS MUPDF_FAIL < <("$PY" Benchmarks/bench_ingest.py pymupdf "$TMP/corpus" "$JOBS")
read -r PYPDF PYPDF_PAGES PYPDF_CHARS PYPDF_FAIL < <("$PY" Benchmarks/bench_ingest.py pypdf "$TMP/corpus" "$JOBS")

python3 - "$FILES" "$BYTES" "$PAGES" "$JOBS" "$REPEAT" \
  "$OURS" "$CHARS" "$PDFTOTEXT" "$PDFTOTEXT_CHARS" \
  "$MUPDF" "$MUPDF_PAGES" "$MUPDF_CHARS" "$MUPDF_FAIL" "$PYPDF" "$PYPDF_PAGES" "$PYPDF_CHARS" "$PYPDF_FAIL" <<'PY'
import sys
a = sys.argv[1:]
files, size, pages, jobs, repeat = int(a[0]), int(a[1]), int(a[2]), a[3], a[4]
ours, chars = float(a[5]), int(a[6])
rows = [
    (f"pipeline ingest --jobs {jobs}", ours, pages, chars, ""),
    (f"pdftotext (xargs -P{jobs})", float(a[7]), pages, int(a[8]), ""),
    (f"PyMuPDF (pool of {jobs})", float(a[9]), int(a[10]), int(a[11]), f"{a[12]} failed" if a[12] != "0" else ""),
    (f"pypdf (pool of {jobs})", float(a[13]), int(a[14]), int(a[15]), f"{a[16]} failed" if a[16] != "0" else ""),
]
print(f"corpus: {files} PDFs ({'x' + repeat + ' copies, ' if repeat != '1' else ''}{size / 1e6:.1f} MB), {pages} pages")
rate0 = pages / ours
for name, sec, p, c, note in rows:
    rate = p / sec
    ratio = "" if name.startswith("pipeline") else f"   ours {rate0 / rate:5.2f}x"
    print(f"{name:30s} {sec:8.2f} s  {p:6d} pages  {rate:8.1f} pages/s  {c / 1e6:6.2f} M chars{ratio}  {note}")
PY
