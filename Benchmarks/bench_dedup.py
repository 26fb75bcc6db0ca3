#!/usr/bin/env python3
"""Dedup benchmark helper (see bench_dedup.sh).

  bench_dedup.py make OUT_DIR PDF_DIR GSM8K_TRAIN N
      N documents: the pages of the PDFs (pdftotext, one document a page, in file-name order, as many as N/1.1
      base documents need) and GSM8K train problems (two a document) when the PDFs have fewer pages, with near copies of every tenth planted (1-10% of the words replaced, dropped or inserted; or
      the paragraphs reordered) and a few exact copies. Writes OUT_DIR/w/ingest/{pages,documents}.jsonl.zst for
      `pipeline dedup` and OUT_DIR/input/{0,1}.jsonl (the same documents in order, halved) for datatrove.
  bench_dedup.py time COMMAND...
      Runs COMMAND; prints its wall and CPU seconds (perf stat task-clock, child processes included).
  bench_dedup.py ref OUT_DIR
      The stage's exact rule (NFKC, whitespace collapsed, first kept), then datatrove's four MinHash steps with
      the default MinhashConfig (LocalPipelineExecutor, 2 workers: 2 signature tasks, 14 bucket tasks, the
      cluster, 2 filter tasks) on the rest; writes the wall seconds of the four steps to OUT_DIR/ref_seconds.txt
      and the removed document ids, sorted, to OUT_DIR/ref.txt.
"""
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata


def zstd_write(path, lines):
    raw = path.removesuffix(".zst")
    with open(raw, "w") as f:
        for line in lines:
            f.write(line + "\n")
    subprocess.run(["zstd", "-q", "-f", "--rm", raw, "-o", path], check=True)


def make(out, pdf_dir, train, n):
    # The fixture's word edits, planted the same way (importing it needs datatrove: not at the top, so that
    # `time` runs without the reference tools).
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "DedupTests",
                                    "Fixtures"))
    from make_fixtures import edit_words
    rng = random.Random(7)
    texts = []
    for name in sorted(os.listdir(pdf_dir)):
        if len(texts) >= int(n / 1.1):
            break
        if name.endswith(".pdf"):
            p = subprocess.run(["pdftotext", "-enc", "UTF-8", os.path.join(pdf_dir, name), "-"], capture_output=True)
            if p.returncode != 0:   # a broken manual: skipped, as ingest would
                continue
            text = p.stdout.decode("utf-8", errors="replace")
            texts += [p for p in text.split("\f") if len(p.split()) >= 20]
    pdf_pages = min(len(texts), int(n / 1.1))
    rows = [json.loads(line) for line in open(train)]
    for i in range(0, len(rows) - 1, 2):
        texts.append("\n\n".join(r["question"] + "\n" + r["answer"] for r in rows[i:i + 2]))
    base = texts[: int(n / 1.1)]
    with open(f"{out}/pdf_pages.txt", "w") as f:
        f.write(f"{pdf_pages}\n")
    vocab = sorted({w for t in base[:200] for w in t.split() if w.isalpha()})
    docs = []
    for i, t in enumerate(base):
        docs.append(t)
        if i % 10 == 3:
            if i % 20 == 3:
                docs.append(edit_words(t, rng.choice([0.01, 0.03, 0.05, 0.1]), rng, vocab))
            else:
                paragraphs = t.split("\n\n")
                docs.append("\n\n".join(paragraphs[1:] + paragraphs[:1]) if len(paragraphs) > 1 else t + " ")
        if i % 200 == 50:
            docs.append(t.replace(" ", "  "))
    docs = docs[:n]
    os.makedirs(f"{out}/w/ingest", exist_ok=True)
    os.makedirs(f"{out}/input", exist_ok=True)
    ids = [f"{i:016x}" for i in range(len(docs))]
    zstd_write(f"{out}/w/ingest/pages.jsonl.zst", (json.dumps({"doc_id": d, "page": 0, "source": f"doc{d}.txt",
                                                              "text": t}, sort_keys=True)
                                                  for d, t in zip(ids, docs)))
    zstd_write(f"{out}/w/ingest/documents.jsonl.zst", (json.dumps({
        "doc_id": d, "source": f"doc{d}.txt", "sha256": "", "bytes": len(t), "pages": 1, "title": None,
        "author": None, "created": None, "status": "ok", "error": None}, sort_keys=True) for d, t in zip(ids, docs)))
    half = (len(docs) + 1) // 2
    for part, rng_ in ((0, range(0, half)), (1, range(half, len(docs)))):
        with open(f"{out}/input/{part}.jsonl", "w") as f:
            for i in rng_:
                f.write(json.dumps({"id": ids[i], "text": docs[i]}) + "\n")
    print(f"{len(docs)} documents, {sum(len(t) for t in docs)} characters")


