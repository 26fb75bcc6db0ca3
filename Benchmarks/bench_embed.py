#!/usr/bin/env python3
"""Embedding and dense-search benchmark (run by bench_embed.sh).

1. Embedding: the same 2,000 real ~1024-character chunks (GSM8K problems and pdftotext output of the shared PDFs,
   split by LangChain's RecursiveCharacterTextSplitter(1024, 0)) through sentence-transformers (torch CPU,
   2 threads) and through `pipeline bench embed` (a hidden developer command) (2 cores); encode time only (model load apart).
   Prints chunks/s, tokens/s, the ratio, and the max-abs difference of the vectors.
2. Dense search: `pipeline bench dense N` for N = 10k and 100k 384-d vectors: median exact top-4
   latency against the time memcpy needs for the same bytes; numpy (matrix @ query + argpartition) alongside.
"""
import json, os, subprocess, sys, time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.environ.get("BIN", os.path.join(ROOT, ".build/release/pipeline"))
MODEL = os.environ.get("MODEL", os.path.join(ROOT, "models/all-MiniLM-L6-v2"))
SHARED = os.environ.get("PIPELINE_SHARED_DATA", os.path.join(ROOT, "../shared/data"))
TMP = os.path.join(os.environ.get("TMPDIR", "/tmp"), "pipeline-bench-embed")
N = int(os.environ.get("N_CHUNKS", "2000"))
THREADS = 2
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bounds  # noqa: E402


def make_chunks():
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    split = RecursiveCharacterTextSplitter(chunk_size=1024, chunk_overlap=0)
    chunks = []
    pdfs = os.path.join(SHARED, "pdfs")
    if os.path.isdir(pdfs):
        for name in sorted(os.listdir(pdfs)):
            text = subprocess.run(["pdftotext", os.path.join(pdfs, name), "-"], capture_output=True, text=True).stdout
            chunks += [c for c in split.split_text(text) if len(c) >= 900]
    chunks = chunks[: N // 2]
    gsm = os.path.join(SHARED, "gsm8k/train.jsonl")
    with open(gsm) as f:
        rows = [json.loads(l) for l in f]
    text = "\n".join(r["question"] + "\n" + r["answer"] for r in rows)  # lines merge into ~1024-char chunks
    chunks += [c for c in split.split_text(text) if len(c) >= 900][: N - len(chunks)]
    assert len(chunks) == N, len(chunks)
    return chunks


def main():
    import numpy as np
    os.makedirs(TMP, exist_ok=True)
    chunks = make_chunks()
    path = os.path.join(TMP, "chunks.jsonl")
    with open(path, "w") as f:
        for i, c in enumerate(chunks):
            f.write(json.dumps({"chunk_id": f"b{i}", "doc_id": "bench", "source": "bench", "page": None,
                                "start_index": 0, "text": c}) + "\n")
    print(f"embedding: {len(chunks)} chunks, mean {sum(map(len, chunks)) / len(chunks):.0f} characters")

    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(THREADS))
    out = subprocess.run([BIN, "bench", "embed", "--model", MODEL, path,
                          "--vectors-out", os.path.join(TMP, "ours.f32")], capture_output=True, text=True, env=env, check=True)
    ours = json.loads(out.stdout)
    ours_v = np.fromfile(os.path.join(TMP, "ours.f32"), dtype="<f4").reshape(len(chunks), -1)

    import torch
    torch.set_num_threads(THREADS)
    from sentence_transformers import SentenceTransformer
    t = time.perf_counter()
    model = SentenceTransformer(MODEL, device="cpu")
    load = time.perf_counter() - t
    model.encode(chunks[:8])  # warm-up
    t = time.perf_counter()
    ref_v = model.encode(chunks, batch_size=32, convert_to_numpy=True)
    ref_s = time.perf_counter() - t
    tokens = sum(len(ids) for ids in model.tokenizer(chunks, truncation=True, max_length=model.max_seq_length)["input_ids"])
    assert tokens == ours["tokens"], (tokens, ours["tokens"])
    diff = float(np.abs(ours_v - ref_v).max())
    print(f"  sentence-transformers {torch.__version__} ({THREADS} threads): {ref_s:.2f} s, "
          f"{len(chunks) / ref_s:.1f} chunks/s, {tokens / ref_s:.0f} tokens/s (load {load:.2f} s)")
    print(f"  pipeline (OpenBLAS, {THREADS} cores):      {ours['embed_seconds']:.2f} s, "
          f"{len(chunks) / ours['embed_seconds']:.1f} chunks/s, {tokens / ours['embed_seconds']:.0f} tokens/s "
          f"(load {ours['load_seconds']:.2f} s)")
    print(f"  speed-up {ref_s / ours['embed_seconds']:.2f}x; {tokens} tokens; max |ours - reference| = {diff:.2e}")
    peak = bounds.peak(BIN, THREADS)
    bound = ours["flops"] / (peak["sgemm_gflops"] * 1e9)
    print(f"  bound {bound:.2f} s ({ours['flops'] / 1e9:.1f} GFLOP without padding over the system OpenBLAS's "
          f"{peak['sgemm_gflops']:.1f} GFLOP/s, kernel {peak['kernel']}): pipeline {100 * bound / ours['embed_seconds']:.0f}%"
          f" of it, sentence-transformers {100 * bound / ref_s:.0f}%")

    print("dense search (exact top-4 over 384-d float32 vectors, median of 31 queries):")
    for rows in (10_000, 100_000):
        out = subprocess.run([BIN, "bench", "dense", str(rows), "-k", "4"], capture_output=True, text=True,
                             env=env, check=True)
        r = json.loads(out.stdout)
        m = np.random.default_rng(0).standard_normal((rows, 384), dtype=np.float32)
        q = m[123].copy()
        times = []
        for _ in range(31):
            t = time.perf_counter()
            s = m @ q
            top = np.argpartition(-s, 4)[:4]
            top = top[np.argsort(-s[top])]
            times.append(time.perf_counter() - t)
        times.sort()
        print(f"  {rows:>7} vectors ({r['bytes'] / 1e6:.1f} MB): pipeline {r['search_ms_median']:.3f} ms "
              f"({r['search_GBps']:.1f} GB/s), memcpy of the same bytes {r['memcpy_ms_best']:.3f} ms "
              f"({r['memcpy_GBps']:.1f} GB/s) -> {100 * r['fraction_of_memcpy']:.0f}% of the memcpy bound; "
              f"numpy {1e3 * times[15]:.3f} ms")


if __name__ == "__main__":
    main()
