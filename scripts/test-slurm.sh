#!/usr/bin/env bash
# make test-slurm: the Slurm executor against a real single-node Slurm on this machine.
#
# Starts Slurm (scripts/slurm-single-node.sh: installs slurm-wlm and munge when missing), builds the tests, and runs
# SlurmExecutorTests with PIPELINE_SLURM=1: a 2-stage chain of sharded fake stages (3 shards each, merges between),
# the chain's order, a task cancelled mid-run (scancel <job>_1) and its retry, exhausted retries reported with the
# shard's log, a detached chain followed by snapshots, `pipeline gsm8k` as a Slurm job writing the same bytes as a
# local run, and `pipeline chunk` as 3 Slurm shards and a merge giving the files of a plain chunk; then the demo
# config with `pipeline run --executor slurm --shards 4` and with `--shards 3` (local), each compared artifact by
# artifact with the base revision's plain run (scripts/compare_demo.sh).
# Slurm is stopped again at the end when this script started it (KEEP_SLURM=1 leaves it running).
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
command -v "$SWIFT" >/dev/null || export PATH="$PATH:/opt/swift/usr/bin"

t0=$(date +%s.%N)
started=0
if ! (command -v sinfo >/dev/null && timeout 5 sinfo -h -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'); then
    started=1
fi
bash scripts/slurm-single-node.sh
stop() { if [ "$started" = 1 ] && [ "${KEEP_SLURM:-0}" != 1 ]; then bash scripts/slurm-single-node.sh stop; fi; }
trap stop EXIT
t1=$(date +%s.%N)

"$SWIFT" build --build-tests 2>&1 | grep -E "error|Build complete" || true
t2=$(date +%s.%N)

PIPELINE_SLURM=1 "$SWIFT" test --skip-build --disable-swift-testing --filter SlurmExecutorTests 2>&1 \
    | grep -vE '^\[[0-9]+/[0-9]+\]' | tee /tmp/test-slurm.$$.log
status=${PIPESTATUS[0]}
t3=$(date +%s.%N)
# The whole demo config through Slurm, every sharded stage as 4 array tasks and a merge, and through the local
# executor with 3 shards: every artifact must equal the base revision's plain run (scripts/compare_demo.sh).
if [ "$status" = 0 ]; then
    EXTRA_RUNS="--executor slurm --shards 4;--shards 3" SWIFT=$SWIFT bash scripts/compare_demo.sh || status=1
fi
t4=$(date +%s.%N)
skipped=$(grep -c ' skipped (' /tmp/test-slurm.$$.log || true)
rm -f /tmp/test-slurm.$$.log
result=$([ "$status" = 0 ] && echo ok || echo FAILED)
awk -v r="$result" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" -v s="$skipped" \
    'BEGIN { printf "test-slurm: %s — Slurm start %.1fs, build %.1fs, tests %.1fs (%d skipped), demo comparison %.1fs\n", r, b-a, c-b, d-c, s, e-d }' 
exit "$status"
