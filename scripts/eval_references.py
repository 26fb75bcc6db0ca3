#!/usr/bin/env python3
"""Writes the reference reasoning of the questions the eval stage answered, as `pipeline score --references` reads
it: scripts/eval_references.py WORKDIR OUT.jsonl -> {"id", "reference"} per completion in
WORKDIR/eval/completions.jsonl.zst, the reference being the GSM8K record's `reasoning` (WORKDIR/gsm8k/test.jsonl.zst).
Standard library only (zstd through the zstd command)."""
import json, os, subprocess, sys


def records(path):
    text = subprocess.run(["zstd", "-dcq", path], capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in text.splitlines() if line.strip()]


work, out = sys.argv[1], sys.argv[2]
ids = [r["id"] for r in records(os.path.join(work, "eval", "completions.jsonl.zst"))]
reasoning = {r["id"]: r["reasoning"] for r in records(os.path.join(work, "gsm8k", "test.jsonl.zst"))}
with open(out, "w") as f:
    for i in ids:
        f.write(json.dumps({"id": i, "reference": reasoning[i]}) + "\n")
