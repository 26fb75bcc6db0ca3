"""Makes the decontamination test fixtures (run from this folder; commit what it writes).

Usage: python make_fixtures.py   (needs `pip install lm-eval --no-deps pymupdf`; lm-eval's janitor needs no
       other dependency — it prints a warning that its C++ module is absent and uses its Python code)

- janitor.json: texts and their word n-grams as lm-evaluation-harness's decontamination code forms them
  (`Janitor().normalize_string`, then `word_ngrams`), for n = 1, 3 and 13: the reference our normalisation
  and n-gram extraction must equal.
- leak.pdf: a two-page PDF (PyMuPDF, Helvetica); page 1 is clean prose, page 2 has the first question of
  eval.jsonl (three rows of the GSM8K test split, MIT licence) pasted verbatim into a paragraph.
"""
import json

import pymupdf
from lm_eval.decontamination.janitor import Janitor, word_ngrams

TEXTS = [
    "Hello, World! It's e.g. 3-4 \u00dcn\u00efcode",
    "Janet\u2019s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins",
    "She makes 9 * 2 = $<<9*2=18>>18 every day at the farmer\u2019s market.\n#### 18",
    "tabs\tand\nnew\r\nlines\x0bvertical\x0cform\x1cfile\x1dgroup\x1erecord\x1funit end",
    "no\u00a0break\u2003em\u3000ideographic\u2028line\u0085next but\u200bzero-width stays",
    "CAPS \u00c4\u00d6\u00dc stay, \u0130stanbul; ascii Only lower-cased: ABCxyz",
    " -- ... !!! (punctuation only words vanish) ??? ",
    "\"Quoted\" [brackets] {braces} back\\slash under_score tilde~ caret^ pipe| at@ hash# percent% amp&",
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen",
    "",
]

janitor = Janitor()
cases = []
for text in TEXTS:
    normalized = janitor.normalize_string(text)
    cases.append({"text": text, "words": normalized.split(),
                  "ngrams": {str(n): list(word_ngrams(normalized, n)) for n in (1, 3, 13)}})
with open("janitor.json", "w") as f:
    json.dump(cases, f, ensure_ascii=False, indent=1)
    f.write("\n")

question = json.loads(open("eval.jsonl").readline())["question"]
pages = [
    "Notes on counting. A farm keeps records of what it produces each day and what it sells at the market. "
    "The records are plain: a date, a count and a price. Nothing on this page comes from an exam.",
    "An exercise we found in a workbook, copied here as it was printed: " + question
    + " The workbook gives the answer on its last page.",
]
doc = pymupdf.open()
for text in pages:
    page = doc.new_page()
    page.insert_textbox(pymupdf.Rect(72, 72, 523, 770), text, fontname="helv", fontsize=11)
doc.set_metadata({"title": "Leak", "creator": "make_fixtures.py", "producer": "PyMuPDF",
                  "creationDate": "D:20260101000000Z", "modDate": "D:20260101000000Z"})
doc.save("leak.pdf", garbage=4, deflate=True, no_new_id=True)
print("wrote janitor.json and leak.pdf")
