#!/usr/bin/env python3
"""Reference side of Benchmarks/bench_score.sh.

  bench_score.py pairs GSM8K_DIR OUT_DIR N   N prediction/reference pairs: GSM8K answers (reasoning, several lines)
                                             against questions; answer i with question i, then shifted by one...
  bench_score.py sacrebleu PREDS REFS        sacrebleu corpus_bleu (13a) and corpus_chrf, as JSON
  bench_score.py rouge PREDS REFS            rouge-score RougeScorer(use_stemmer=True) per pair, means as JSON
"""
import json
import sys


def read(path, field):
    out = {}
    for line in open(path, encoding="utf-8"):
        r = json.loads(line)
        out[r["id"]] = r[field]
    return out


def pairs(preds, refs):
    p, r = read(preds, "prediction"), read(refs, "reference")
    ids = list(p)
    return [p[i] for i in ids], [r[i] for i in ids]


def make(gsm8k, out, n):
    rows = []
    for split in ("train", "test"):
        rows += [json.loads(line) for line in open(f"{gsm8k}/{split}.jsonl", encoding="utf-8")]
    with open(f"{out}/predictions.jsonl", "w", encoding="utf-8") as fp, \
            open(f"{out}/references.jsonl", "w", encoding="utf-8") as fr:
        for k in range(n):
            a, q = rows[k % len(rows)]["answer"], rows[(k + k // len(rows)) % len(rows)]["question"]
            fp.write(json.dumps({"id": k, "prediction": a}, ensure_ascii=False) + "\n")
            fr.write(json.dumps({"id": k, "reference": q}, ensure_ascii=False) + "\n")


def run_sacrebleu(preds, refs):
    import sacrebleu
    hyps, ref = pairs(preds, refs)
    b = sacrebleu.corpus_bleu(hyps, [ref])
    c = sacrebleu.corpus_chrf(hyps, [ref])
    print(json.dumps({"bleu": b.score, "counts": b.counts, "totals": b.totals, "bp": b.bp, "chrf": c.score}))


def run_rouge(preds, refs):
    from rouge_score import rouge_scorer
    types = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    scorer = rouge_scorer.RougeScorer(types, use_stemmer=True)
    hyps, ref = pairs(preds, refs)
    sums = {t: [0.0, 0.0, 0.0] for t in types}
    for h, r in zip(hyps, ref):
        s = scorer.score_multi([r], h)
        for t in types:
            sums[t][0] += s[t].precision
            sums[t][1] += s[t].recall
            sums[t][2] += s[t].fmeasure
    print(json.dumps({t: [x / len(hyps) for x in v] for t, v in sums.items()}))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "pairs":
        make(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif mode == "sacrebleu":
        run_sacrebleu(sys.argv[2], sys.argv[3])
    elif mode == "rouge":
        run_rouge(sys.argv[2], sys.argv[3])
