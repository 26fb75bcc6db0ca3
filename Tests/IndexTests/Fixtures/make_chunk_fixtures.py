#!/usr/bin/env python3
"""Makes chunk_cases.json.zst: LangChain RecursiveCharacterTextSplitter results for the Swift chunker tests.

Run with the reference venv:  /work/main/.venv-bench/bin/python Tests/IndexTests/Fixtures/make_chunk_fixtures.py

Each case is split the way `pipeline chunk` must: RecursiveCharacterTextSplitter(separators=["\\n\\n", "\\n", " ",
""], chunk_size, chunk_overlap, add_start_index=True).split_documents([Document(text)]). The fixture records the
input text, size, overlap and the expected [chunk text, start_index] list of every case.

Texts: pages of real PDFs (pdftotext, pages split at form feeds) from /work/shared/data/pdfs, GSM8K answers from
/work/shared/data/gsm8k/train.jsonl, and randomized texts (seeded): word soups with every kind of separator run,
whitespace-heavy and separator-free texts, CRLF, emoji/astral/combining marks, leading/trailing whitespace,
repeated lines (where `find` meets earlier duplicates), and tiny sizes.
"""
import json
import os
import random
import subprocess
import sys

import zstandard
from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = "/work/shared/data"
SEPARATORS = ["\n\n", "\n", " ", ""]


def expected(text, size, overlap):
    splitter = RecursiveCharacterTextSplitter(separators=SEPARATORS, chunk_size=size, chunk_overlap=overlap,
                                              add_start_index=True)
    docs = splitter.split_documents([Document(page_content=text)])
    return [[d.page_content, d.metadata["start_index"]] for d in docs]


def pdf_pages(name):
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", os.path.join(DATA, "pdfs", name), "-"],
                         check=True, capture_output=True).stdout.decode("utf-8")
    pages = out.split("\f")
    if pages and pages[-1] == "":
        pages.pop()
    return pages


def random_word(rng):
    kind = rng.random()
    if kind < 0.6:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 12)))
    if kind < 0.7:
        return "".join(rng.choice("ÄäÖöÜüßéèêçñøå") for _ in range(rng.randint(1, 6)))
    if kind < 0.78:
        return rng.choice(["👍", "👍🏽", "👨‍👩‍👧", "🇩🇪", "𝔘𝔫𝔦", "𐍈", "😀😀"]) * rng.randint(1, 3)
    if kind < 0.85:
        return rng.choice(["e\u0301", "a\u0308\u0323", "n\u0303", "\u0301x", "o\u0302\u0300"]) * rng.randint(1, 3)
    if kind < 0.92:
        return "".join(rng.choice("中文日本語한국어") for _ in range(rng.randint(1, 8)))
    return "".join(rng.choice("0123456789.,;:!?()[]{}\"'-/\\") for _ in range(rng.randint(1, 6)))


SEPS = [" ", " ", " ", " ", "\n", "\n\n", "\n\n\n", "\n\n\n\n", "\r\n", "\r\n\r\n", "  ", "\t", " \n", "\n ",
        "\u00a0", "\u3000", "\u2028", "\x0b", "\x0c", "\x1c", "\x85", " \n\n ", "\n \n"]


def word_soup(rng, n_words, sep_weights=None):
    parts = []
    for _ in range(n_words):
        parts.append(random_word(rng))
        parts.append(rng.choice(SEPS))
    return "".join(parts)


