#!/usr/bin/env bash
# The local executor's overhead, per sharded stage: the same input without shards and as N shards + a merge
# (`pipeline run --shards N`), seconds from each run's summary.json, the artifacts compared byte for byte.
#   ingest: the PDFs of /work/shared/data/pdfs, data/papers and the manuals under /usr/share/doc (gunzipped), each
#           in COPIES copies made distinct by a trailing PDF comment (same text, other sha256: every copy is
#           extracted);
#   chunk:  DOCS synthetic text documents of ~15 kB;
#   index:  the chunks of the first INDEX_DOCS of them (distinct texts, so every chunk is embedded).
# Also the per-unit costs docs/scale-out.md predicts from: PDF pages/s, chunks embedded/s (all cores).
# Usage: Benchmarks/bench_shards.sh [DOCS] [INDEX_DOCS] [COPIES]   (defaults 3000 200 6; SHARDS="1 2 4")
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/pipeline}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
docs=${1:-3000}
index_docs=${2:-200}
copies=${3:-6}
shards=${SHARDS:-1 2 4}
model=$PWD/models/all-MiniLM-L6-v2
pdfs=${PDFS:-/work/shared/data/pdfs}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp" "$docs" "$index_docs" "$copies" "$pdfs" data/papers <<'PY'
import glob, os, random, sys
out, n, k, copies = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for d in ("docs", "index-docs", "pdfs"):
    os.makedirs(f"{out}/{d}")
rng = random.Random(7)
words = "the of and to in is that for it as with was on be by at this are from or an which have not".split()
for d in range(n):
    paras = ["".join(rng.choice(words) + (". " if rng.random() < 0.08 else " ") for _ in range(rng.randint(30, 300)))
             for _ in range(rng.randint(5, 40))]
    text = "\n\n".join(paras)
    open(f"{out}/docs/doc-{d:05d}.txt", "w").write(text)
    if d < k:
        open(f"{out}/index-docs/doc-{d:05d}.txt", "w").write(text)
import gzip
found = [p for folder in sys.argv[5:] for p in sorted(glob.glob(folder + "/*.pdf"))]
found += sorted(glob.glob("/usr/share/doc/**/*.pdf", recursive=True) + glob.glob("/usr/share/doc/**/*.pdf.gz",
                                                                                  recursive=True))
for i, p in enumerate(found):
    data = gzip.open(p).read() if p.endswith(".gz") else open(p, "rb").read()
    name = os.path.basename(p).removesuffix(".gz")[:-4]
    for c in range(copies):
        open(f"{out}/pdfs/{i:03d}-{name}-{c}.pdf", "wb").write(data + b"\n%% copy %d\n" % c)
PY
# seconds and slowest shard of STAGE in the latest run of RUNS
# (and, with shards, the merge's own seconds from the stage's manifest)
seconds() {
    python3 -c "import json,glob,sys; r=sorted(glob.glob(sys.argv[1] + '/*/summary.json'))[-1]; \
s=json.load(open(r)); c=[x for x in s['stages'] if x['stage']==sys.argv[2]][0]; \
m=json.load(open(s['workdir'] + '/' + c['folder'] + '/manifest.json'))['seconds']; \
print(c['seconds'], c.get('slowest_shard_seconds') or '-', '(merge %s)' % m if (c.get('shards') or 1) > 1 else '')" \
        "$1" "$2"
}
record() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['records'][sys.argv[2]])" "$1" "$2"; }
for n in $shards; do
    for part in pdfs docs index; do
        input=$tmp/$part; [ "$part" = index ] && input=$tmp/index-docs
        cat > "$tmp/$part$n.toml" <<TOML
[run]
workdir = "$tmp/w-$part$n"
runs = "$tmp/runs-$part$n"
[inputs]
pdfs = ["$input"]
[index]
model = "$model"
TOML
    done
    "$BIN" run --config "$tmp/pdfs$n.toml" --only ingest --no-report --shards "$n" > /dev/null
    echo "shards $n: ingest ($(record "$tmp/w-pdfs$n/ingest/manifest.json" documents) PDFs," \
        "$(record "$tmp/w-pdfs$n/ingest/manifest.json" pages) pages) seconds / slowest shard (merge):" \
        "$(seconds "$tmp/runs-pdfs$n" ingest)"
    for f in pages.jsonl.zst documents.jsonl.zst corpus.txt.zst; do
        cmp "$tmp/w-pdfs$n/ingest/$f" "$tmp/w-pdfs${shards%% *}/ingest/$f"
    done
    "$BIN" run --config "$tmp/docs$n.toml" --only ingest --no-report > /dev/null
    "$BIN" run --config "$tmp/docs$n.toml" --only chunk --no-report --shards "$n" > /dev/null
    echo "shards $n: chunk ($(record "$tmp/w-docs$n/chunk/manifest.json" pages) pages) seconds / slowest shard" \
        "(merge):" \
        "$(seconds "$tmp/runs-docs$n" chunk)"
    cmp "$tmp/w-docs$n/chunk/chunks.jsonl.zst" "$tmp/w-docs${shards%% *}/chunk/chunks.jsonl.zst"
    if [ -d "$model" ]; then
        "$BIN" run --config "$tmp/index$n.toml" --only ingest chunk --no-report > /dev/null
        "$BIN" run --config "$tmp/index$n.toml" --only index --no-report --shards "$n" > /dev/null
        echo "shards $n: index ($(record "$tmp/w-index$n/index/manifest.json" chunks) chunks) seconds / slowest" \
            "shard (merge): $(seconds "$tmp/runs-index$n" index)"
        cmp "$tmp/w-index$n/index/index.sqlite" "$tmp/w-index${shards%% *}/index/index.sqlite"
    fi
done
echo "ingest pages, documents and corpus, chunks.jsonl.zst and index.sqlite identical for shards: $shards"
# The per-unit rates of the run without shards (first of SHARDS).
first=${shards%% *}
python3 - "$tmp" "$first" <<'PY'
import glob, json, sys
tmp, n = sys.argv[1], sys.argv[2]
def stage(part, name):
    r = sorted(glob.glob(f"{tmp}/runs-{part}{n}/*/summary.json"))[-1]
    return [x for x in json.load(open(r))["stages"] if x["stage"] == name][0]["seconds"]
m = json.load(open(f"{tmp}/w-pdfs{n}/ingest/manifest.json"))["records"]
s = stage("pdfs", "ingest")
print(f"rates ({n} shard(s)): ingest {m['pages'] / s:.1f} pages/s, {m['documents'] / s:.2f} PDFs/s", end="")
try:
    c = json.load(open(f"{tmp}/w-index{n}/index/manifest.json"))["records"]["chunks"]
    t = stage("index", "index")
    print(f"; index {c / t:.1f} chunks/s" if t > 0 else "; index: no time in summary.json")
except FileNotFoundError:
    print()
PY
