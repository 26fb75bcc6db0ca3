#!/usr/bin/env bash
# GRPO benchmark: seconds per step, pipeline grpo vs TRL GRPOTrainer + PEFT (see bench_grpo.py); --gpt2 adds
# our steps/hour for GPT-2 124M.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv-bench/bin/python}
[ -x "$PY" ] || { echo "$PY is missing: run \`make venv\` first" >&2; exit 1; }
[ -x .build/release/pipeline ] || swift build -c release --product pipeline
exec "$PY" Benchmarks/bench_grpo.py "$@"
