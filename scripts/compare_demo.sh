#!/usr/bin/env bash
# Builds BASE (a git revision, default the commit before the stage contract) beside this checkout, runs the demo
# config (pipeline.toml) with its binary and with ours, and compares every artifact (scripts/compare_artifacts.py):
# a change that is meant to restructure code, not behaviour, must leave them identical (BASE_ROUNDING names the
# stages allowed to differ in float rounding); runs of ours with other options (EXTRA_RUNS) must equal ours exactly.
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
# Stages the base revision lacks (NEW_STAGES, default decontaminate): their sections are dropped from the base's
# config, and ours runs decontaminate with report_only = true, so that every training stage reads the same text
# as the base's (the demo's planted leak is listed, not removed); the new stages' folders are the only files
# allowed on one side alone (compare_artifacts.py --new-stage).
new_stages=${NEW_STAGES-decontaminate}
cp "$work/pipeline.toml" "$work/ours.toml"
new_args=()
for stage in $new_stages; do
    awk -v s="[$stage]" '$0 == s { skip = 1; next } /^\[/ { skip = 0 } !skip' "$work/pipeline.toml" > "$work/base.toml"
    mv "$work/base.toml" "$work/pipeline.toml"
    new_args+=(--new-stage "$stage")
done
sed -i 's|^report_only = .*|report_only = true|' "$work/ours.toml"
# Every side runs in the same folder (paths appear in some artifacts), one after the other: the base binary, ours,
# and ours with each of EXTRA_RUNS (';'-separated option lists; default: the local executor with 3 shards).
IFS=';' read -r -a extra <<< "${EXTRA_RUNS---shards 3}"
sides=(base ours)
for i in "${!extra[@]}"; do sides+=("extra$i"); done
for side in "${sides[@]}"; do
    exe=$root/$ours; opts=(); config=$work/ours.toml
    [ "$side" = base ] && exe=$bin && config=$work/pipeline.toml
    case $side in extra*) read -r -a opts <<< "${extra[${side#extra}]}" ;; esac
    "$exe" run --config "$config" --workdir "$work/w" --no-report "${opts[@]}" > "$work/$side.log" 2>&1 || {
        echo "compare_demo: the $side run (${opts[*]}) failed:"; tail -5 "$work/$side.log"; exit 1; }
    mv "$work/w" "$work/$side"
done
status=0
# Base against ours: exact, except the stages listed in BASE_ROUNDING, whose weights and metrics may differ in
# float rounding since the base revision on purpose (the LM head on the loss's rows only, few-row decoding kernels),
# and the folders of stages the base did not have. Each extra run against ours: exact for every stage.
echo "compare_demo: $rev vs ours"
python3 scripts/compare_artifacts.py "${new_args[@]}" --rounding "${BASE_ROUNDING-sft,grpo}" "$work/base" \
    "$work/ours" || status=1
for side in "${sides[@]:2}"; do
    echo "compare_demo: ours vs ours ${extra[${side#extra}]}"
    python3 scripts/compare_artifacts.py "$work/ours" "$work/$side" || status=1
done
exit $status
