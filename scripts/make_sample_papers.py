"""Writes the small sample PDFs in data/papers/ that `make demo` ingests (and the ingest tests read).

Usage: .venv-bench/bin/python scripts/make_sample_papers.py [out_dir]   (PyMuPDF; default out_dir data/papers)

Three short documents, all text written for this project:
  byte-level-tokenizers.pdf  4 pages, Helvetica: a running head and a page-number foot on every page, and
                             words split by a hyphen at line ends (for --strip-headers and --dehyphenate)
  ligatures-and-forms.pdf    2 pages, DejaVu Sans (subset, embedded): ligature characters (U+FB00-FB04),
                             symbols such as … ™ Ⅻ, circled and superscript digits (for NFKC)
  two-columns.pdf            2 pages, Times: two text columns per page (reading order)
"""
import os
import sys

import pymupdf

OUT = sys.argv[1] if len(sys.argv) > 1 else "data/papers"
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def metadata(doc, title, author, date):
    doc.set_metadata({
        "title": title, "author": author, "creator": "make_sample_papers.py", "producer": "PyMuPDF",
        "creationDate": date, "modDate": date,
    })


def save(doc, name):
    path = os.path.join(OUT, name)
    doc.save(path, garbage=4, deflate=True, no_new_id=True)
    print(path, os.path.getsize(path), "bytes")


def tokenizers():
    pages = [
        ["1  Why bytes",
         "A byte-level tokenizer never meets an unknown character: every",
         "string is a sequence of bytes, and the first 256 tokens of the vo-",
         "cabulary are those bytes. Merges learned from a training corpus",
         "then join frequent neighbours into longer tokens, so common words",
         "become one token while rare ones fall back to smaller pieces."],
        ["2  Pre-tokenization",
         "Before merging, the text is split into words by a regular expres-",
         "sion that keeps a leading space with the word it precedes. Merges",
         "never cross these boundaries, which keeps the vocabulary from fill-",
         "ing up with fragments such as 'the c' or 'ing a'."],
        ["3  Training",
         "Training counts every adjacent pair of tokens in the pre-tokenized",
         "words, merges the most frequent pair, and repeats. Ties are broken",
         "by the order in which pairs were first seen, so that two runs on the",
         "same corpus produce the same merges, byte for byte."],
        ["4  Encoding",
         "Encoding applies the learned merges in their order of rank. A cache",
         "of whole words makes repeated words cheap; the remaining cost lies",
         "in the rare words, which are split into many small tokens and han-",
         "dled one merge at a time."],
    ]
    doc = pymupdf.open()
    for n, lines in enumerate(pages, start=1):
        page = doc.new_page(width=420, height=595)
        page.insert_text((40, 40), "A Note on Byte-Level Tokenizers", fontname="helv", fontsize=9)
        y = 90
        for i, line in enumerate(lines):
            page.insert_text((40, y), line, fontname="hebo" if i == 0 else "helv", fontsize=13 if i == 0 else 10.5)
            y += 26 if i == 0 else 15
        page.insert_text((200, 560), str(n), fontname="helv", fontsize=9)
    metadata(doc, "A Note on Byte-Level Tokenizers", "Pipeline Sample Data", "D:20260105093000Z")
    save(doc, "byte-level-tokenizers.pdf")


def ligatures():
    pages = [
        ["Ligatures and compatibility forms",
         "Typeset text often stores ligatures as single characters: the ﬁrst",
         "ﬂoor, an eﬀective oﬃce, a baﬄing raﬄe. NFKC expands each of them",
         "into its letters, so a search for 'office' ﬁnds the word again.",
         "The ellipsis … becomes three dots, the sign ™ becomes TM, and the",
         "Roman numeral Ⅻ becomes the letters XII."],
        ["Numbers and symbols",
         "Circled digits ① ② ③ become 1 2 3, superscripts in x² + y² = z²",
         "become ordinary digits, and the fraction ½ becomes 1⁄2.",
         "Accented letters such as café, naïve and Ångström keep their accents."],
    ]
    doc = pymupdf.open()
    for lines in pages:
        page = doc.new_page(width=420, height=595)
        page.insert_font(fontname="dejavu", fontfile=DEJAVU)
        y = 70
        for i, line in enumerate(lines):
            page.insert_text((40, y), line, fontname="dejavu", fontsize=13 if i == 0 else 10)
            y += 26 if i == 0 else 15
    doc.subset_fonts()
    metadata(doc, "Ligatures and Compatibility Forms", "Pipeline Sample Data", "D:20260212141500+01'00'")
    save(doc, "ligatures-and-forms.pdf")


def two_columns():
    left = ["Left column. Reading order matters",
            "when a page holds two columns of text:",
            "an extractor that reads straight across",
            "the page mixes the lines of both.",
            "poppler groups the words into blocks",
            "and emits this column first."]
    right = ["Right column. This text comes after",
             "the whole left column, although its",
             "lines sit at the same heights as the",
             "lines on the left. A chunker working",
             "on the result then sees whole",
             "sentences rather than fragments."]
    doc = pymupdf.open()
    for n in range(2):
        page = doc.new_page(width=595, height=420)
        page.insert_text((40, 40), f"Two Columns, page {n + 1}", fontname="tibo", fontsize=14)
        for col, lines in ((40, left), (310, right)):
            y = 80
            for line in lines:
                page.insert_text((col, y), line, fontname="tiro", fontsize=10.5)
                y += 14
    metadata(doc, "Two Columns", "Pipeline Sample Data", "D:20260301080000Z")
    save(doc, "two-columns.pdf")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    tokenizers()
    ligatures()
    two_columns()