def ref(out):
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                                  MinhashDedupFilter, MinhashDedupSignature)
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    seen, exact, kept = set(), [], {0: [], 1: []}
    for part in (0, 1):
        for line in open(f"{out}/input/{part}.jsonl"):
            d = json.loads(line)
            k = hashlib.sha256(" ".join(unicodedata.normalize("NFKC", d["text"]).split()).encode()).digest()
            if k in seen:
                exact.append(d["id"])
            else:
                seen.add(k)
                kept[part].append(line)
    os.makedirs(f"{out}/dt/input", exist_ok=True)
    for part in (0, 1):
        with open(f"{out}/dt/input/{part}.jsonl", "w") as f:
            f.writelines(kept[part])
    d, config = f"{out}/dt", MinhashConfig()
    start = time.time()
    LocalPipelineExecutor(pipeline=[JsonlReader(f"{d}/input"), MinhashDedupSignature(f"{d}/sigs", config=config)],
                          tasks=2, workers=2, logging_dir=f"{d}/logs/1").run()
    LocalPipelineExecutor(pipeline=[MinhashDedupBuckets(f"{d}/sigs", f"{d}/buckets", config=config)],
                          tasks=config.num_buckets, workers=2, logging_dir=f"{d}/logs/2").run()
    LocalPipelineExecutor(pipeline=[MinhashDedupCluster(f"{d}/buckets", f"{d}/remove", config=config)],
                          tasks=1, logging_dir=f"{d}/logs/3").run()
    LocalPipelineExecutor(pipeline=[JsonlReader(f"{d}/input"), MinhashDedupFilter(
        f"{d}/remove", exclusion_writer=JsonlWriter(f"{d}/removed", compression=None))],
        tasks=2, workers=2, logging_dir=f"{d}/logs/4").run()
    seconds = time.time() - start
    near = [json.loads(line)["id"] for name in sorted(os.listdir(f"{d}/removed"))
            for line in open(f"{d}/removed/{name}")]
    with open(f"{out}/ref.txt", "w") as f:
        f.writelines(i + "\n" for i in sorted(exact + near))
    with open(f"{out}/ref_seconds.txt", "w") as f:
        f.write(f"{seconds}\n")


def timed(argv):
    """Runs argv (its output to stderr); prints its wall seconds and the CPU seconds of it and every process it
    started (perf stat's task-clock, which follows the executor's worker processes; -1 without perf)."""
    start = time.time()
    if shutil.which("perf"):
        with tempfile.NamedTemporaryFile("r", suffix=".perf") as f:
            subprocess.run(["perf", "stat", "-x,", "-e", "task-clock", "-o", f.name] + argv, check=True,
                           stdout=sys.stderr)
            wall = time.time() - start
            msec = [line.split(",")[0] for line in f.read().splitlines() if "task-clock" in line]
            cpu = float(msec[0]) / 1000 if msec else -1
    else:
        subprocess.run(argv, check=True, stdout=sys.stderr)
        wall, cpu = time.time() - start, -1
    print(wall, cpu)


if __name__ == "__main__":  # the executor's worker processes import this file
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif sys.argv[1] == "time":
        timed(sys.argv[2:])
    else:
        ref(sys.argv[2])
