#!/usr/bin/env python3
"""Expected `gsm8k` stage records for Tests/GSM8KTests/GSM8KTests.swift, computed the reference way.

answer  = extract_hash_answer(raw) of the Unsloth GRPO notebooks: raw.split("####")[1].strip()
reasoning = re.sub(r"<<.*?>>", "", raw.split("####")[0]).strip()
answer_value, prompt, prompt_text and target_text follow docs/gsm8k.md (the rendering is re-implemented here
independently of the Swift code).

Run: /work/main/.venv-bench/bin/python Tests/GSM8KTests/Fixtures/make_gsm8k_expected.py [shared-data-dir]
(default ../shared/data beside the checkout). Writes gsm8k_expected.json beside itself.
"""
import json
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

reasoning_start = "<start_working_out>"
reasoning_end = "<end_working_out>"
solution_start = "<SOLUTION>"
solution_end = "</SOLUTION>"

system_prompt = \
f"""You are given a problem.
Think about the problem and provide your working out.
Place it between {reasoning_start} and {reasoning_end}.
Then, provide your solution between {solution_start}{solution_end}"""


def extract_hash_answer(text):
    if "####" not in text:
        return None
    return text.split("####")[1].strip()


def reasoning_of(text):
    return re.sub(r"<<.*?>>", "", text.split("####")[0]).strip()


def answer_value(answer):
    v = answer.replace(",", "")
    if re.fullmatch(r"-?[0-9]+", v):
        return int(v)
    if re.fullmatch(r"-?[0-9]*\.[0-9]+", v):
        return float(v)
    return None


LABELS = {"system": "System", "user": "User", "assistant": "Assistant"}


def plain_text(messages):
    out = ""
    for m in messages:
        out += LABELS.get(m["role"], m["role"][:1].upper() + m["role"][1:]) + ":\n" + m["content"] + "\n\n"
    return out + "Assistant:\n"


def record(split, row, obj):
    answer = extract_hash_answer(obj["answer"])
    reasoning = reasoning_of(obj["answer"])
    prompt = [{"role": "system", "content": system_prompt}, {"role": "user", "content": obj["question"]}]
    return {
        "id": f"{split}-{row}",
        "question": obj["question"],
        "answer": answer,
        "answer_value": answer_value(answer),
        "reasoning": reasoning,
        "raw_answer": obj["answer"],
        "prompt": prompt,
        "prompt_text": plain_text(prompt),
        "target_text": f"{reasoning_start}{reasoning}{reasoning_end}{solution_start}{answer}{solution_end}",
    }


TEXTS = [
    "a <<1+1=2>>2\n#### 2", "#### 5", "x ####", "a #### 1 #### 2", "a ####  7\u3000\n", "a####\t-3 \x1c",
    "a <<b\n>> c #### 1", "<<<x>>> y #### 1", "<<x> y #### 1", "<<x>> <<y>> z<< #### 1", "  lead\n#### 1,234.50",
    "no marker", "### 3", "a # ### 4", "x #####5", "x ########6", "<<a>>>>b #### 1",
]

ANSWERS = ["72", "1,080", "-5", "3.5", "abc", "", "1,0,8", "-.5", "5.", "\u0661\u0662", "+5", "1e3", " 5", "-",
           ".", "0", "-0", "007", "1,000,000.25"]


SYNTHETIC = [
    {"question": "Quotes \" and \\ back\\slash, tab\t, cr\r, bell\x07, nul\x00, esc\x1b, del\x7f, "
                 "ls\u2028 ps\u2029, nbsp\u00a0, \u00e9 vs e\u0301, emoji \U0001F600, CJK \u6570\u5b66",
     "answer": "Step <<1+1=2>>2\x0c\x08\n#### 1,234"},
    {"question": "q", "answer": "#### 0.00001"},
    {"question": "q", "answer": "#### 1234567890123456.5"},
    {"question": "q", "answer": "#### 12345678901234567.5"},
    {"question": "q", "answer": "#### 3.50"},
    {"question": "q", "answer": "#### -0.0"},
    {"question": "q", "answer": "#### .000123"},
    {"question": "q", "answer": "#### 100000000000000000000.0"},
    {"question": "q", "answer": "#### 9223372036854775807"},
    {"question": "q", "answer": "#### -9223372036854775808"},
    {"question": "q", "answer": "a\n\n#### \u0661\u0662"},
]


def line_of(rec):
    return json.dumps(rec, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "data")
    out = {"records": [], "counts": {}, "texts": [], "answer_values": [], "lines": [], "synthetic": []}
    rng = random.Random(7)
    for split in ["train", "test"]:
        rows = [json.loads(line) for line in open(os.path.join(data, "gsm8k", split + ".jsonl"), encoding="utf-8")]
        out["counts"][split] = sum(1 for r in rows if extract_hash_answer(r["answer"]) is not None)
        picks = {0, 1, len(rows) - 1}
        picks.add(next(i for i, r in enumerate(rows) if "," in extract_hash_answer(r["answer"])))
        picks.add(next(i for i, r in enumerate(rows) if extract_hash_answer(r["answer"]).startswith("-")))
        picks.update(rng.sample(range(len(rows)), 4))
        for i in sorted(picks):
            out["records"].append(record(split, i, rows[i]))
            out["lines"].append(line_of(record(split, i, rows[i])))
    for i, row in enumerate(SYNTHETIC):
        out["synthetic"].append({"row": row, "line": line_of(record("syn", i, row))})
    for t in TEXTS:
        out["texts"].append({"text": t, "answer": extract_hash_answer(t), "reasoning": reasoning_of(t)})
    for a in ANSWERS:
        out["answer_values"].append({"answer": a, "value": answer_value(a)})
    with open(os.path.join(HERE, "gsm8k_expected.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")
    print(out["counts"], len(out["records"]), "records")


if __name__ == "__main__":
    main()
