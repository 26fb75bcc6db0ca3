#!/usr/bin/env bash
# Text metrics: `pipeline score` against sacrebleu (corpus BLEU 13a + chrF) and rouge-score (rouge1/2/L/Lsum with
# the Porter stemmer) on the same N prediction/reference pairs (GSM8K answers against questions), in one run.
# Prints seconds of each (whole commands: reading the files included) and the ratios; the scores must agree
# (BLEU and chrF exactly, ROUGE means within 1e-9).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/pipeline}
PY=${PY:-.venv-bench/bin/python}
[ -x "$PY" ] || PY=python3
DATA=${GSM8K_DIR:-../shared/data/gsm8k}
if [ ! -f "$DATA/train.jsonl" ]; then echo "bench_score: no GSM8K data in $DATA (set GSM8K_DIR); skipped"; exit 0; fi
N=${N:-20000}
TMP=${TMPDIR:-/tmp}/pipeline-bench-score
rm -rf "$TMP"; mkdir -p "$TMP"
t() { local s e; s=$(date +%s.%N); "$@" > "$TMP/last.out"; e=$(date +%s.%N); python3 -c "print($e-$s)"; }

"$PY" Benchmarks/bench_score.py pairs "$DATA" "$TMP" "$N"
P="$TMP/predictions.jsonl"; R="$TMP/references.jsonl"

ours_b=$(t "$BIN" score --predictions "$P" --references "$R" --metrics bleu,chrf --json)
cp "$TMP/last.out" "$TMP/ours_b.json"
ref_b=$(t "$PY" Benchmarks/bench_score.py sacrebleu "$P" "$R"); cp "$TMP/last.out" "$TMP/ref_b.json"
ours_r=$(t "$BIN" score --predictions "$P" --references "$R" --metrics rouge --stem --json)
cp "$TMP/last.out" "$TMP/ours_r.json"
ref_r=$(t "$PY" Benchmarks/bench_score.py rouge "$P" "$R"); cp "$TMP/last.out" "$TMP/ref_r.json"

python3 - "$TMP" "$ours_b" "$ref_b" "$ours_r" "$ref_r" "$N" <<'PY'
import json, sys
tmp = sys.argv[1]
ob, rb, orr, rr, n = map(float, sys.argv[2:])
ours_b, ref_b = json.load(open(f"{tmp}/ours_b.json")), json.load(open(f"{tmp}/ref_b.json"))
ours_r, ref_r = json.load(open(f"{tmp}/ours_r.json")), json.load(open(f"{tmp}/ref_r.json"))
same_b = (ours_b["bleu"]["score"] == ref_b["bleu"] and ours_b["bleu"]["counts"] == ref_b["counts"]
          and ours_b["bleu"]["totals"] == ref_b["totals"] and ours_b["chrf"]["score"] == ref_b["chrf"])
worst = max(abs(ours_r["rouge"][t][k] - ref_r[t][i]) for t in ref_r
            for i, k in enumerate(["precision", "recall", "fmeasure"]))
print(f"BLEU {ref_b['bleu']!r} chrF {ref_b['chrf']!r}: {'identical' if same_b else 'DIFFERENT'} "
      f"(ours {ours_b['bleu']['score']!r} / {ours_b['chrf']['score']!r})")
print(f"ROUGE means: largest difference {worst:.1e}" + ("" if worst <= 1e-9 else "  DIFFERENT"))
print(f"BLEU+chrF {int(n)} pairs  pipeline score {ob:6.2f} s   sacrebleu   {rb:6.2f} s   ratio {rb/ob:.1f}x")
print(f"ROUGE     {int(n)} pairs  pipeline score {orr:6.2f} s   rouge-score {rr:6.2f} s   ratio {rr/orr:.1f}x")
if not same_b or worst > 1e-9:
    sys.exit(1)
PY
