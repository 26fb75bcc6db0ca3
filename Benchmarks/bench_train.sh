#!/usr/bin/env bash
# Train benchmark: GPT-2 training tokens/s and KV-cache generation tokens/s, ours vs PyTorch + transformers
# (2 threads each, fp32), plus this machine's OpenBLAS sgemm peak (see bench_train.py).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv-bench/bin/python}
[ -x "$PY" ] || { echo "$PY is missing: run \`make venv\` first" >&2; exit 1; }
[ -x .build/release/pipeline ] || swift build -c release --product pipeline
exec "$PY" Benchmarks/bench_train.py "$@"
