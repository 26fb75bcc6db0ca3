#!/usr/bin/env python3
"""Compare two work directories made by `pipeline run` on the same config, artifact by artifact.

Usage: compare_artifacts.py [--new-stage FOLDER]... [--rounding STAGE,...] [--only STAGE,...] BASE NEW

--only compares just those stage folders (for a run whose later stages are meant to differ, as the base
revision's run against ours with the dedup stage on: only the stages before and beside it must be identical).

Every file must exist on both sides with the same bytes, except:
- manifest.json: compared on parameters (the work directory's path replaced), records and the list of outputs
  (not on times, tool version or hashes of files that hold timings);
- JSON Lines metrics (`*metrics.jsonl.zst`): compared record by record without the timing fields
  (step_time, generation_time, tokens_per_s, *_seconds);
- trainer_state.json and adapter_config.json: compared as JSON with the work directory's path replaced;
- the folder of a stage BASE's revision did not have (--new-stage FOLDER): allowed in NEW only (listed).
With --rounding, the listed stages' weights (`*.safetensors[.zst]`) and metrics may differ in float rounding
(a change of summation order on purpose, e.g. the LM head computed on the loss's rows only): the same tensors and
shapes with every value within 1e-4 of the tensor's largest magnitude (optimizer state: names and shapes only), the
same metric records with every number within 1e-4 relative (1e-6 absolute). Everything else stays exact. Such
stages are listed as "within rounding".
Prints one line per difference and exits 1 if there is any.
"""
import array
import math
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


def raw(path):
    return zcat(path) if path.endswith(".zst") else open(path, "rb").read()


def tensors(data):
    """name -> (dtype, shape, values) of a safetensors file's bytes (F32 as floats, other dtypes as bytes)."""
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        lo, hi = t["data_offsets"]
        chunk = data[8 + n + lo:8 + n + hi]
        values = array.array("f", chunk) if t["dtype"] == "F32" else chunk
        out[name] = (t["dtype"], t["shape"], values)
    return out


def close_tensors(a, b, shapes_only=False):
    ta, tb = tensors(a), tensors(b)
    if {k: v[:2] for k, v in ta.items()} != {k: v[:2] for k, v in tb.items()}:
        return False
    if shapes_only:
        return True
    for name, (dtype, _, va) in ta.items():
        vb = tb[name][2]
        if dtype != "F32":
            if va != vb:
                return False
            continue
        scale = max((abs(x) for x in va), default=0.0)
        if any(abs(x - y) > 1e-4 * scale for x, y in zip(va, vb)):
            return False
    return True


def close_values(a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close_values(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close_values(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= max(1e-6, 1e-4 * max(abs(a), abs(b)))
    return a == b


def relocated(text, root):
    return text.replace(os.path.abspath(root), "<workdir>")


def main():
    args = sys.argv[1:]
    new_stages, rounding, only = set(), set(), None
    rest = []
    while args:
        if args[0] in ("--new-stage", "--rounding", "--only") and len(args) > 1:
            if args[0] == "--new-stage":
                new_stages.add(args[1])
            elif args[0] == "--rounding":
                rounding |= {x for x in args[1].split(",") if x}
            else:
                only = set(args[1].split(","))
            args = args[2:]
        else:
            rest.append(args.pop(0))
    if len(rest) != 2:
        sys.exit("usage: compare_artifacts.py [--new-stage FOLDER]... [--rounding S,...] [--only S,...] BASE NEW")
    base, new = rest
    problems, rounded = [], set()
    fb, fn = files(base, only), files(new, only)
    added = [f for f in fn if f.split(os.sep)[0] in new_stages and f not in fb]
    if added:
        print(f"new stage files (allowed): {', '.join(added)}")
    fn = [f for f in fn if f not in added]
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
                if f.split("/")[0] in rounding and close_values(ra, rb):
                    rounded.add(f.split("/")[0])
                else:
                    problems.append(f"{f}: records differ (timings aside)")
        elif f.split("/")[0] in rounding and (name.endswith(".safetensors") or name.endswith(".safetensors.zst")):
            da, db = raw(a), raw(b)
            if da != db:
                # AdamW's moments of gradients that are themselves rounding noise (a GRPO step with zero advantage
                # has only the tiny KL gradient) need not agree to 1e-4: their names and shapes must.
                shapes_only = name.startswith("optimizer.")
                if close_tensors(da, db, shapes_only):
                    rounded.add(f.split("/")[0])
                else:
                    problems.append(f"{f}: tensors differ beyond rounding")
        elif name in ("trainer_state.json", "adapter_config.json"):
            ja = untimed(json.loads(relocated(open(a).read(), base)))
            jb = untimed(json.loads(relocated(open(b).read(), new)))
            if ja != jb:
                problems.append(f"{f}: differ (paths and timings aside)")
        elif open(a, "rb").read() != open(b, "rb").read():
            problems.append(f"{f}: bytes differ")
    for p in problems:
        print(p)
    for stage in sorted(rounded):
        print(f"{stage}: weights/metrics within rounding (--rounding)")
    print(f"compared {len(set(fb) & set(fn))} files: {'identical' if not problems else f'{len(problems)} differences'}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
