#!/usr/bin/env python3
"""Chunking benchmark helper (see bench_chunk.sh).

  bench_chunk.py pages OUT.jsonl.zst PDF_DIR N      real PDF pages (pdftotext, split at form feeds), cycled to N pages
  bench_chunk.py flat OUT.jsonl.zst N_CHARS          one page of N_CHARS random letters (no separator at all)
  bench_chunk.py ref IN.jsonl.zst OUT.jsonl SIZE OVERLAP
      LangChain RecursiveCharacterTextSplitter + split_documents per page, records written as `pipeline chunk`
      writes them (json.dumps sort_keys, ensure_ascii=False), so the two outputs compare byte for byte.
"""
import io
import json
import os
import random
import subprocess
import sys
import time

import zstandard


def write_pages(path, pages):
    with open(path, "wb") as f, zstandard.ZstdCompressor(level=3).stream_writer(f) as w:
        for p in pages:
            w.write((json.dumps(p, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))


def read_pages(path):
    with open(path, "rb") as f:
        text = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(f), encoding="utf-8")
        return [json.loads(line) for line in text if line.strip()]


def main():
    mode = sys.argv[1]
    if mode == "pages":
        out, pdf_dir, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
        docs = []
        for name in sorted(os.listdir(pdf_dir)):
            if not name.endswith(".pdf"):
                continue
            text = subprocess.run(["pdftotext", "-enc", "UTF-8", os.path.join(pdf_dir, name), "-"],
                                  check=True, capture_output=True).stdout.decode("utf-8")
            pages = text.split("\f")
            if pages and pages[-1] == "":
                pages.pop()
            docs.append((name, pages))
        out_pages = []
        copy = 0
        while len(out_pages) < n:
            for name, pages in docs:
                doc_id = f"{name[:-4]}#{copy}"
                for k, t in enumerate(pages):
                    out_pages.append({"doc_id": doc_id, "source": name, "page": k, "text": t})
            copy += 1
        # Cut at a document boundary at or after n pages.
        write_pages(out, out_pages)
        print(f"{len(out_pages)} pages, {sum(len(p['text']) for p in out_pages)} characters")
    elif mode == "flat":
        out, n = sys.argv[2], int(sys.argv[3])
        rng = random.Random(7)
        text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))
        write_pages(out, [{"doc_id": "flat", "source": "flat.txt", "page": 0, "text": text}])
    elif mode == "ref":
        from langchain_core.documents import Document
        from langchain_text_splitters import RecursiveCharacterTextSplitter
        src, out, size, overlap = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        pages = read_pages(src)
        docs = [Document(page_content=p["text"], metadata={"doc_id": p["doc_id"], "source": p["source"],
                                                           "page": p["page"]}) for p in pages]
        start = time.perf_counter()
        splitter = RecursiveCharacterTextSplitter(separators=["\n\n", "\n", " ", ""], chunk_size=size,
                                                  chunk_overlap=overlap, add_start_index=True)
        chunks = splitter.split_documents(docs)
        seconds = time.perf_counter() - start
        counters = {}
        with open(out, "w", encoding="utf-8") as f:
            for c in chunks:
                m = c.metadata
                key = (m["doc_id"], m["page"])
                n = counters.get(key, 0)
                counters[key] = n + 1
                f.write(json.dumps({"chunk_id": f"{m['doc_id']}:{m['page']}:{n}", "doc_id": m["doc_id"],
                                    "page": m["page"], "source": m["source"], "start_index": m["start_index"],
                                    "text": c.page_content}, ensure_ascii=False, sort_keys=True) + "\n")
        print(f"{seconds:.4f}")
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
