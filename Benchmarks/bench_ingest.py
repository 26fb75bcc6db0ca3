"""Reference PDF text extractors for Benchmarks/bench_ingest.sh: PyMuPDF and pypdf, each over every PDF of a
folder in a pool of N processes (as `pipeline ingest --jobs N` has N workers), text of every page extracted.

Usage: bench_ingest.py pymupdf|pypdf DIR JOBS
Prints one line: seconds pages characters failures (seconds: wall time of the whole pass, pool start included).
"""
import os
import sys
import time
from multiprocessing import Pool


def pymupdf_file(path):
    import pymupdf
    pages = chars = 0
    try:
        with pymupdf.open(path) as doc:
            for page in doc:
                chars += len(page.get_text())
                pages += 1
        return pages, chars, 0
    except Exception:
        return pages, chars, 1


def pypdf_file(path):
    import logging
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    import pypdf
    pages = chars = 0
    try:
        reader = pypdf.PdfReader(path)
        for page in reader.pages:
            chars += len(page.extract_text())
            pages += 1
        return pages, chars, 0
    except Exception:
        return pages, chars, 1


def main():
    tool, folder, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(".pdf"))
    fn = {"pymupdf": pymupdf_file, "pypdf": pypdf_file}[tool]
    start = time.perf_counter()
    with Pool(jobs) as pool:
        results = pool.map(fn, files, chunksize=1)
    seconds = time.perf_counter() - start
    print(f"{seconds:.3f} {sum(r[0] for r in results)} {sum(r[1] for r in results)} {sum(r[2] for r in results)}")


if __name__ == "__main__":
    main()
