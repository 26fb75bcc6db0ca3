#!/usr/bin/env python3
"""Reference side of Benchmarks/bench_decontaminate.sh: the same 13-gram rule in Python, with
lm-evaluation-harness's own normalisation and n-gram code (`lm_eval.decontamination.janitor`: `Janitor
().normalize_string`, `word_ngrams`; `pip install lm-eval --no-deps` is enough for it).

  bench_decontaminate.py EVAL.jsonl PAGES.jsonl TRAIN.jsonl OUT.jsonl [N]

EVAL and TRAIN are GSM8K records as `pipeline gsm8k` writes them (plain: id, question, raw_answer); PAGES is
ingest's pages (plain). An item is its question and raw_answer; a training text is a document (its pages joined
by newlines) or a record. An item shorter than N words is looked for whole (GPT-3's rule). OUT gets one line per
(training text, eval item) pair: train_id, eval_id, ngram (the first shared one in training order),
shared_ngrams — the fields of our overlaps.jsonl.zst — in training order, then eval order.
"""
import json
import sys
from collections import defaultdict

from lm_eval.decontamination.janitor import Janitor, word_ngrams

janitor = Janitor()


def normalized(*texts):
    return " ".join(janitor.normalize_string(t) for t in texts)


def main():
    eval_path, pages_path, train_path, out_path = sys.argv[1:5]
    n = int(sys.argv[5]) if len(sys.argv) > 5 else 13
    lookup = defaultdict(list)  # gram -> eval item indices (ascending, distinct)
    lengths = set()
    ids = []
    for line in open(eval_path, encoding="utf-8"):
        r = json.loads(line)
        text = normalized(r["question"], r["raw_answer"])
        words = text.split()
        if not words:
            continue
        k = min(n, len(words))
        lengths.add(k)
        item = len(ids)
        ids.append(r["id"])
        for g in word_ngrams(text, k):
            if not lookup[g] or lookup[g][-1] != item:
                lookup[g].append(item)

    out = open(out_path, "w", encoding="utf-8")

    def check(train_id, text):
        first = {}   # gram -> first position
        for k in sorted(lengths):
            for pos, g in enumerate(word_ngrams(text, k)):
                if g in lookup and g not in first:
                    first[g] = (pos, k)
        per_item = {}
        for g, _ in sorted(first.items(), key=lambda e: e[1]):
            for item in lookup[g]:
                if item in per_item:
                    per_item[item][1] += 1
                else:
                    per_item[item] = [g, 1]
        for item in sorted(per_item):
            g, shared = per_item[item]
            out.write(json.dumps({"train_id": train_id, "eval_id": ids[item], "ngram": g, "shared_ngrams": shared},
                                 ensure_ascii=False) + "\n")
        return bool(per_item)

    docs = dirty = 0
    current, texts = None, []
    for line in open(pages_path, encoding="utf-8"):
        p = json.loads(line)
        key = (p["doc_id"], p["source"])
        if current is not None and key != current:
            docs += 1
            dirty += check(current[0], normalized("\n".join(texts)))
            texts = []
        current = key
        texts.append(p["text"])
    if current is not None:
        docs += 1
        dirty += check(current[0], normalized("\n".join(texts)))
    records = dirty_records = 0
    for line in open(train_path, encoding="utf-8"):
        r = json.loads(line)
        records += 1
        dirty_records += check(r["id"], normalized(r["question"], r["raw_answer"]))
    out.close()
    print(f"python: {len(ids)} eval items, {len(lookup)} grams; {dirty} of {docs} documents and "
          f"{dirty_records} of {records} records contaminated")


if __name__ == "__main__":
    main()