def random_text(rng, i):
    kind = i % 10
    if kind == 0:  # separator-free
        alphabet = rng.choice(["ab", "a", "abc", "xyz\u00e9", "😀a", "abcdefghij"])
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4000)))
    if kind == 1:  # whitespace-heavy
        return "".join(rng.choice([" ", "\n", "\n\n", "\t", "x", "yy", "\r\n", "\u3000", " \n\n\n"])
                       for _ in range(rng.randint(1, 1500)))
    if kind == 2:  # leading/trailing whitespace around a soup
        return rng.choice(["", " ", "\n\n", "  \n ", "\t\n"]) * rng.randint(1, 5) + word_soup(rng, rng.randint(0, 300)) \
            + rng.choice(["", " ", "\n\n\n", " \n", "\u2028"]) * rng.randint(1, 5)
    if kind == 3:  # repeated lines: find() meets earlier duplicates
        line = rng.choice(["the same line", "ab ab ab", "x", "Lorem ipsum dolor sit amet", "a a"])
        sep = rng.choice(["\n", "\n\n", " ", "\r\n", ""])
        return sep.join([line] * rng.randint(1, 300))
    if kind == 4:  # long words (longer than size: recursion down to single characters)
        return " ".join("".join(rng.choice("abcdef") for _ in range(rng.randint(1, 400)))
                        for _ in range(rng.randint(1, 20)))
    if kind == 5:  # paragraphs
        return "\n\n".join(word_soup(rng, rng.randint(1, 60)) for _ in range(rng.randint(1, 12)))
    if kind == 6:  # CRLF documents
        return "\r\n".join(" ".join(random_word(rng) for _ in range(rng.randint(0, 15))) for _ in range(rng.randint(1, 80)))
    if kind == 7:  # runs of newlines
        return "".join(rng.choice(["\n" * rng.randint(1, 7), random_word(rng), " "]) for _ in range(rng.randint(1, 400)))
    if kind == 8:  # emoji / astral / combining heavy, few separators
        return "".join(rng.choice(["👍🏽", "e\u0301", "𝔘", "中", "a", " ", "\n", "👨‍👩‍👧"]) for _ in range(rng.randint(1, 1500)))
    return word_soup(rng, rng.randint(0, 500))


def random_params(rng):
    r = rng.random()
    if r < 0.35:
        size = rng.randint(8, 64)
    elif r < 0.7:
        size = rng.randint(65, 300)
    else:
        size = rng.randint(301, 1024)
    o = rng.random()
    if o < 0.15:
        overlap = 0
    elif o < 0.25:
        overlap = size - 1
    else:
        overlap = rng.randint(0, size - 1)
    return size, overlap


def main():
    rng = random.Random(20261123)
    cases = []

    def add(name, text, size, overlap):
        cases.append({"name": name, "text": text, "size": size, "overlap": overlap,
                      "chunks": expected(text, size, overlap)})

    # Real PDF pages.
    have_data = os.path.isdir(DATA)
    if not have_data:
        sys.exit(f"{DATA} is missing: the real texts come from it")
    for name, configs in [("apa7__samples__longsample.pdf", [(1024, 128), (300, 50)]),
                          ("latex__acmconf__acmconf.pdf", [(1024, 128), (100, 0), (512, 511)]),
                          ("generic__babel-english__english.pdf", [(200, 20)])]:
        pages = pdf_pages(name)[:6]
        for size, overlap in configs:
            for k, page in enumerate(pages):
                add(f"pdf {name} page {k} size {size} overlap {overlap}", page, size, overlap)
        # The whole document joined as --unit document does.
        add(f"pdf {name} document size 1024 overlap 128", "\n".join(pages), 1024, 128)

    # GSM8K answers.
    with open(os.path.join(DATA, "gsm8k", "train.jsonl"), encoding="utf-8") as f:
        answers = [json.loads(line)["answer"] for _, line in zip(range(60), f)]
    for k, answer in enumerate(answers):
        size, overlap = rng.choice([(64, 8), (100, 20), (32, 0), (128, 64), (48, 47)])
        add(f"gsm8k answer {k}", answer, size, overlap)

    # Randomized texts.
    for i in range(360):
        size, overlap = random_params(rng)
        add(f"random {i} kind {i % 10}", random_text(rng, i), size, overlap)
    # Tiny sizes (1..7), where single characters are emitted unstripped.
    for i in range(24):
        size = rng.randint(1, 7)
        add(f"tiny {i}", random_text(rng, i)[:300], size, rng.randint(0, size - 1))
    # Fixed edge cases.
    for text in ["", " ", "\n\n", "a", "a\n\nb", "  a  ", "\n\n\n\n\n", "a\r\n\r\nb"]:
        add(f"edge {text!r}", text, 8, 2)

    data = json.dumps({"cases": cases}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    out = os.path.join(HERE, "chunk_cases.json.zst")
    with open(out, "wb") as f:
        f.write(zstandard.ZstdCompressor(level=19).compress(data))
    print(f"{len(cases)} cases, {sum(len(c['chunks']) for c in cases)} chunks, {len(data)} bytes JSON, "
          f"{os.path.getsize(out)} bytes compressed → {out}")


if __name__ == "__main__":
    main()
