#!/usr/bin/env python3
"""Reference side of Benchmarks/bench_gsm8k.sh.

  bench_gsm8k.py extract OUT.jsonl IN.jsonl...    the notebook's extraction, records as `pipeline gsm8k` writes them
  bench_gsm8k.py reward RECORDS.jsonl COMPLETIONS.jsonl   the notebook's four reward functions, means printed
  bench_gsm8k.py completions RECORDS.jsonl OUT.jsonl N    N test completions in varied shapes
"""
import json
import re
import sys

RS, RE_, SS, SE = "<start_working_out>", "<end_working_out>", "<SOLUTION>", "</SOLUTION>"
SYSTEM = (f"You are given a problem.\nThink about the problem and provide your working out.\n"
          f"Place it between {RS} and {RE_}.\nThen, provide your solution between {SS}{SE}")


def extract_hash_answer(text):
    if "####" not in text:
        return None
    return text.split("####")[1].strip()


def extract(out, inputs):
    with open(out, "w", encoding="utf-8") as f:
        for path in inputs:
            split = path.rsplit("/", 1)[-1].split(".")[0]
            for row, line in enumerate(open(path, encoding="utf-8")):
                obj = json.loads(line)
                answer = extract_hash_answer(obj["answer"])
                reasoning = re.sub(r"<<.*?>>", "", obj["answer"].split("####")[0]).strip()
                v = answer.replace(",", "")
                value = int(v) if re.fullmatch(r"-?[0-9]+", v) else (
                    float(v) if re.fullmatch(r"-?[0-9]*\.[0-9]+", v) else None)
                prompt = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": obj["question"]}]
                rec = {"id": f"{split}-{row}", "question": obj["question"], "answer": answer, "answer_value": value,
                       "reasoning": reasoning, "raw_answer": obj["answer"], "prompt": prompt,
                       "prompt_text": "System:\n" + SYSTEM + "\n\nUser:\n" + obj["question"] + "\n\nAssistant:\n",
                       "target_text": f"{RS}{reasoning}{RE_}{SS}{answer}{SE}"}
                f.write(json.dumps(rec, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n")


match_format = re.compile(rf"^[\s]{{0,}}{RS}.+?{RE_}.*?{SS}(.+?){SE}[\s]{{0,}}$", flags=re.MULTILINE | re.DOTALL)
match_numbers = re.compile(SS + r".*?([\d\.\,]{1,})", flags=re.MULTILINE | re.DOTALL)


def scores(r, true_answer):
    s1 = 3.0 if match_format.search(r) is not None else 0
    s2 = sum(0.5 if r.count(m) == 1 else -1.0 for m in (RS, RE_, SS, SE))
    m = match_format.search(r)
    guess = m.group(1) if m else None
    if guess is None:
        s3 = 0
    elif guess == true_answer:
        s3 = 3.0
    elif guess.strip() == true_answer.strip():
        s3 = 1.5
    else:
        try:
            ratio = float(guess) / float(true_answer)
            s3 = 1.0 if 0.9 <= ratio <= 1.1 else (0.5 if 0.8 <= ratio <= 1.2 else -1.5)
        except:  # noqa: E722
            s3 = -1.5
    m = match_numbers.search(r)
    if m is None:
        s4 = 0
    else:
        try:
            s4 = 1.5 if float(m.group(1).strip().replace(",", "")) == float(true_answer.strip()) else -0.5
        except:  # noqa: E722
            s4 = 0
    return [s1, s2, s3, s4]


def reward(records, completions):
    answers = {}
    for line in open(records, encoding="utf-8"):
        r = json.loads(line)
        answers.setdefault(r["id"], r["answer"])
    sums, n = [0.0] * 4, 0
    for line in open(completions, encoding="utf-8"):
        c = json.loads(line)
        for i, s in enumerate(scores(c["completion"], answers[c["id"]])):
            sums[i] += s
        n += 1
    names = ["match_format_exactly", "match_format_approximately", "check_answer", "check_numbers"]
    for name, s in zip(names, sums):
        print(f"rewards/{name}/mean: {s / n}")
    print(f"reward: {sum(sums) / n}")


def completions(records, out, n):
    recs = [json.loads(line) for line in open(records, encoding="utf-8")]
    shapes = [
        lambda r: r["target_text"],
        lambda r: f"{RS}{r['reasoning']}{RE_}{SS}{r['answer']}0{SE}",
        lambda r: f"Let me see.\n{RS}{r['reasoning']}{RE_}\n{SS} {r['answer']} {SE}\n",
        lambda r: f"{RS}{r['reasoning']}{RE_}{SS}{r['answer']}",
        lambda r: f"The answer is {r['answer']}.",
        lambda r: f"{RS}{r['reasoning'] * 4}{RE_}{SS}{r['answer']}{SE} done",
        lambda r: f"{RS}{r['reasoning']}{RS}{RE_}{SS}{SS}{r['answer']}{SE}",
        lambda r: "",
    ]
    with open(out, "w", encoding="utf-8") as f:
        for i in range(n):
            r = recs[i % len(recs)]
            f.write(json.dumps({"id": r["id"], "completion": shapes[i % len(shapes)](r)}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "extract":
        extract(sys.argv[2], sys.argv[3:])
    elif cmd == "reward":
        reward(sys.argv[2], sys.argv[3])
    else:
        completions(sys.argv[2], sys.argv[3], int(sys.argv[4]))
