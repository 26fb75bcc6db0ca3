"""Writes pdftotext_papers.json: what poppler-utils says about the sample PDFs in data/papers, for
PDFConformanceTests (which then needs neither poppler-utils nor ../shared at test time).

Usage (from the repository root): python3 Tests/IngestTests/Fixtures/make_pdftotext_fixtures.py
Per file: each page's text from `pdftotext -f N -l N -enc UTF-8 FILE -` (its default reading-order mode), and
Title, Author, CreationDate, Pages from `pdfinfo -isodates` (TZ=UTC), plus the poppler-utils version.
"""
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PAPERS = os.path.join(ROOT, "data", "papers")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pdftotext_papers.json")
ENV = dict(os.environ, TZ="UTC")


def run(*args):
    return subprocess.run(args, capture_output=True, check=True, env=ENV).stdout.decode("utf-8")


def info(path):
    fields = {}
    for line in run("pdfinfo", "-isodates", path).splitlines():
        key, sep, value = line.partition(":")
        if sep and key in ("Title", "Author", "CreationDate", "Pages") and key not in fields:
            fields[key] = value.strip()
    return fields


def main():
    version = subprocess.run(["pdftotext", "-v"], capture_output=True, text=True).stderr.splitlines()[0]
    files = {}
    for name in sorted(os.listdir(PAPERS)):
        if not name.endswith(".pdf"):
            continue
        path = os.path.join(PAPERS, name)
        meta = info(path)
        pages = [run("pdftotext", "-f", str(n), "-l", str(n), "-enc", "UTF-8", path, "-")
                 for n in range(1, int(meta["Pages"]) + 1)]
        files[name] = {"pdfinfo": meta, "pages": pages}
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump({"tool": version, "files": files}, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")
    print(OUT, sum(len(v["pages"]) for v in files.values()), "pages")


if __name__ == "__main__":
    main()
