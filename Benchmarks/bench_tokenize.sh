#!/usr/bin/env bash
# Tokenize benchmark: training vs tokenizers, encoding vs tiktoken (see bench_tokenize.py).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv-bench/bin/python}
[ -x "$PY" ] || { echo "$PY is missing: run \`make venv\` first" >&2; exit 1; }
exec "$PY" Benchmarks/bench_tokenize.py "$@"
