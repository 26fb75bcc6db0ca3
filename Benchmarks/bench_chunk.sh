#!/usr/bin/env bash
# Chunking: `pipeline chunk` against LangChain's RecursiveCharacterTextSplitter (split_documents, per page) on the
# same pages in one run: real PDF pages (pdftotext of ../shared/data/pdfs, cycled to N pages) and one page of
# 2,000,000 letters without any separator (where the reference is slow). The chunk records must be identical
# byte for byte. Prints seconds of each and the ratio. LangChain is timed on the split alone (its file reading
# and writing are not counted); ours is the whole command (read, split, write zstd).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/pipeline}
PY=${PY:-.venv-bench/bin/python}
[ -x "$PY" ] || { echo "$PY is missing: run \`make venv\` first" >&2; exit 1; }
PDFS=${PDF_DIR:-../shared/data/pdfs}
N=${N:-2000}
FLAT=${FLAT:-2000000}
SIZE=${SIZE:-1024}
OVERLAP=${OVERLAP:-128}
TMP=${TMPDIR:-/tmp}/pipeline-bench-chunk
rm -rf "$TMP"; mkdir -p "$TMP/real/ingest" "$TMP/flat/ingest"
t() { local s e; s=$(date +%s.%N); "$@" > "$TMP/last.out"; e=$(date +%s.%N); python3 -c "print($e-$s)"; }

"$PY" Benchmarks/bench_chunk.py pages "$TMP/real/ingest/pages.jsonl.zst" "$PDFS" "$N"
"$PY" Benchmarks/bench_chunk.py flat "$TMP/flat/ingest/pages.jsonl.zst" "$FLAT"

row() {
  local name=$1 work=$2
  local ours ref
  ours=$(t "$BIN" chunk -q --force --size "$SIZE" --overlap "$OVERLAP" --workdir "$work")
  ref=$("$PY" Benchmarks/bench_chunk.py ref "$work/ingest/pages.jsonl.zst" "$TMP/ref.jsonl" "$SIZE" "$OVERLAP")
  zstd -q -d -c "$work/chunk/chunks.jsonl.zst" > "$TMP/ours.jsonl"
  if cmp -s "$TMP/ours.jsonl" "$TMP/ref.jsonl"; then same="identical"; else same="DIFFERENT"; fi
  python3 - "$name" "$ours" "$ref" "$(wc -l < "$TMP/ours.jsonl")" "$same" <<'PY'
import sys
name, ours, ref, n, same = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
print(f"{name:34s} {n:>7s} chunks ({same})  pipeline chunk {ours:7.3f} s   langchain {ref:7.3f} s   ratio {ref/ours:6.1f}x")
PY
  [ "$same" = identical ]
}
row "real pdf pages (size $SIZE/$OVERLAP)" "$TMP/real"
row "$FLAT chars, no separator" "$TMP/flat"
