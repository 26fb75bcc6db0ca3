#!/usr/bin/env bash
# Builds BASE (a git revision, default the commit before the stage contract) beside this checkout, runs the demo
# config (pipeline.toml) with its binary and with ours, and compares every artifact (scripts/compare_artifacts.py):
# a change that is meant to restructure code, not behaviour, must leave them identical (BASE_ROUNDING names the
# stages allowed to differ in float rounding); runs of ours with other options (EXTRA_RUNS) must equal ours exactly.
# The base has no dedup or decontaminate stage (NEW_STAGES): their sections are dropped from its config. Ours runs
# twice: "nodedup" with [dedup] enabled = false and decontaminate report_only = true (every later stage reads the
# text the base reads), compared with the base in full; "ours", the demo as it is (the planted near duplicate and
# the planted leak removed), compared with the base on the stages those do not feed (ingest, gsm8k), and in full
# with each of EXTRA_RUNS.
# Usage: scripts/compare_demo.sh [BASE] [OURS]   (OURS: our pipeline binary, default .build/debug/pipeline)
# EXTRA_RUNS="--shards 3;--executor slurm --shards 4" adds runs of ours with those options, each compared too.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-${COMPARE_BASE:-3322456}}
ours=${2:-.build/debug/pipeline}
swift=${SWIFT:-swift}
if ! git cat-file -e "$base^{commit}" 2>/dev/null; then
    echo "compare_demo: revision $base is not in this clone's history; skipped"; exit 0
fi
root=$PWD
cache=$root/.build-compare
rev=$(git rev-parse --short "$base")
bin=$cache/bin-$rev
if [ ! -x "$bin" ]; then
    rm -rf "$cache/src"; mkdir -p "$cache"
    git worktree prune
    git worktree add -f --detach "$cache/src" "$base" >/dev/null
    echo "compare_demo: building $rev (once; kept in $bin)"
    (cd "$cache/src" && "$swift" build --product pipeline 2>&1 | tail -1)
    cp "$cache/src/.build/debug/pipeline" "$bin"
    git worktree remove --force "$cache/src"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The demo config with the run logs kept in the temporary folder.
sed 's|^runs = .*|runs = "'"$work"'/runs"|' pipeline.toml > "$work/pipeline.toml"
new_stages=${NEW_STAGES-dedup decontaminate}
cp "$work/pipeline.toml" "$work/base.toml"
new_args=()
for stage in $new_stages; do
    awk -v s="[$stage]" '$0 == s { skip = 1; next } /^\[/ { skip = 0 } !skip' "$work/base.toml" > "$work/cut.toml"
    mv "$work/cut.toml" "$work/base.toml"
    new_args+=(--new-stage "$stage")
done
sed -e 's|^# enabled = true .*|enabled = false|' -e 's|^report_only = .*|report_only = true|' "$work/pipeline.toml" \
    > "$work/nodedup.toml"
grep -q '^enabled = false' "$work/nodedup.toml" || { echo "compare_demo: no [dedup] enabled line"; exit 1; }
# Every side runs in the same folder (paths appear in some artifacts), one after the other: the base binary, ours,
# and ours with each of EXTRA_RUNS (';'-separated option lists; default: the local executor with 3 shards).
IFS=';' read -r -a extra <<< "${EXTRA_RUNS---shards 3}"
sides=(base nodedup ours)
for i in "${!extra[@]}"; do sides+=("extra$i"); done
for side in "${sides[@]}"; do
    exe=$root/$ours; opts=(); config=$work/pipeline.toml
    [ "$side" = base ] && exe=$bin && config=$work/base.toml
    [ "$side" = nodedup ] && config=$work/nodedup.toml
    case $side in extra*) read -r -a opts <<< "${extra[${side#extra}]}" ;; esac
    "$exe" run --config "$config" --workdir "$work/w" --no-report "${opts[@]}" > "$work/$side.log" 2>&1 || {
        echo "compare_demo: the $side run (${opts[*]}) failed:"; tail -5 "$work/$side.log"; exit 1; }
    mv "$work/w" "$work/$side"
done
status=0
# Base against ours with dedup off: exact, except the stages listed in BASE_ROUNDING, whose weights and metrics
# may differ in float rounding since the base revision on purpose (the LM head on the loss's rows only, few-row
# decoding kernels), and the folders of the stages the base did not have. Each extra run against ours: exact.
echo "compare_demo: $rev vs ours with dedup off and decontaminate report-only"
python3 scripts/compare_artifacts.py "${new_args[@]}" --rounding "${BASE_ROUNDING-sft,grpo}" "$work/base" \
    "$work/nodedup" || status=1
echo "compare_demo: $rev vs ours (dedup on, leak removed), the stages those do not feed"
python3 scripts/compare_artifacts.py --only ingest,gsm8k "$work/base" "$work/ours" || status=1
removed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records"]["removed"])' \
          "$work/ours/dedup/manifest.json")
echo "compare_demo: ours: dedup removed $removed document(s)"
for side in "${sides[@]:3}"; do
    echo "compare_demo: ours vs ours ${extra[${side#extra}]}"
    python3 scripts/compare_artifacts.py "$work/ours" "$work/$side" || status=1
done
exit $status
