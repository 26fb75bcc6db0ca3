#!/usr/bin/env python3
"""Compare two work directories made by `pipeline run` on the same config, artifact by artifact.

Usage: compare_artifacts.py BASE NEW [--only STAGE,STAGE...]

--only compares just those stage folders (for a run whose later stages are meant to differ, as the base
revision's run against ours with the dedup stage on: only the stages before and beside it must be identical).

Every file must exist on both sides with the same bytes, except:
- manifest.json: compared on parameters (the work directory's path replaced), records and the list of outputs
  (not on times, tool version or hashes of files that hold timings);
- JSON Lines metrics (`*metrics.jsonl.zst`): compared record by record without the timing fields
  (step_time, generation_time, tokens_per_s, *_seconds);
- trainer_state.json and adapter_config.json: compared as JSON with the work directory's path replaced.
Prints one line per difference and exits 1 if there is any.
"""
import json
import os
import subprocess
import sys

TIMING = {"step_time", "generation_time", "tokens_per_s", "seconds", "elapsed"}


def files(root, only=None):
    out = []
    for d, _, names in os.walk(root):
        for n in names:
            if n == ".lock" or "/shards/" in os.path.join(d, n):
                continue  # shards are not outputs: their merge is
            rel = os.path.relpath(os.path.join(d, n), root)
            if only is None or rel.split(os.sep)[0] in only:
                out.append(rel)
    return sorted(out)


def zcat(path):
    return subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout


def untimed(obj):
    if isinstance(obj, dict):
        return {k: untimed(v) for k, v in obj.items() if k not in TIMING and not k.endswith("_seconds")}
    if isinstance(obj, list):
        return [untimed(v) for v in obj]
    return obj


def relocated(text, root):
    return text.replace(os.path.abspath(root), "<workdir>")


def main():
    base, new = sys.argv[1], sys.argv[2]
    only = None
    if len(sys.argv) == 5 and sys.argv[3] == "--only":
        only = set(sys.argv[4].split(","))
    elif len(sys.argv) != 3:
        sys.exit("usage: compare_artifacts.py BASE NEW [--only STAGE,STAGE...]")
    problems = []
    fb, fn = files(base, only), files(new, only)
    for f in sorted(set(fb) ^ set(fn)):
        problems.append(f"{f}: only in {'base' if f in fb else 'new'}")
    for f in sorted(set(fb) & set(fn)):
        a, b = os.path.join(base, f), os.path.join(new, f)
        name = os.path.basename(f)
        if name == "manifest.json":
            ma = json.loads(relocated(open(a).read(), base))
            mb = json.loads(relocated(open(b).read(), new))
            for key in ("parameters", "records"):
                if ma.get(key) != mb.get(key):
                    problems.append(f"{f}: {key} differ: {ma.get(key)} vs {mb.get(key)}")
            if [o["path"] for o in ma.get("outputs", [])] != [o["path"] for o in mb.get("outputs", [])]:
                problems.append(f"{f}: outputs differ")
        elif name.endswith("metrics.jsonl.zst"):
            ra = [untimed(json.loads(l)) for l in zcat(a).splitlines() if l.strip()]
            rb = [untimed(json.loads(l)) for l in zcat(b).splitlines() if l.strip()]
            if ra != rb:
                problems.append(f"{f}: records differ (timings aside)")
        elif name in ("trainer_state.json", "adapter_config.json"):
            ja = untimed(json.loads(relocated(open(a).read(), base)))
            jb = untimed(json.loads(relocated(open(b).read(), new)))
            if ja != jb:
                problems.append(f"{f}: differ (paths and timings aside)")
        elif open(a, "rb").read() != open(b, "rb").read():
            problems.append(f"{f}: bytes differ")
    for p in problems:
        print(p)
    print(f"compared {len(set(fb) & set(fn))} files: {'identical' if not problems else f'{len(problems)} differences'}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
