#!/usr/bin/env bash
# Decontamination: `pipeline decontaminate` (the GSM8K test split's 13-grams against the corpus's documents and
# the full GSM8K train split) against the same rule in Python with lm-evaluation-harness's normalisation and
# n-gram code (Benchmarks/bench_decontaminate.py), on the same inputs in one run. Prints the wall time and peak
# memory (/usr/bin/time -v) of each, the ratio, and checks that both find the same overlaps.
#
# Inputs: GSM8K from $GSM8K_DIR (default ../shared/data/gsm8k, else data/gsm8k); the corpus: the PDFs of
# $BENCH_PDFS, or ../shared/data/pdfs plus the PDF manuals under /usr/share/doc (as bench_ingest.sh), plus the
# demo's data/papers, plus one text document with LEAKS test questions pasted in (planted leaks), ingested once
# (not timed). LEAKS (default 20) train records are also replaced by test records.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/pipeline}
PY=${PY:-.venv-bench/bin/python}
[ -x "$PY" ] || PY=python3
DATA=${GSM8K_DIR:-../shared/data/gsm8k}
[ -f "$DATA/train.jsonl" ] || DATA=/work/shared/data/gsm8k
[ -f "$DATA/train.jsonl" ] || DATA=data/gsm8k
LEAKS=${LEAKS:-20}
TMP=${TMPDIR:-/tmp}/pipeline-bench-decontaminate
rm -rf "$TMP"; mkdir -p "$TMP/corpus" "$TMP/gsm8k"
"$PY" -c "import lm_eval.decontamination.janitor" 2>/dev/null \
  || { echo "bench_decontaminate: needs lm-eval in $PY (pip install --no-deps lm-eval; make venv)"; exit 1; }

. Benchmarks/real_pdfs.sh
real_pdfs "$TMP/corpus"
cp data/papers/* "$TMP/corpus/"
# Planted leaks: test questions pasted into a text document; test records in place of train records.
python3 - "$DATA" "$TMP" "$LEAKS" <<'PY'
import json, sys
data, tmp, leaks = sys.argv[1], sys.argv[2], int(sys.argv[3])
test = [json.loads(l) for l in open(f"{data}/test.jsonl")]
train = open(f"{data}/train.jsonl").read().splitlines()
step = max(1, len(test) // max(1, leaks))
with open(f"{tmp}/corpus/leaks.md", "w") as f:
    f.write("# Exercises copied from somewhere\n\n")
    for i in range(0, min(len(test), leaks * step), step):
        f.write(f"Exercise {i}. {test[i]['question']}\n\n")
for k, i in enumerate(range(0, min(len(test), leaks * step), step)):
    train[(k * 997) % len(train)] = json.dumps(test[i])
open(f"{tmp}/gsm8k/train.jsonl", "w").write("\n".join(train) + "\n")
PY
cp "$DATA/test.jsonl" "$TMP/gsm8k/test.jsonl"
W="--workdir $TMP/w"
"$BIN" ingest -q $W "$TMP/corpus" > /dev/null || [ $? -eq 3 ]
"$BIN" gsm8k -q $W "$TMP/gsm8k/train.jsonl" "$TMP/gsm8k/test.jsonl" > /dev/null
for f in ingest/pages gsm8k/train gsm8k/test; do zstd -q -d -c "$TMP/w/$f.jsonl.zst" > "$TMP/$(basename $f).jsonl"; done
PAGES=$(wc -l < "$TMP/pages.jsonl"); WORDS=$(python3 -c "
import json, sys
print(sum(len(json.loads(l)['text'].split()) for l in open(sys.argv[1])))" "$TMP/pages.jsonl")
TRAIN=$(wc -l < "$TMP/train.jsonl"); TEST=$(wc -l < "$TMP/test.jsonl")

measure() { # label, command...: wall seconds and peak RSS (MiB) from /usr/bin/time -v
  local label=$1; shift
  /usr/bin/time -v "$@" > "$TMP/$label.out" 2> "$TMP/$label.time"
  python3 - "$TMP/$label.time" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
wall = re.search(r"Elapsed \(wall clock\) time.*: (.+)", t).group(1).split(":")
secs = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall)))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
print(f"{secs:.3f} {rss:.1f}")
PY
}
read -r ours_s ours_mb < <(measure ours "$BIN" decontaminate $W --force)
read -r ref_s ref_mb < <(measure ref "$PY" Benchmarks/bench_decontaminate.py "$TMP/test.jsonl" "$TMP/pages.jsonl" \
                         "$TMP/train.jsonl" "$TMP/ref.jsonl")
cat "$TMP/ours.out" "$TMP/ref.out"
zstd -q -d -c "$TMP/w/decontaminate/overlaps.jsonl.zst" | python3 -c "
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    print(json.dumps({k: r[k] for k in ('train_id', 'eval_id', 'ngram', 'shared_ngrams')}, ensure_ascii=False))
" > "$TMP/ours.jsonl"
python3 - "$TMP/ref.jsonl" > "$TMP/ref.sorted.jsonl" <<'PY'
import json, sys
for l in open(sys.argv[1]): print(json.dumps(json.loads(l), ensure_ascii=False))
PY
if cmp -s "$TMP/ours.jsonl" "$TMP/ref.sorted.jsonl"; then
  echo "overlaps: identical to the Python reference ($(wc -l < "$TMP/ours.jsonl") pairs)"
else
  echo "overlaps DIFFER from the Python reference:"; diff "$TMP/ours.jsonl" "$TMP/ref.sorted.jsonl" | head; exit 1
fi
python3 - "$ours_s" "$ours_mb" "$ref_s" "$ref_mb" "$PAGES" "$WORDS" "$TRAIN" "$TEST" <<'PY'
import sys
os_, om, rs, rm = map(float, sys.argv[1:5]); pages, words, train, test = map(int, sys.argv[5:])
print(f"{test} test items against {pages} pages ({words} words) and {train} train records")
print(f"pipeline decontaminate {os_:7.2f} s {om:7.1f} MiB   python (lm-eval janitor) {rs:7.2f} s {rm:7.1f} MiB"
      f"   ratio {rs/os_:.2f}x")
PY
