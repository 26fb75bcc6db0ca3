#!/usr/bin/env bash
# Dedup: `pipeline dedup` against datatrove's four MinHash steps (MinhashDedupSignature, Buckets, Cluster, Filter
# with the default MinhashConfig; LocalPipelineExecutor, 2 workers) on the same N documents in one run: the pages
# of ../shared/data/pdfs and GSM8K train problems, with planted near and exact copies (Benchmarks/bench_dedup.py).
# The removed documents must be the same. Prints wall and CPU seconds of each and both ratios (on a shared machine
# the CPU ratio is the steadier one). Wall: datatrove's four steps alone (the exact-duplicate pass before them, in
# Python, is not counted); ours the whole command (read, exact and near dedup, write pages, documents, corpus and
# clusters). CPU: perf stat's task-clock of the whole process tree; for datatrove that includes its worker
# processes, the Python start-up and imports, and the exact pass.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/pipeline}
PY=${PY:-.venv-bench/bin/python}
[ -x "$PY" ] || command -v "$PY" > /dev/null || { echo "$PY is missing: run \`make venv\` first" >&2; exit 1; }
PDFS=${PDF_DIR:-../shared/data/pdfs}
TRAIN=${GSM8K_TRAIN:-../shared/data/gsm8k/train.jsonl}
N=${N:-4000}
TMP=${TMPDIR:-/tmp}/pipeline-bench-dedup
rm -rf "$TMP"; mkdir -p "$TMP"
"$PY" Benchmarks/bench_dedup.py make "$TMP" "$PDFS" "$TRAIN" "$N"
read -r ours ours_cpu < <(python3 Benchmarks/bench_dedup.py time "$BIN" dedup -q --force --workdir "$TMP/w")
read -r _ ref_cpu < <(python3 Benchmarks/bench_dedup.py time "$PY" Benchmarks/bench_dedup.py ref "$TMP" \
                         2> "$TMP/ref.log")
ref=$(cat "$TMP/ref_seconds.txt")
zstd -dcq "$TMP/w/dedup/documents.jsonl.zst" \
    | python3 -c 'import json,sys; print("".join(sorted(json.loads(l)["doc_id"] + "\n" for l in sys.stdin
                                                      if json.loads(l)["status"] == "duplicate")), end="")' \
    > "$TMP/ours.txt"
if cmp -s "$TMP/ours.txt" "$TMP/ref.txt"; then same="identical"; else same="DIFFERENT"; fi
python3 - "$N" "$ours" "$ref" "$ours_cpu" "$ref_cpu" "$(wc -l < "$TMP/ours.txt")" "$same" <<'PY'
import sys
n, removed, same = sys.argv[1], sys.argv[6], sys.argv[7]
ours, ref, ours_cpu, ref_cpu = map(float, sys.argv[2:6])
print(f"{n} documents: {removed} removed ({same})  pipeline dedup {ours:7.3f} s ({ours_cpu:.2f} s CPU)   "
      f"datatrove {ref:7.3f} s ({ref_cpu:.2f} s CPU)   ratio {ref/ours:6.1f}x wall, {ref_cpu/ours_cpu:6.1f}x CPU")
PY
[ "$same" = identical ]
