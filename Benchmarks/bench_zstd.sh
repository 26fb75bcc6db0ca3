#!/usr/bin/env bash
# zstd artifact streams: `pipeline pack` / `pipeline cat` against the zstd CLI (-3 -T2 --check) on the same
# 100 MB text file, in one run. Prints MB/s of each and our ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/pipeline}
TMP=${TMPDIR:-/tmp}/pipeline-bench-zstd
mkdir -p "$TMP"
SRC=$TMP/text-100MB.txt
if [ ! -f "$SRC" ]; then
  # Real text when the reference data is there (GSM8K), else the project's own sample text; repeated to 100 MB.
  seed=$TMP/seed.txt
  if [ -f ../shared/data/gsm8k/train.jsonl ]; then cat ../shared/data/gsm8k/train.jsonl > "$seed"; else cat data/gsm8k/*.jsonl > "$seed"; fi
  : > "$SRC"
  while [ "$(stat -c %s "$SRC")" -lt 104857600 ]; do cat "$seed" >> "$SRC"; done
  head -c 104857600 "$SRC" > "$SRC.tmp" && mv "$SRC.tmp" "$SRC"
fi
MB=$(python3 -c "import os;print(os.path.getsize('$SRC')/1e6)")
t() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); python3 -c "print($e-$s)"; }
cat "$SRC" > /dev/null   # warm the page cache
ours_w=$(t "$BIN" pack -q "$SRC" "$TMP/ours.zst")
ref_w=$(t zstd -q -f -3 -T2 --check "$SRC" -o "$TMP/ref.zst")
ours_r=$(t sh -c "'$BIN' cat '$TMP/ours.zst' > /dev/null")
ref_r=$(t sh -c "zstd -q -d -c '$TMP/ref.zst' > /dev/null")
cmp <("$BIN" cat "$TMP/ours.zst") "$SRC" && echo "round trip: identical"
python3 - "$MB" "$ours_w" "$ref_w" "$ours_r" "$ref_r" "$(stat -c %s "$TMP/ours.zst")" "$(stat -c %s "$TMP/ref.zst")" <<'PY'
import sys
mb, ow, rw, orr, rr, osz, rsz = map(float, sys.argv[1:])
print(f"input: {mb:.1f} MB of text")
print(f"write  pipeline pack {mb/ow:8.1f} MB/s   zstd -3 -T2 {mb/rw:8.1f} MB/s   ratio {rw/ow:.2f}x   sizes {osz/1e6:.1f} / {rsz/1e6:.1f} MB")
print(f"read   pipeline cat  {mb/orr:8.1f} MB/s   zstd -d     {mb/rr:8.1f} MB/s   ratio {rr/orr:.2f}x")
PY
