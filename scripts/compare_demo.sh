#!/usr/bin/env bash
# Builds BASE (a git revision, default the commit before the stage contract) beside this checkout, runs the demo
# config (pipeline.toml) with its binary and with ours, and compares every artifact (scripts/compare_artifacts.py):
# a change that is meant to restructure code, not behaviour, must leave them identical.
# The base has no dedup stage, which changes the text every later stage reads (it removes the demo's planted
# near duplicate), so ours runs twice: with dedup switched off ([dedup] enabled = false), compared with the base
# in full; with dedup on (the demo as it is), compared with the base on the stages dedup does not feed (ingest,
# gsm8k), and in full with each of EXTRA_RUNS (which run with dedup on).
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
sed 's|^# enabled = true .*|enabled = false|' "$work/pipeline.toml" > "$work/pipeline-nodedup.toml"
grep -q '^enabled = false' "$work/pipeline-nodedup.toml" || { echo "compare_demo: no [dedup] enabled line"; exit 1; }
# The base revision knows no [dedup] section: its config is ours without it.
sed '/^\[dedup\]/,/^$/d' "$work/pipeline.toml" > "$work/pipeline-base.toml"
# Every side runs in the same folder (paths appear in some artifacts), one after the other: the base binary, ours,
# and ours with each of EXTRA_RUNS (';'-separated option lists; default: the local executor with 3 shards).
IFS=';' read -r -a extra <<< "${EXTRA_RUNS---shards 3}"
sides=(base nodedup ours)
for i in "${!extra[@]}"; do sides+=("extra$i"); done
for side in "${sides[@]}"; do
    exe=$root/$ours; opts=(); config=$work/pipeline.toml
    [ "$side" = base ] && exe=$bin && config=$work/pipeline-base.toml
    [ "$side" = nodedup ] && config=$work/pipeline-nodedup.toml
    case $side in extra*) read -r -a opts <<< "${extra[${side#extra}]}" ;; esac
    "$exe" run --config "$config" --workdir "$work/w" --no-report "${opts[@]}" > "$work/$side.log" 2>&1 || {
        echo "compare_demo: the $side run (${opts[*]}) failed:"; tail -5 "$work/$side.log"; exit 1; }
    mv "$work/w" "$work/$side"
done
status=0
echo "compare_demo: $rev vs ours with dedup off"
python3 scripts/compare_artifacts.py "$work/base" "$work/nodedup" || status=1
echo "compare_demo: $rev vs ours (dedup on), the stages dedup does not feed"
python3 scripts/compare_artifacts.py "$work/base" "$work/ours" --only ingest,gsm8k || status=1
removed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records"]["removed"])' \
          "$work/ours/dedup/manifest.json")
echo "compare_demo: ours: dedup removed $removed document(s)"
for side in "${sides[@]:3}"; do
    echo "compare_demo: ours vs ours ${extra[${side#extra}]}"
    python3 scripts/compare_artifacts.py "$work/ours" "$work/$side" || status=1
done
exit $status
