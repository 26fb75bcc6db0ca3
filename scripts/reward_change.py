#!/usr/bin/env python3
"""Prints the GRPO reward change (mean reward of the first and last half of the steps) and the eval summary of a
work directory: scripts/reward_change.py [WORKDIR]. Standard library only (zstd through the zstd command)."""
import json, os, subprocess, sys

work = sys.argv[1] if len(sys.argv) > 1 else "artifacts"
metrics = os.path.join(work, "grpo", "metrics.jsonl.zst")
if os.path.exists(metrics):
    text = subprocess.run(["zstd", "-dcq", metrics], capture_output=True, text=True, check=True).stdout
    rewards = [json.loads(l)["reward"] for l in text.splitlines() if l.strip()]
    if rewards:
        h = max(1, len(rewards) // 2)
        print(f"grpo: {len(rewards)} steps; mean reward of the first {h}: {sum(rewards[:h]) / h:.3f}, "
              f"of the last {h}: {sum(rewards[-h:]) / h:.3f}")
summary = os.path.join(work, "eval", "summary.json")
if os.path.exists(summary):
    s = json.load(open(summary))
    print(f"eval: {s['questions']} held-out questions, mean reward {s['reward']:.3f}, accuracy {100 * s['accuracy']:.1f}%, "
          f"exact format {100 * s['format_exact']:.1f}% (model {s['model']}, adapter {s.get('adapter') or 'none'})")
