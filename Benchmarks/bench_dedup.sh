#!/usr/bin/env bash
# Dedup: `pipeline dedup` against datatrove's four MinHash steps (MinhashDedupSignature, Buckets, Cluster, Filter
# with the default MinhashConfig; LocalPipelineExecutor, 2 workers) on the same N documents in one run: the pages
# of real PDFs (see below; 10,000 of them with the default N; GSM8K train problems fill in when there are fewer),
# with planted near and exact copies (Benchmarks/bench_dedup.py); then ours as 2 shards in parallel and a merge.
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
TRAIN=${GSM8K_TRAIN:-../shared/data/gsm8k/train.jsonl}
N=${N:-11000}
TMP=${TMPDIR:-/tmp}/pipeline-bench-dedup
rm -rf "$TMP"; mkdir -p "$TMP/pdfs"
# The real PDFs the ingest benchmark reads (Benchmarks/real_pdfs.sh: $BENCH_PDFS, else ../shared/data/pdfs and the
# PDF manuals under /usr/share/doc — `apt-get install texlive-publishers-doc texlive-science-doc r-doc-pdf` gives
# more than 10,000 pages), unless PDF_DIR names a folder.
if [ -n "${PDF_DIR:-}" ]; then PDFS=$PDF_DIR; else . Benchmarks/real_pdfs.sh; real_pdfs "$TMP/pdfs"; PDFS=$TMP/pdfs; fi
"$PY" Benchmarks/bench_dedup.py make "$TMP" "$PDFS" "$TRAIN" "$N"
read -r ours ours_cpu < <(python3 Benchmarks/bench_dedup.py time "$BIN" dedup -q --force --workdir "$TMP/w")
read -r _ ref_cpu < <(python3 Benchmarks/bench_dedup.py time "$PY" Benchmarks/bench_dedup.py ref "$TMP" \
                         2> "$TMP/ref.log")
ref=$(cat "$TMP/ref_seconds.txt")
# Ours as 2 shards (signatures, in parallel) and the merge (buckets, clusters, outputs): the same bytes.
mkdir -p "$TMP/w2"; cp -r "$TMP/w/ingest" "$TMP/w2/"
read -r sharded _ < <(PIPELINE_NO_AUTO_MERGE=1 python3 Benchmarks/bench_dedup.py time bash -c "
  '$BIN' dedup -q --force --shard 0/2 --workdir '$TMP/w2' & '$BIN' dedup -q --force --shard 1/2 --workdir '$TMP/w2'
  wait && '$BIN' merge dedup --shards 2 -q --force --workdir '$TMP/w2'")
for f in pages.jsonl.zst documents.jsonl.zst corpus.txt.zst clusters.jsonl.zst; do
  cmp -s "$TMP/w/dedup/$f" "$TMP/w2/dedup/$f" || { echo "2 shards: dedup/$f differs from one run" >&2; exit 1; }
done
zstd -dcq "$TMP/w/dedup/documents.jsonl.zst" \
    | python3 -c 'import json,sys; print("".join(sorted(json.loads(l)["doc_id"] + "\n" for l in sys.stdin
                                                      if json.loads(l)["status"] == "duplicate")), end="")' \
    > "$TMP/ours.txt"
if cmp -s "$TMP/ours.txt" "$TMP/ref.txt"; then same="identical"; else same="DIFFERENT"; fi
pdf_pages=$(cat "$TMP/pdf_pages.txt")
python3 - "$N" "$ours" "$ref" "$ours_cpu" "$ref_cpu" "$(wc -l < "$TMP/ours.txt")" "$same" "$sharded" "$pdf_pages" <<'PY'
import sys
n, removed, same, pdf_pages = sys.argv[1], sys.argv[6], sys.argv[7], sys.argv[9]
ours, ref, ours_cpu, ref_cpu, sharded = map(float, sys.argv[2:6] + sys.argv[8:9])
print(f"{n} documents ({pdf_pages} of them PDF pages): {removed} removed ({same})  pipeline dedup {ours:7.3f} s "
      f"({ours_cpu:.2f} s CPU), 2 shards + merge {sharded:7.3f} s (same bytes)   datatrove {ref:7.3f} s "
      f"({ref_cpu:.2f} s CPU)   ratio {ref/ours:6.1f}x wall, {ref_cpu/ours_cpu:6.1f}x CPU")
PY
[ "$same" = identical ]
