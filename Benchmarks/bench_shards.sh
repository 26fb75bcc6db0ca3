#!/usr/bin/env bash
# The local executor's overhead: the chunk stage on the same input without shards and as N shards + a merge
# (`pipeline run --shards N`), seconds from each run's summary.json, and the artifacts compared byte for byte.
# Usage: Benchmarks/bench_shards.sh [DOCS] (default 3000 text documents of ~20 kB)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/pipeline}
docs=${1:-3000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp/docs" "$docs" <<'PY'
import os, random, sys
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out)
rng = random.Random(7)
words = "the of and to in is that for it as with was on be by at this are from or an which have not".split()
for d in range(n):
    paras = ["".join(rng.choice(words) + (". " if rng.random() < 0.08 else " ") for _ in range(rng.randint(30, 300)))
             for _ in range(rng.randint(5, 40))]
    open(f"{out}/doc-{d:05d}.txt", "w").write("\n\n".join(paras))
PY
for n in 1 2 4; do
    cat > "$tmp/p$n.toml" <<TOML
[run]
workdir = "$tmp/w$n"
runs = "$tmp/runs$n"
[inputs]
pdfs = ["$tmp/docs"]
TOML
    "$BIN" run --config "$tmp/p$n.toml" --only ingest --no-report > /dev/null
    "$BIN" run --config "$tmp/p$n.toml" --only chunk --no-report --shards "$n" > "$tmp/out$n.txt"
    s=$(python3 -c "import json,glob; r=sorted(glob.glob('$tmp/runs$n/*/summary.json'))[-1]; \
        c=[x for x in json.load(open(r))['stages'] if x['stage']=='chunk'][0]; \
        print(c['seconds'], c.get('slowest_shard_seconds') or '-')")
    echo "shards $n: chunk stage seconds / slowest shard: $s"
    cmp "$tmp/w$n/chunk/chunks.jsonl.zst" "$tmp/w1/chunk/chunks.jsonl.zst"
done
pages=$(python3 -c "import json; print(json.load(open('$tmp/w1/chunk/manifest.json'))['records']['pages'])")
echo "pages: $pages; chunks.jsonl.zst identical for 1, 2 and 4 shards"
