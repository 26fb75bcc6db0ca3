#!/usr/bin/env bash
# make bench-smoke: every command line the benchmarks run on our side, on tiny inputs, with the outputs the
# benchmark scripts parse checked — seconds, no reference tools. A change that breaks a benchmark (a renamed flag,
# a progress line or JSON key the scripts read) fails `make test` here instead of on the next `make bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/debug/pipeline}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
ok() { echo "bench-smoke: $*"; }
fail() { echo "bench-smoke: FAILED: $*" >&2; exit 1; }

# Inputs: a small corpus, the demo's GSM8K splits, 150 text documents.
python3 - "$T" <<'PY'
import json, os, random, sys
t = sys.argv[1]
rng = random.Random(3)
words = "the train leaves at noon and arrives later with seven cars of apples sold each morning".split()
with open(f"{t}/corpus.txt", "w") as f:
    for _ in range(3000):
        f.write(" ".join(rng.choice(words) for _ in range(12)) + ".\n")
os.makedirs(f"{t}/docs")
for d in range(150):
    open(f"{t}/docs/d{d:03d}.txt", "w").write("\n\n".join(" ".join(rng.choice(words) for _ in range(60))
                                                          for _ in range(5)))
# One planted leak for bench_decontaminate: the first question of data/gsm8k/test.jsonl.
open(f"{t}/docs/leak.txt", "w").write("Copied: " + json.loads(open("data/gsm8k/test.jsonl").readline())["question"])
with open(f"{t}/pred.jsonl", "w") as p, open(f"{t}/ref.jsonl", "w") as r:
    for i in range(50):
        p.write(json.dumps({"id": str(i), "prediction": " ".join(rng.choice(words) for _ in range(9))}) + "\n")
        r.write(json.dumps({"id": str(i), "reference": " ".join(rng.choice(words) for _ in range(9))}) + "\n")
PY
W="--workdir $T/w"

# bench_tokenize: bpe-train, export tokenizer, encode --file --output.
"$BIN" bpe-train $W --force --quiet --threads 2 --vocab-size 400 --min-frequency 2 "$T/corpus.txt" > /dev/null
"$BIN" export tokenizer "$T/export" $W > /dev/null
"$BIN" encode --tokenizer "$T/export" --file "$T/corpus.txt" --output "$T/enc.bin.zst"
[ -s "$T/export/tokenizer.json" ] && [ -s "$T/enc.bin.zst" ] || fail "tokenizer export / encode"
ok "bpe-train, export tokenizer, encode"

# bench_train: pretrain's progress lines carry tok/s; generate --timing prints its generate: line.
"$BIN" tokenize $W --corpus "$T/corpus.txt" -q > /dev/null
out=$("$BIN" pretrain $W -q --force --config tiny --steps 3 --batch 2 --seq 32 --log-every 1 --threads 2)
echo "$out" | grep -Eq '^step [0-9]+/[0-9]+ .* [0-9]+ tok/s' || fail "pretrain progress lines: $out"
err=$("$BIN" generate -q --model "$T/w/pretrain" --greedy --max-new-tokens 4 --timing --threads 2 \
      --tokenizer /nonexistent --prompt-ids 5,6,7,8 --prompt-ids 9,10,11,12 2>&1 >/dev/null)
echo "$err" | grep -q '^generate:' || fail "generate --timing: $err"
ok "pretrain progress (tok/s), generate --timing"

# bench_grpo: grpo with the benchmark's options; metrics carry step_time, generation_time, mean length.
"$BIN" gsm8k -q $W data/gsm8k/train.jsonl data/gsm8k/test.jsonl > /dev/null
"$BIN" grpo -q $W --model "$T/w/pretrain" --tokenizer "$T/w/tokenize" --data "$T/w/gsm8k/train" --max-steps 1 \
    --num-generations 2 --batch 2 --grad-accum 2 --max-completion-length 4 --max-prompt-length 32 --beta 0.04 \
    --threads 2 --save-every 1000 --sample-every 0 > /dev/null
