#!/usr/bin/env python3
"""Conformance fixtures for the dedup stage, made by datatrove itself.

pip install datatrove "xxhash<4" spacy tokenizers (xxhash 4 refuses the str datatrove 0.10.1 passes it).

Builds corpus.jsonl.zst: 323 documents ({"id", "text"}) made of GSM8K train problems (questions and worked
answers, /work/shared/data/gsm8k/train.jsonl or $GSM8K_TRAIN) with planted duplicates: near copies with 1-30% of
their words edited (replaced, dropped or inserted), reordered paragraphs, a different header, and exact copies
differing only in whitespace or compatibility characters; a few documents exercise the tokenizer (contractions,
units after numbers, diacritics, symbols) and some are too short for a 5-gram.

Then it applies the stage's exact rule (NFKC, whitespace collapsed with str.split, the first kept) and runs
datatrove's four MinHash steps with the default MinhashConfig (LocalPipelineExecutor: signatures, 14 bucket
tasks, clustering, filtering) on the rest, and writes expected.json:
- exact_removed: ids removed as exact duplicates (the stage's own rule, stated here for the test);
- near_removed: ids datatrove's MinhashDedupFilter dropped;
- signatures: for each document given to datatrove (in order), its 112 hashes as read back from datatrove's
  bucket files, or null when it wrote none; signatures_sha256: SHA-256 of all of them, little-endian u64s;
- parameters_sha256: SHA-256 of datatrove's permutation parameters a then b (little-endian u64s);
- words: for tricky strings, datatrove's simplify_text and its English word tokenizer's words.

Run: python3 Tests/DedupTests/Fixtures/make_fixtures.py
"""
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import tempfile
import unicodedata

import numpy as np
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                              MinhashDedupFilter, MinhashDedupSignature)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.text import simplify_text
from datatrove.utils.word_tokenizers import load_word_tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.environ.get("GSM8K_TRAIN", "/work/shared/data/gsm8k/train.jsonl")


def edit_words(text, fraction, rng, vocab):
    """`text` with fraction of its words (at least one) edited at random places: replaced by a word of `vocab`
    (half the time), dropped, or preceded by an inserted word (Benchmarks/bench_dedup.py plants the same edits)."""
    words = text.split(" ")
    for _ in range(max(1, int(len(words) * fraction))):
        k = rng.randrange(len(words))
        op = rng.random()
        if op < 0.5:
            words[k] = rng.choice(vocab)
        elif op < 0.75 and len(words) > 10:
            del words[k]
        else:
            words.insert(k, rng.choice(vocab))
    return " ".join(words)


