#!/usr/bin/env python3
"""`make learn`: does SFT and then GRPO raise a small GPT-2's answer accuracy? (issue #16)

scripts/learn.py [--config configs/learn.toml] [--bin .build/release/pipeline] [--train N --test N --steps S
                 --seed N --gsm8k-test FILE --gsm8k-limit N] [--workdir DIR]

1. `pipeline synth-gsm8k` writes the synthetic task to the files the config names ([inputs] gsm8k: train, test)
   and the reasoning text of its train split to the [bpe-train] corpus (<|endoftext|> after each problem).
2. `pipeline run --config CONFIG --only bpe-train tokenize gsm8k pretrain sft grpo eval`: the tokenizer (markers
   and EOS as added tokens), the token stream, the gsm8k records, pretraining on the reasoning text, SFT of a LoRA on
   prompt_text -> target_text, GRPO from the SFT adapter (four rewards, --eval-every held-out accuracy) and the
   eval of the GRPO adapter on the held-out synthetic questions ([eval] limit).
3. `pipeline eval` of the SFT adapter on the same questions, and of both adapters on the first --gsm8k-limit real
   GSM8K test questions (`pipeline gsm8k` of --gsm8k-test into <workdir>/real-gsm8k).
4. learn.json in the run's folder (runs/<UTC time>/): the schema of issue #16 point 5 plus the no-shortcut figures
   (empty and copied working-outs, true working-out arithmetic) and the accuracy over the GRPO steps; its path is
   printed last.

Standard library only (tomllib; zstd through the zstd command). Exit status 1 (one `error:` line) when a step fails.
"""
import argparse, json, math, os, re, subprocess, sys, time, tomllib

MARKERS = ("<start_working_out>", "<end_working_out>", "<SOLUTION>", "</SOLUTION>")
EQUATION = re.compile(r"(\d+(?:\.\d+)?)\s*([-+*/x×])\s*(\d+(?:\.\d+)?)\s*=\s*(-?\d+(?:\.\d+)?)")


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def run(cmd, quiet=False):
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE if quiet else None, stderr=subprocess.STDOUT if quiet else None,
                       text=True)
    if p.returncode not in (0, 3):
        if quiet and p.stdout:
            sys.stdout.write(p.stdout)
        fail(f"{cmd[1]} exited with status {p.returncode}: {' '.join(cmd)}")
    return p.stdout or ""


