#!/usr/bin/env bash
# Embedding throughput against sentence-transformers and dense-search latency against memcpy bandwidth
# (see bench_embed.py). Needs models/all-MiniLM-L6-v2 (make model) and the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv-bench/bin/python}
[ -x "$PY" ] || { echo "$PY is missing: run \`make venv\` first" >&2; exit 1; }
[ -f models/all-MiniLM-L6-v2/model.safetensors ] || { echo "bench_embed: models/all-MiniLM-L6-v2 absent (run make model): skipped"; exit 0; }
exec "$PY" Benchmarks/bench_embed.py "$@"
