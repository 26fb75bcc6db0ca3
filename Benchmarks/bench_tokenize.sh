#!/usr/bin/env bash
# Tokenize benchmark: training vs tokenizers, encoding vs tiktoken (see bench_tokenize.py).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv-bench/bin/python}
[ -x "$PY" ] || PY=/work/main/.venv-bench/bin/python
exec "$PY" Benchmarks/bench_tokenize.py "$@"