def read_jsonl_zst(path):
    try:
        text = subprocess.run(["zstd", "-dcq", path], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        fail(f"{path}: cannot read ({e})")
    return [json.loads(l) for l in text.splitlines() if l.strip()]


def working_out(completion):
    """The text between the first reasoning start marker and the next end marker; None when there is none."""
    a = completion.find(MARKERS[0])
    if a < 0:
        return None
    b = completion.find(MARKERS[1], a + len(MARKERS[0]))
    return None if b < 0 else completion[a + len(MARKERS[0]):b]


def solution(completion):
    a = completion.find(MARKERS[2])
    b = completion.find(MARKERS[3], a + 1) if a >= 0 else -1
    return completion[a + len(MARKERS[2]):b].strip() if b >= 0 else None


def true_equation(m):
    a, op, b, c = float(m.group(1)), m.group(2), float(m.group(3)), float(m.group(4))
    v = a + b if op == "+" else a - b if op == "-" else a / b if op == "/" and b != 0 else None if op == "/" else a * b
    return v is not None and abs(v - c) < 1e-9


def norm(s):
    return " ".join(s.split()).lower()


def analyse(workdir, data):
    """The eval stage's summary plus the no-shortcut figures from its completions, as shares in [0, 1]."""
    summary = json.load(open(os.path.join(workdir, "eval", "summary.json")))
    completions = read_jsonl_zst(os.path.join(workdir, "eval", "completions.jsonl.zst"))
    questions = {r["id"]: r["question"] for r in read_jsonl_zst(data)}
    n = len(completions)
    empty = copied = with_eq = all_true = follows = 0
    for c in completions:
        w = working_out(c["completion"])
        if w is None or not w.strip():
            empty += 1
            continue
        q = norm(questions.get(c["id"], ""))
        if q and (norm(w) in q or q in norm(w)):
            copied += 1
        eqs = list(EQUATION.finditer(w))
        if eqs:
            with_eq += 1
            if all(true_equation(m) for m in eqs):
                all_true += 1
            s = solution(c["completion"])
            if s is not None and s == eqs[-1].group(4):
                follows += 1
    share = lambda k: k / n if n else 0.0
    return {"questions": summary["questions"], "accuracy": summary["accuracy"],
            "format_exact": summary["format_exact"], "empty_working_out": share(empty),
            "copied_working_out": share(copied), "working_out_with_equation": share(with_eq),
            "working_out_arithmetic_true": share(all_true), "solution_is_last_result": share(follows),
            "reward": summary["reward"], "mean_completion_tokens": summary["mean_completion_tokens"]}


def mean_stderr(xs):
    n = len(xs)
    m = sum(xs) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    return {"mean": m, "stderr": sd / math.sqrt(n), "steps": n}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="configs/learn.toml")
    ap.add_argument("--bin", default=".build/release/pipeline")
    ap.add_argument("--workdir", help="override [run] workdir")
    ap.add_argument("--train", type=int, default=4000, help="synthetic training problems")
    ap.add_argument("--test", type=int, default=500, help="held-out synthetic problems")
    ap.add_argument("--steps", type=int, default=1, help="steps per synthetic problem (1 or 2)")
    ap.add_argument("--max-number", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0, help="the task's seed (the stages' seeds are in the config)")
    default_real = "/work/shared/data/gsm8k/test.jsonl"
    ap.add_argument("--gsm8k-test", default=default_real if os.path.exists(default_real) else "data/gsm8k/test.jsonl",
                    help="real GSM8K test rows (GSM8K's test.jsonl)")
    ap.add_argument("--gsm8k-limit", type=int, default=200, help="real GSM8K questions evaluated (the first N)")
    a = ap.parse_args()
    start = time.time()
    try:
        config = tomllib.load(open(a.config, "rb"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        fail(f"{a.config}: {e}")
    work = a.workdir or config.get("run", {}).get("workdir", "artifacts")
    runs = config.get("run", {}).get("runs", "runs")
    gsm8k = config.get("inputs", {}).get("gsm8k", [])
    corpus = config.get("bpe-train", {}).get("files", [])
    if len(gsm8k) != 2 or len(corpus) != 1:
        fail(f"{a.config}: [inputs] gsm8k must name the train and test files and [bpe-train] files the corpus")
    train_file, test_file = gsm8k
    if os.path.dirname(train_file) != os.path.dirname(test_file):
        fail(f"{a.config}: [inputs] gsm8k: train and test must be in one folder (synth-gsm8k writes both)")
    if [os.path.basename(f) for f in gsm8k] != ["train.jsonl", "test.jsonl"]:
        fail(f"{a.config}: [inputs] gsm8k must be DIR/train.jsonl and DIR/test.jsonl")
    ev = config.get("eval", {})
    limit, max_new = ev.get("limit", 200), ev.get("max_new_tokens", 128)
    pipeline = a.bin

    # 1. the task
    run([pipeline, "synth-gsm8k", os.path.dirname(train_file), "--train", str(a.train), "--test", str(a.test),
         "--steps", str(a.steps), "--max-number", str(a.max_number), "--seed", str(a.seed),
         "--corpus", corpus[0], "--eos"])
    # 2. the run
    before = set(os.listdir(runs)) if os.path.isdir(runs) else set()
    cmd = [pipeline, "run", "--config", a.config, "--only", "bpe-train", "tokenize", "gsm8k", "pretrain", "sft",
           "grpo", "eval"]
    run(cmd + (["--workdir", work] if a.workdir else []))
    new = sorted(set(os.listdir(runs)) - before) if os.path.isdir(runs) else []
    if not new:
        fail(f"{runs}: pipeline run left no run folder")
    run_dir = os.path.join(runs, new[-1])
    # 3. the other evaluations
    tok, model = os.path.join(work, "tokenize"), os.path.join(work, "pretrain")
    synth_test = os.path.join(work, "gsm8k", "test.jsonl.zst")
    real_work = os.path.join(work, "real-gsm8k")
    run([pipeline, "gsm8k", a.gsm8k_test, "--workdir", real_work], quiet=True)
    real_test = os.path.join(real_work, "gsm8k", "test.jsonl.zst")
    evals = {}
    for name, adapter, data, n in [("sft", "sft", synth_test, limit), ("gsm8k_sft", "sft", real_test, a.gsm8k_limit),
                                   ("gsm8k_grpo", "grpo", real_test, a.gsm8k_limit)]:
        w = os.path.join(work, "eval-" + name.replace("_", "-"))
        run([pipeline, "eval", "--workdir", w, "--model", model, "--adapter", os.path.join(work, adapter),
             "--tokenizer", tok, "--data", data, "--limit", str(n), "--max-new-tokens", str(max_new)])
        evals[name] = analyse(w, data)
    evals["grpo"] = analyse(work, synth_test)
    # 4. learn.json
    rewards = [m["reward"] for m in read_jsonl_zst(os.path.join(work, "grpo", "metrics.jsonl.zst")) if "reward" in m]
    if len(rewards) < 2:
        fail(f"{work}/grpo/metrics.jsonl.zst: {len(rewards)} GRPO steps; at least 2 are needed")
    k = min(20, len(rewards) // 2)
    first, last = mean_stderr(rewards[:k]), mean_stderr(rewards[-k:])
    se = math.sqrt(first["stderr"] ** 2 + last["stderr"] ** 2)
    grpo_evals = os.path.join(work, "grpo", "evals.jsonl.zst")
    curve = [{"step": e["step"], "accuracy": e["accuracy"], "format_exact": e["format_exact"],
              "questions": e["questions"]} for e in read_jsonl_zst(grpo_evals)] if os.path.exists(grpo_evals) else []
    sft, grpo = evals["sft"], evals["grpo"]
    result = {
        "seconds": round(time.time() - start, 1),
        "sft": sft, "grpo": grpo, "gsm8k_sft": evals["gsm8k_sft"], "gsm8k_grpo": evals["gsm8k_grpo"],
        "reward_first20": first, "reward_last20": last,
        "reward_gain_in_stderr": (last["mean"] - first["mean"]) / se if se > 0 else None,
        "grpo_accuracy_over_steps": curve,
        "goal": {"accuracy_gain_points": round(100 * (grpo["accuracy"] - sft["accuracy"]), 2),
                 "accuracy_gain_at_least_10_points": grpo["accuracy"] >= sft["accuracy"] + 0.10 - 1e-12,
                 "format_exact_at_least_90": grpo["format_exact"] >= 0.90,
                 "reward_gain_over_3_stderr": se > 0 and last["mean"] - first["mean"] > 3 * se,
                 "empty_or_copied_not_rising": grpo["empty_working_out"] + grpo["copied_working_out"]
                 <= sft["empty_working_out"] + sft["copied_working_out"]},
        "task": {"train": a.train, "test": a.test, "steps": a.steps, "max_number": a.max_number, "seed": a.seed,
                 "gsm8k_test": a.gsm8k_test},
        "config": a.config, "load_average": list(os.getloadavg()),
    }
    out = os.path.join(run_dir, "learn.json")
    with open(out, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")
    pct = lambda x: f"{100 * x:.1f}%"
    print(f"learn: held-out synthetic ({sft['questions']} questions, greedy): accuracy {pct(sft['accuracy'])} after SFT "
          f"-> {pct(grpo['accuracy'])} after GRPO; exact format {pct(sft['format_exact'])} -> {pct(grpo['format_exact'])}")
    print(f"learn: real GSM8K ({evals['gsm8k_sft']['questions']} questions): accuracy "
          f"{pct(evals['gsm8k_sft']['accuracy'])} -> {pct(evals['gsm8k_grpo']['accuracy'])}")
    gain = result["reward_gain_in_stderr"]
    print(f"learn: mean GRPO reward first {k} steps {first['mean']:.3f} ± {first['stderr']:.3f}, last {k} "
          f"{last['mean']:.3f} ± {last['stderr']:.3f}" + (f" ({gain:.1f} standard errors)" if gain is not None else ""))
    print(f"learn: empty working-out {pct(sft['empty_working_out'])} -> {pct(grpo['empty_working_out'])}, copied "
          f"{pct(sft['copied_working_out'])} -> {pct(grpo['copied_working_out'])}, true arithmetic "
          f"{pct(sft['working_out_arithmetic_true'])} -> {pct(grpo['working_out_arithmetic_true'])}; "
          f"{result['seconds']:.0f} s")
    print(out)


if __name__ == "__main__":
    main()