zstd -dcq "$T/w/grpo/metrics.jsonl.zst" | python3 -c "
import json, sys
r = json.loads(sys.stdin.readline())
for k in ('step_time', 'generation_time', 'completions/mean_length'): assert k in r, k" || fail "grpo metrics keys"
ok "grpo metrics (step_time, generation_time, completions/mean_length)"

# bench_gsm8k: gsm8k and reward.
"$BIN" reward --data "$T/w/gsm8k/test" --completions <(zstd -dcq "$T/w/gsm8k/test.jsonl.zst" | python3 -c "
import json, sys
for l in sys.stdin: print(json.dumps({'id': json.loads(l)['id'], 'completion': 'x'}))") > /dev/null
ok "gsm8k, reward"

# bench_chunk, bench_shards: ingest, chunk, run --shards.
"$BIN" ingest -q $W "$T/docs" > /dev/null
"$BIN" chunk -q --force --size 300 --overlap 30 $W > /dev/null
cat > "$T/shards.toml" <<TOML
[run]
workdir = "$T/w"
runs = "$T/runs"
[inputs]
pdfs = ["$T/docs"]
[chunk]
size = 300
overlap = 30
TOML
cp "$T/w/chunk/chunks.jsonl.zst" "$T/chunks-plain.zst"
"$BIN" run --config "$T/shards.toml" --only chunk --no-report --shards 2 --force chunk > /dev/null
cmp -s "$T/w/chunk/chunks.jsonl.zst" "$T/chunks-plain.zst" || fail "chunk as 2 shards differs from one run"
ok "ingest, chunk, run --shards 2 (identical chunks)"
# bench_shards itself on tiny inputs: ingest, chunk and index without shards and as 2 shards, compared.
out=$(BIN=$BIN SHARDS="1 2" Benchmarks/bench_shards.sh 20 1 1) || fail "bench_shards.sh"
echo "$out" | grep -q "^rates (1 shard(s)): ingest .* pages/s" || fail "bench_shards rates: $out"
ok "bench_shards (ingest, chunk, index as 1 and 2 shards: identical)"

# bench_decontaminate: decontaminate (the leak is caught; the overlaps are the file the script compares).
out=$("$BIN" decontaminate $W --force)
echo "$out" | grep -q "1 documents and 0 records share a 13-gram with 1 eval items" || fail "decontaminate: $out"
zstd -dcq "$T/w/decontaminate/overlaps.jsonl.zst" | python3 -c "
import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert len(rows) == 1 and rows[0]['eval_id'] == 'test-0', rows
for k in ('train_id', 'eval_id', 'ngram', 'shared_ngrams'): assert k in rows[0], k" || fail "decontaminate overlaps"
ok "decontaminate (planted leak caught)"

# bench_embed: bench embed (JSON with seconds, vectors written), bench dense, and bench sha256.
if [ -d models/all-MiniLM-L6-v2 ]; then
    json=$("$BIN" bench embed --model models/all-MiniLM-L6-v2 "$T/w/chunk/chunks.jsonl.zst" --vectors-out "$T/v.f32")
    echo "$json" | python3 -c "import json,sys; d=json.load(sys.stdin); assert d['texts'] > 0 and 'embed_seconds' in d and d['flops'] > 0" \
        || fail "bench embed: $json"
    [ -s "$T/v.f32" ] || fail "bench embed --vectors-out"
    ok "bench embed"
else
    ok "bench embed skipped (no models/all-MiniLM-L6-v2: make model)"
fi
"$BIN" bench dense 2000 -k 4 | python3 -c "import json,sys; d=json.load(sys.stdin); assert 'fraction_of_memcpy' in d" \
    || fail "bench dense"
"$BIN" bench sha256 "$T/corpus.txt" | python3 -c "import json,sys; d=json.load(sys.stdin); assert d['MBps'] > 0" \
    || fail "bench sha256"
ok "bench dense, bench sha256"

# Every benchmark's bound: bench peak (sgemm, read bandwidth) and bench bound for train, generate and grpo.
peak=$("$BIN" bench peak --threads 2 --size 256)
echo "$peak" | python3 -c "import json,sys; d=json.load(sys.stdin); assert d['sgemm_gflops'] > 0 and d['read_gbs'] > 0" \
    || fail "bench peak: $peak"
for w in "train --batch 2 --seq 32" "generate --batch 2 --prompt 4 --new-tokens 4" \
         "grpo --batch 8 --prompt 16 --new-tokens 4 --reference"; do
    "$BIN" bench bound --shape "$T/w/pretrain/config.json" --work $w --gflops 100 --gbs 10 --seconds 1 | python3 -c "
import json, sys; d = json.load(sys.stdin); assert d['flops'] > 0 and 0 < d['fraction']" || fail "bench bound $w"
done
python3 -c "
import sys; sys.path.insert(0, 'Benchmarks'); import bounds
p = bounds.peak('$BIN', 2); b = bounds.bound('$BIN', p, '$T/w/pretrain/config.json', '--work', 'train', '--batch', 2, '--seq', 8)
assert p['sgemm_gflops'] > 0 and b['bound_seconds'] > 0, (p, b)" || fail "Benchmarks/bounds.py"
ok "bench peak, bench bound (train, generate, grpo), Benchmarks/bounds.py"

# bench_score: score --json for BLEU+chrF and ROUGE.
for m in "bleu,chrf" "rouge --stem"; do
    "$BIN" score --predictions "$T/pred.jsonl" --references "$T/ref.jsonl" --metrics $m --json | python3 -c "
import json, sys; d = json.load(sys.stdin); assert d['items'] == 50" || fail "score $m"
done
ok "score (bleu,chrf; rouge --stem)"

# bench_zstd: pack and cat round trip.
"$BIN" pack "$T/corpus.txt" "$T/c.zst" > /dev/null
"$BIN" cat "$T/c.zst" | cmp -s - "$T/corpus.txt" || fail "pack/cat round trip"
ok "pack, cat"
# bench_dedup: dedup (timed through bench_dedup.py time), removals read from documents.jsonl.zst.
mkdir -p "$T/dd"
cp "$T/docs/d000.txt" "$T/docs/d001.txt" "$T/dd/"
sed 's/ the / a /' "$T/docs/d000.txt" > "$T/dd/d000-copy.txt"
"$BIN" ingest -q --workdir "$T/wd" "$T/dd" > /dev/null
read -r wall cpu < <(python3 Benchmarks/bench_dedup.py time "$BIN" dedup -q --force --workdir "$T/wd")
python3 -c "assert $wall > 0 and $cpu >= 0"
removed=$(zstd -dcq "$T/wd/dedup/documents.jsonl.zst" | python3 -c 'import json,sys
print(sum(json.loads(l)["status"] == "duplicate" for l in sys.stdin))')
[ "$removed" = 1 ] || fail "dedup removed $removed documents, not the planted copy"
ok "dedup (the planted copy removed)"
mkdir -p "$T/wd2"; cp -r "$T/wd/ingest" "$T/wd2/"
read -r wall _ < <(PIPELINE_NO_AUTO_MERGE=1 python3 Benchmarks/bench_dedup.py time bash -c "
  '$BIN' dedup -q --force --shard 0/2 --workdir '$T/wd2' & '$BIN' dedup -q --force --shard 1/2 --workdir '$T/wd2'
  wait && '$BIN' merge dedup --shards 2 -q --force --workdir '$T/wd2'")
cmp -s "$T/wd/dedup/clusters.jsonl.zst" "$T/wd2/dedup/clusters.jsonl.zst" || fail "dedup 2 shards + merge differ"
ok "dedup as 2 shards and a merge"
echo "bench-smoke: all benchmark command lines work"
