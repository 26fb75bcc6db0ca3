#!/usr/bin/env python3
"""Makes the embedder conformance fixture with the REAL reference libraries.

Run from the package root with the bench venv:
    .venv-bench/bin/python Tests/IndexTests/Fixtures/make_embed_fixtures.py [models/all-MiniLM-L6-v2]

Writes beside this script:
  embed_texts.jsonl.zst      one {"text": ..., "ids": [...]} per text; ids from the Hugging Face fast tokenizer
                             with truncation at max_length = 256 (sentence_bert_config.json), [CLS]/[SEP] included
  embed_vectors.f32.zst      the sentence-transformers embeddings, float32 little-endian, row-major [n, dim]
Texts: hand-picked edge cases (empty, whitespace, accents, CJK, punctuation, controls, special tokens, very long
words), seeded random mixtures, GSM8K questions and PDF text (when ../shared/data is there; stored in the fixture).
"""
import json, os, random, subprocess, sys
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../../.."))
MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models/all-MiniLM-L6-v2")
SHARED = os.environ.get("PIPELINE_SHARED_DATA", os.path.join(ROOT, "../shared/data"))


def zstd_write(path, data: bytes):
    subprocess.run(["zstd", "-q", "-19", "-f", "-o", path], input=data, check=True)


def texts():
    t = [
        "", " ", "   \t\n  ", "\n", "a", "A", "Hello, world!", "hello world", "The quick brown fox jumps over the lazy dog.",
        "Café résumé naïve façade coöperate Ångström", "ÉCOLE ÉLÉMENTAIRE", "Straße", "İstanbul ıi", "ΣΊΣΥΦΟΣ σίσυφος",
        "Ça va? Où est-ce?", "Dvořák, Łódź, Søren, Þór, ǅ", "中文句子没有空格", "日本語のテキストとカタカナ", "한국어 텍스트",
        "mixed中文and English", "𠀀𠀁 rare CJK ext B", "emoji 😀🚀 test 👍🏽", "math: ∑∫√∞ ≤ ≥ ≠ ±",
        "punctuation!!! ??? ... ,,, ;;; ::: '''", "\"quoted\" and 'single' «guillemets» „German“ 「Japanese」",
        "a-b_c/d\\e|f~g`h^i$j+k<l=m>n", "price: $1,234.56 (incl. 20% VAT) — ok?", "e-mail: someone@example.com, https://x.y/z?q=1&r=2",
        "C++ and C# and F#", "x=1;y=2;z=x+y", "tabs\tand\nnewlines\r\nand\u000bvertical", "zero\u200bwidth\u200djoiner\ufeffbom",
        "soft\u00adhyphen", "nbsp\u00a0here\u2003em\u3000ideographic", "control\u0001\u0002\u0007chars\u007f\u0085",
        "replacement \ufffd char", "[CLS] [SEP] [MASK] [PAD] [UNK]", "the [MASK] is here", "[mask] lowercase is not special",
        "x[SEP]y", "a" * 99, "b" * 100, "c" * 101, "supercalifragilisticexpialidocious " * 3,
        "unbelievably antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
        "1234567890 3.14159 2,718 1e-9 0x1F", "Ünïcödé ĉĥàŕáçţéŕś ŵĩţĥ ďïåçŕïţïçŝ", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３",
        "ﬁ ligature ﬂ and ℌ ℍ ℡", "Ⅻ ① ⓐ", "ا لعربية نص", "עברית טקסט", "हिन्दी पाठ", "ไทย ภาษา", "Русский текст, Ёё",
        "combining e\u0301 a\u0300 o\u0308 n\u0303", "precomposed é à ö ñ", "  leading and trailing spaces  ",
        "what's it's don't I'm you're", "U.S.A. e.g. i.e. etc.", "#hashtag @mention", "<html><body>tag</body></html>",
        "{\"json\": [1, 2, {\"k\": null}]}", "```code block```", "¿Qué? ¡Sí!", "§ ¶ † ‡ • … ‰ ′ ″", "©®™ °C ½ ¼ ¾",
        "\u2028line sep\u2029para sep", "\U0001F1FA\U0001F1F8 flags", "‐‑‒–—―", "Ǆ ǆ ǅ ﬀ", "ß ẞ",
    ]
    rng = random.Random(20261123)
    pools = [
        "the of and to in is was for on are with as by at from this that be or an which",
        "café naïve résumé über größe fête élève déjà vu",
        "中 文 日 本 語 漢 字 東 京 北 京 大 学",
        "! ? . , ; : ' \" ( ) [ ] { } - _ / \\ | @ # $ % ^ & * + = < > ~ `",
        "transformer embedding tokenizer wordpiece normalisation attention layer vector",
        "1 2 3 42 100 2026 3.5 1,000",
        "😀 🚀 ✓ ★ ♥ → ← ∀ ∃",
    ]
    words = [w for p in pools for w in p.split()]
    for i in range(90):
        n = rng.choice([1, 2, 3, 5, 8, 13, 30, 60, 120, 250, 400])
        seps = [" ", " ", " ", "", "\n", "\t", "  "]
        t.append("".join(rng.choice(words) + rng.choice(seps) for _ in range(n)))
    # long texts (> 256 tokens after WordPiece)
    base = ("Sentence embeddings map variable-length text to fixed-size vectors; the encoder truncates at "
            "the maximum sequence length, so everything after it is ignored. ")
    t.append(base * 20)
    t.append(" ".join(str(i) for i in range(600)))
    t.append("Z" * 5000)
    t.append(("word " * 300).strip())
    gsm = os.path.join(SHARED, "gsm8k/train.jsonl")
    if os.path.exists(gsm):
        with open(gsm) as f:
            rows = [json.loads(l) for l in f]
        for r in random.Random(7).sample(rows, 40):
            t.append(r["question"])
            t.append(r["answer"])
    pdfs = os.path.join(SHARED, "pdfs")
    if os.path.isdir(pdfs):
        for name in sorted(os.listdir(pdfs))[:4]:
            out = subprocess.run(["pdftotext", "-l", "3", os.path.join(pdfs, name), "-"], capture_output=True, text=True)
            txt = out.stdout
            for k in range(0, min(len(txt), 6 * 1024), 1024):
                t.append(txt[k:k + 1024])
    return t


def main():
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer
    import torch
    torch.set_num_threads(2)
    model = SentenceTransformer(MODEL, device="cpu")
    assert model.max_seq_length == 256, model.max_seq_length
    tok = AutoTokenizer.from_pretrained(MODEL)
    ts = texts()
    vecs = model.encode(ts, batch_size=16, convert_to_numpy=True, normalize_embeddings=False)
    vecs = np.asarray(vecs, dtype="<f4")
    lines = []
    for text in ts:
        # sentence-transformers strips each text before tokenizing; the ids here are of the text as given
        ids = tok(text, truncation=True, max_length=256)["input_ids"]
        lines.append(json.dumps({"text": text, "ids": ids}, ensure_ascii=False))
    zstd_write(os.path.join(HERE, "embed_texts.jsonl.zst"), ("\n".join(lines) + "\n").encode())
    zstd_write(os.path.join(HERE, "embed_vectors.f32.zst"), vecs.tobytes())
    print(f"{len(ts)} texts, dim {vecs.shape[1]}, longest {max(len(json.loads(l)['ids']) for l in lines)} ids")


if __name__ == "__main__":
    main()
