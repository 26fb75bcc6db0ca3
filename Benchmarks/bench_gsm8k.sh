#!/usr/bin/env bash
# GSM8K: `pipeline gsm8k` against the notebook's extraction in Python (json + re, records written plain — ours
# also zstd-compresses), and `pipeline reward` against the notebook's four reward functions in CPython, on the
# same inputs in one run. Prints seconds of each and the ratio; the reward means must agree.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/pipeline}
PY=${PY:-.venv-bench/bin/python}
[ -x "$PY" ] || PY=python3
DATA=${GSM8K_DIR:-../shared/data/gsm8k}
[ -f "$DATA/train.jsonl" ] || DATA=data/gsm8k
N=${N:-200000}
TMP=${TMPDIR:-/tmp}/pipeline-bench-gsm8k
rm -rf "$TMP"; mkdir -p "$TMP"
t() { local s e; s=$(date +%s.%N); "$@" > "$TMP/last.out"; e=$(date +%s.%N); python3 -c "print($e-$s)"; }

ours_x=$(t "$BIN" gsm8k -q --force --workdir "$TMP/work" "$DATA/train.jsonl" "$DATA/test.jsonl")
ref_x=$(t "$PY" Benchmarks/bench_gsm8k.py extract "$TMP/ref.jsonl" "$DATA/train.jsonl" "$DATA/test.jsonl")
zstd -q -d -c "$TMP/work/gsm8k/train.jsonl.zst" "$TMP/work/gsm8k/test.jsonl.zst" > "$TMP/ours.jsonl"
cmp "$TMP/ours.jsonl" "$TMP/ref.jsonl" && echo "extraction: records identical to the Python reference"

zstd -q -d -c "$TMP/work/gsm8k/test.jsonl.zst" > "$TMP/test.jsonl"
"$PY" Benchmarks/bench_gsm8k.py completions "$TMP/test.jsonl" "$TMP/completions.jsonl" "$N"
ours_r=$(t "$BIN" reward --data "$TMP/work/gsm8k/test" --completions "$TMP/completions.jsonl")
grep -v accuracy "$TMP/last.out" | grep -v completions > "$TMP/ours.means"
ref_r=$(t "$PY" Benchmarks/bench_gsm8k.py reward "$TMP/test.jsonl" "$TMP/completions.jsonl")
cp "$TMP/last.out" "$TMP/ref.means"
diff "$TMP/ours.means" "$TMP/ref.means" && echo "rewards: means identical to the Python reference"; cat "$TMP/ours.means"

python3 - "$ours_x" "$ref_x" "$ours_r" "$ref_r" "$N" <<'PY'
import sys
ox, rx, orr, rr, n = map(float, sys.argv[1:])
print(f"extract train+test (8,792 rows)  pipeline gsm8k {ox:6.2f} s   python {rx:6.2f} s   ratio {rx/ox:.2f}x")
print(f"reward {int(n)} completions       pipeline reward {orr:6.2f} s   python {rr:6.2f} s   ratio {rr/orr:.2f}x")
PY