def main():
    rng = random.Random(18)

    rows = [json.loads(line) for line in open(TRAIN)][:2000]
    VOCAB = sorted({w for r in rows[:300] for w in r["question"].split() if w.isalpha()})

    def base_doc(i):
        items = rows[i * 3:i * 3 + 3]
        header = f"Worked problems, set {i + 1}"
        paragraphs = [r["question"] + "\n" + r["answer"] for r in items]
        return header, paragraphs

    def render(header, paragraphs):
        return header + "\n\n" + "\n\n".join(paragraphs)

    docs = []
    for i in range(250):
        header, paragraphs = base_doc(i)
        docs.append((f"base-{i:03d}", render(header, paragraphs)))
    planted = []
    for j, i in enumerate(range(0, 250, 4)):           # 63 near copies of every fourth base document
        header, paragraphs = base_doc(i)
        kind = j % 4
        if kind == 0:
            text = edit_words(render(header, paragraphs), rng.choice([0.01, 0.03, 0.05, 0.1]), rng, VOCAB)
        elif kind == 1:
            text = edit_words(render(header, paragraphs), rng.choice([0.15, 0.2, 0.3]), rng, VOCAB)
        elif kind == 2:
            text = render(header, paragraphs[1:] + paragraphs[:1])
        else:
            text = render(f"Exercise sheet {i + 1} (revised edition)", paragraphs)
        planted.append((f"near-{i:03d}-{['light', 'heavy', 'reordered', 'header'][kind]}", text))
    for i in (7, 77):                                    # a copy of a copy: a cluster of three
        header, paragraphs = base_doc(i)
        planted.append((f"near-{i:03d}-again", edit_words(render(header, paragraphs), 0.02, rng, VOCAB)))
    for i in (3, 33, 133):                               # exact duplicates: whitespace, compatibility forms
        header, paragraphs = base_doc(i)
        planted.append((f"exact-{i:03d}", render(header, paragraphs).replace(" ", "  ").replace("\n\n", "\n \n")
                        .replace("fi", "\ufb01")))
    tricky = [
        "I don't think we can't go 5km or 10 mm; it's 3.5kg and £20, isn't it? Gonna cost $5 © 2024 naïve café.",
        "Ünïcödé façade — résumé, “quotes”, «guillemets» and the 2nd–3rd km² ↑ arrows ★ stars.",
        "Short one.",
        "Five words are just enough",
        "The dog's owner couldn't've known; they'd said it'll rain at 5pm (±2°C) and 12.5% of 1,000,000 people.",
    ]
    for k, t in enumerate(tricky):
        planted.append((f"tricky-{k}", t))
    # Spread the planted documents through the corpus, deterministically.
    for pid, text in planted:
        docs.insert(rng.randrange(len(docs) + 1), (pid, text))
    assert len(docs) >= 300, len(docs)

    def exact_key(text):
        return hashlib.sha256(" ".join(unicodedata.normalize("NFKC", text).split()).encode()).hexdigest()

    seen, exact_removed, survivors = set(), [], []
    for did, text in docs:
        k = exact_key(text)
        if k in seen:
            exact_removed.append(did)
        else:
            seen.add(k)
            survivors.append((did, text))

    work = tempfile.mkdtemp(prefix="dedup-fixtures-")
    try:
        os.makedirs(f"{work}/input")
        with open(f"{work}/input/docs.jsonl", "w") as f:
            for did, text in survivors:
                f.write(json.dumps({"id": did, "text": text}) + "\n")
        config = MinhashConfig()
        reader = JsonlReader(f"{work}/input")
        LocalPipelineExecutor(pipeline=[reader, MinhashDedupSignature(f"{work}/sigs", config=config)], tasks=1,
                              logging_dir=f"{work}/logs/1").run()
        LocalPipelineExecutor(pipeline=[MinhashDedupBuckets(f"{work}/sigs", f"{work}/buckets", config=config)],
                              tasks=config.num_buckets, logging_dir=f"{work}/logs/2").run()
        LocalPipelineExecutor(pipeline=[MinhashDedupCluster(f"{work}/buckets", f"{work}/remove", config=config)],
                              tasks=1, logging_dir=f"{work}/logs/3").run()
        LocalPipelineExecutor(pipeline=[JsonlReader(f"{work}/input"), MinhashDedupFilter(
            f"{work}/remove", exclusion_writer=JsonlWriter(f"{work}/removed", compression=None))],
            tasks=1, logging_dir=f"{work}/logs/4").run()
        near_removed = sorted(json.loads(line)["id"] for name in sorted(os.listdir(f"{work}/removed"))
                              for line in open(f"{work}/removed/{name}"))

        # Signatures back from the bucket files: 8 u64 then the u32 document index per record.
        sigs = [[None] * config.num_buckets for _ in survivors]
        fmt = f"<{config.hashes_per_bucket}QI"
        size = struct.calcsize(fmt)
        for bucket in range(config.num_buckets):
            data = open(f"{work}/sigs/bucket_{bucket:03d}/00000.minhash.sig", "rb").read()
            for off in range(0, len(data), size):
                *hashes, idx = struct.unpack_from(fmt, data, off)
                sigs[idx][bucket] = hashes
        signatures = [None if s[0] is None else [h for part in s for h in part] for s in sigs]
        digest = hashlib.sha256()
        for s in signatures:
            if s is not None:
                digest.update(struct.pack(f"<{len(s)}Q", *s))
        a, b = MinhashDedupSignature(f"{work}/unused", config=config).parameters
        params = hashlib.sha256(a.astype("<u8").tobytes() + b.astype("<u8").tobytes()).hexdigest()
    finally:
        shutil.rmtree(work)

    tokenizer = load_word_tokenizer("en")
    samples = tricky + [
        "cannot dont wont im gonna 0km 0mm 0kg 0m² 0t 0in x©y ©start end® ° 0°c ←→ ★★",
        "ΟΔΟΣ Σίσυφος İstanbul ǅemal ﬁnal ﬀ ½ ² ᾞ",
        "tab\there\u00a0nbsp\u2003em\u3000ideographic\u0085nel\u001cfs",
        # Characters that simplify_text's NFD turns into punctuation spaCy splits (seen in real TeX manuals):
        # U+2329/U+232A angle brackets → U+3008/U+3009, ≠ → "=", the Greek question mark → ";", ≮ ≯ → "<" ">".
        "write \u2329argument\u232a circlewithcenter\u2329center\u232a \u2329point0\u232a x\u2260\u221e "
        "thesis\u037e latex \u226espace\u226f",
    ]
    words = [{"text": t, "simple": simplify_text(t), "words": tokenizer.word_tokenize(simplify_text(t))}
             for t in samples]

    with open(f"{HERE}/corpus.jsonl", "w") as f:
        for did, text in docs:
            f.write(json.dumps({"id": did, "text": text}) + "\n")
    subprocess.run(["zstd", "-q", "-f", "-19", "--rm", f"{HERE}/corpus.jsonl", "-o", f"{HERE}/corpus.jsonl.zst"],
                   check=True)
    expected = {
        "documents": len(docs),
        "exact_removed": exact_removed,
        "near_removed": near_removed,
        "signed": [did for (did, _), s in zip(survivors, signatures) if s is not None],
        "signatures_sha256": digest.hexdigest(),
        "parameters_sha256": params,
        "first_signatures": signatures[:12],
        "words": words,
    }
    with open(f"{HERE}/expected.json", "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{len(docs)} documents: {len(exact_removed)} exact, {len(near_removed)} near duplicates removed "
          f"(datatrove {config})")

if __name__ == "__main__":  # the executor's worker processes import this file
    main()
