#!/usr/bin/env python3
"""Conformance fixtures for the Tokenize module, produced by the REAL reference libraries.

Run from the package root with the benchmark venv:
    /work/main/.venv-bench/bin/python Tests/TokenizeTests/Fixtures/make_fixtures.py

Writes, beside this script:
  corpora/*.txt            small training corpora (generated deterministically here, or cut from shared data)
  training.json            per training case: settings and sha256 of tokenizer.json / vocab.json / merges.txt
                           as written by tokenizers (Tokenizer.save and model.save), plus counts
  expected/<case>/...      the full three files for a few small cases (for readable diffs)
  pretokenize.json         adversarial strings and the ByteLevel pre-tokenizer's pieces
  unicode_classes.json     per code point class ranges as the reference pre-tokenizer sees them (L, N, space)
  encode_gpt2.json         adversarial strings and their ids (tiktoken gpt2 == tokenizers with the GPT-2 files)
  encode_trained.json      strings and ids of tokenizers with one trained fixture tokenizer
"""
import hashlib
import json
import os
import random
import sys
import tempfile

import tiktoken
import tokenizers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("PIPELINE_SHARED_DATA") or os.path.join(HERE, "..", "..", "..", "..", "shared", "data")
if not os.path.isdir(SHARED):
    SHARED = "/work/shared/data"
CORPORA = os.path.join(HERE, "corpora")
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "Benchmarks"))
from tiktoken_gpt2 import gpt2_encoding  # noqa: E402
EXPECTED = os.path.join(HERE, "expected")


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


# ---------------------------------------------------------------------------------------------------------------
# Corpora
# ---------------------------------------------------------------------------------------------------------------

def english_corpus():
    """Real English: GSM8K questions and answers (shared data), one record per line pair, blank line between."""
    out = []
    with open(os.path.join(SHARED, "gsm8k", "train.jsonl"), encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= 120:
                break
            rec = json.loads(line)
            out.append(rec["question"] + "\n" + rec["answer"] + "\n\n")
    return "".join(out)


def code_corpus():
    """Source code: fixed snippets authored here in several languages, repeated with variations."""
    rng = random.Random(7)
    names = ["count", "total", "index", "buffer", "offset", "value", "result", "tokens", "merge", "pair"]
    parts = []
    for i in range(150):
        a, b = rng.choice(names), rng.choice(names)
        n = rng.randint(0, 99999)
        kind = i % 4
        if kind == 0:
            parts.append(f"def {a}_{b}(self, {a}: int = {n}) -> list[str]:\n"
                         f"    \"\"\"Return {a} for {b}.\"\"\"\n"
                         f"    if {a} >= 0x{n:x} and not self.{b}:\n"
                         f"        return [str(x) for x in range({a})]  # {n} items\n"
                         f"    return []\n\n")
        elif kind == 1:
            parts.append(f"func {a}{b.capitalize()}(_ {a}: Int) -> [UInt8] {{\n"
                         f"\tvar {b} = [UInt8](repeating: 0, count: {n})\n"
                         f"\tfor i in 0..<{a} {{ {b}[i &+ 1] ^= 0x{n % 256:02X} }}\n"
                         f"\treturn {b}\n}}\n\n")
        elif kind == 2:
            parts.append(f"static int {a}_{b}(const char *s, size_t n) {{\n"
                         f"    while (n-- > 0 && *s != '\\0') {{ s++; }} /* {n} */\n"
                         f"    return (int)(s - {a}) << {n % 31};\n}}\n\n")
        else:
            parts.append(f"    {{\"{a}\": [{n}, {n * 3 % 1000}], \"{b}\": null, \"ok\": true}},\n"
                         f"SELECT {a}, COUNT(*) FROM {b} WHERE id = {n} GROUP BY {a};\n\n")
    return "".join(parts)


MIXED_LINES = [
    "日本語のテキストと English が混ざっています。漢字、ひらがな、カタカナ。",
    "中文文本：我们在这里测试分词器，包括标点符号！还有数字１２３和全角空格　在这里。",
    "한국어 문장도 있습니다. 띄어쓰기와 숫자 42개.",
    "Emoji: 😀😃😄 👩‍👩‍👧‍👦 family, flags 🇫🇷🇯🇵, skin tones 👍🏽👍🏿, keycap 1️⃣ #️⃣.",
    "Combining marks: e\u0301 a\u0300 o\u0308\u0304 Z\u0335\u0321\u031b\u0347a\u0336l\u0337g\u0338o\u0334 n\u0303 ",
    "Ελληνικά κείμενα με τόνους· και Русский текст с цифрами 2024 года.",
    "العربية نص مع أرقام ٠١٢٣٤٥٦٧٨٩ وعلامات ترقيم، ؟",
    "हिन्दी पाठ में मात्राएँ और अंक १२३ हैं।",
    "ไทยไม่มีช่องว่างระหว่างคำ ภาษาไทย",
    "Roman numerals Ⅻ ⅷ, fractions ½ ¾ ⅞, superscripts x² y³, circled ① ② ⑩.",
    "Spaces:\u00a0nbsp\u2003em\u2009thin\u3000ideo\u200bzwsp\u2028ls\u2029ps\u0085nel end",
    "Tabs\tand\t\ttabs \t mixed \u000b vt \u000c ff",
    "Math ∑∫∂ √2 ≈ 1.414, ∞ ≠ ∅; arrows → ⇒ ↔; currency $€£¥₹₿ 100.",
    "Quotes “curly” ‘single’ «guillemets» „low“ and 'straight' \"double\" it's we're I'll they've he'd I'm don't",
    "Accents: café naïve résumé Ångström façade Øresund Œuvre straße İstanbul ǅ ǈ",
    "Private use \ue000\uf8ff and astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟘𝟙𝟚 𐍈 𓀀 and rare 𠀀𠀁",
    "Ugaritic 𐎀𐎁 numbers 𐏑 and Myanmar ၁၂ digits, Mongolian ᠑᠒ and Tibetan ༡༢",
]


def mixed_corpus():
    rng = random.Random(11)
    lines = []
    for _ in range(60):
        line = MIXED_LINES[rng.randrange(len(MIXED_LINES))]
        if rng.random() < 0.3:
            line = line + " " + MIXED_LINES[rng.randrange(len(MIXED_LINES))]
        lines.append(line + "\n")
        if rng.random() < 0.1:
            lines.append("\n")
    return "".join(lines)


def ties_corpus():
    """Tie-heavy synthetic text: a few letters, every word equally frequent."""
    words = []
    for a in "abcd":
        for b in "abcd":
            for c in "xyz":
                words.append(a + b + c)
    lines = []
    for r in range(6):
        lines.append(" ".join(words) + "\n")
        lines.append(" ".join(reversed(words)) + "\n")
    lines.append("aaaa aaaaa aaaaaa aa a\n" * 4)
    lines.append("<pad> <s> <unk> <pad><pad>\n" * 3)
    return "".join(lines)


def crlf_corpus():
    base = english_corpus().split("\n")[:200]
    rng = random.Random(5)
    out = []
    for i, line in enumerate(base):
        end = rng.choice(["\r\n", "\r\n", "\n", " \r\n", "\r\r\n", "  \n"])
        out.append(line + end)
    out.append("last line without newline\r")
    return "".join(out)


CORPUS_BUILDERS = {
    "english": english_corpus,
    "code": code_corpus,
    "mixed": mixed_corpus,
    "ties": ties_corpus,
    "crlf": crlf_corpus,
}

# (case name, corpus files, vocab_size, min_frequency, initial_alphabet, add_prefix_space, special tokens, keep full)
SPECIALS = ["<pad>", "<unk>", "<s>"]
CASES = [
    ("english_300_f0", ["english"], 300, 0, True, False, SPECIALS, True),
    ("english_2000_f2", ["english"], 2000, 2, True, False, SPECIALS, False),
    ("english_50257_f50", ["english"], 50257, 50, True, False, SPECIALS, False),
    ("english_5000_f0_prefix", ["english"], 5000, 0, True, True, SPECIALS, False),
    ("english_400_f2_noalpha", ["english"], 400, 2, False, False, SPECIALS, False),
    ("code_1000_f2", ["code"], 1000, 2, True, False, SPECIALS, False),
    ("code_50257_f0", ["code"], 50257, 0, True, False, SPECIALS, False),
    ("mixed_500_f0", ["mixed"], 500, 0, True, False, SPECIALS, True),
    ("mixed_3000_f2_noalpha", ["mixed"], 3000, 2, False, True, SPECIALS, False),
    ("mixed_50257_f0", ["mixed"], 50257, 0, True, False, ["<|endoftext|>"], False),
    ("ties_400_f0", ["ties"], 400, 0, True, False, SPECIALS, True),
    ("ties_50257_f0_noalpha", ["ties"], 50257, 0, False, False, SPECIALS, False),
    ("ties_300_f50", ["ties"], 300, 50, True, False, SPECIALS, False),
    ("crlf_1000_f2", ["crlf"], 1000, 2, True, False, SPECIALS, False),
    ("crlf_600_f0_prefix_noalpha", ["crlf"], 600, 0, False, True, [], False),
    # Special tokens that equal alphabet symbols or merge results (their ids are reused), and need JSON escapes.
    ("ties_300_f0_specials", ["ties"], 300, 0, True, False,
     ["<pad>", "ab", "\u0120abx", "x", "\"q\"", "b\\s", "t\tz", "\u00fcn\u00ef\U0001f600", "\u0120a"], True),
    ("english_3000_f1_reuse", ["english"], 3000, 1, False, False, ["\u0120the", "\u0120and", "ing", "<s>", "e"], False),
    ("all_8000_f2", ["english", "code", "mixed", "ties", "crlf"], 8000, 2, True, False, SPECIALS, False),
]


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def train_case(files, vocab, minf, alpha, prefix, specials):
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=prefix)
    tok.decoder = decoders.ByteLevel()
    kw = dict(vocab_size=vocab, min_frequency=minf, special_tokens=specials, show_progress=False)
    if alpha:
        kw["initial_alphabet"] = pre_tokenizers.ByteLevel.alphabet()
    tok.train(files, trainers.BpeTrainer(**kw))
    return tok


# ---------------------------------------------------------------------------------------------------------------
# Adversarial strings
# ---------------------------------------------------------------------------------------------------------------

def adversarial():
    rng = random.Random(3)
    s = [
        "", " ", "  ", "\n", "\n\n", "\r\n", " \n", "\t", "a", "'s", "'S", "''s", " 's", "it's", "don't", "I'LL",
        "we're they've he'd I'm you'll", "'ll've're", "''", "' s", "x's'", "Hello world", " Hello  world ",
        "hello\n\nworld", "a \nb", "a  \n  b", "   leading", "trailing   ", "a\u00a0b", "\u3000\u3000x",
        "x\u0085y", "\u2028\u2029", " " * 100, "\n" * 50, " \n" * 30, "\t" * 20 + "x", "1" * 200,
        "12345 67890 3.14159 -2e10 1,000,000", "١٢٣ ௧௨ ½ ² ⅷ ①", "!!!???...", " !@#$%^&*()_+-=[]{}|;:,.<>/?`~",
        "caf\u00e9 cafe\u0301", "e\u0301\u0301\u0301", "\u0301start with mark", "Z\u0335\u0321\u031b\u0347a\u0336l",
        "日本語テキスト", "中文，标点。", "한국어", "😀", "👩‍👩‍👧‍👦", "🇫🇷🇯🇵", "👍🏽", "1️⃣",
        "a😀b c😀 😀d", "<|endoftext|>", "<pad> <s></s>", "\u0000\u0001\u001f\u007f", "\ufeffBOM",
        "\ud7ff\ue000\uf8ff\ufffd\uffff", "\U0010ffff\U000e0001", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟘𝟙𝟚",
        "ǅungla ǈ ǋ", "ᾈᾉ", "ʰʲ ˆ ˇ", "ﬁ ﬂ", "\u200b\u200c\u200d", "\u2060\u180e",
        "mixed123abc456 def", "x" * 300, "ab" * 150, "a b " * 50, "\r\r\r", "Ⅻ ⅻ 〇 〡",
        "𐎀𐎁 𐏑 ၁၂ ᠑᠒ ༡༢", "ـ ـــ", "ـعربي", "\u1885\u1886", "\u2e2f", "\u3031\u3032 \u309d",
        "\u0e3f\u0e40", "\u0f20\u0f33", "\u1369\u137c", "\u2070\u2074\u2080", "\u3007\u3021\u3038",
        "\U0001f100\U0001f10c", "\U0001d7ce\U0001d7ff",
    ]
    # One character of each general-category sample, joined with spaces and without.
    samples = []
    for cp in range(0x20, 0x3000, 37):
        if 0xD800 <= cp < 0xE000:
            continue
        samples.append(chr(cp))
    s.append("".join(samples))
    s.append(" ".join(samples))
    # Random mixtures.
    alphabet = list("abc XYZ 019 '\n\t.,!") + ["é", "e\u0301", "日", "😀", "\u00a0", "١", "½", "'s", "  ", "\r\n"]
    for _ in range(40):
        s.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60))))
    # Random code points from all planes.
    for _ in range(30):
        chars = []
        while len(chars) < 20:
            cp = rng.choice([rng.randint(0, 0x7F), rng.randint(0x80, 0x7FF), rng.randint(0x800, 0xFFFF),
                             rng.randint(0x10000, 0x10FFFF)])
            if 0xD800 <= cp < 0xE000:
                continue
            chars.append(chr(cp))
        s.append("".join(chars))
    return s


def unicode_classes():
    """Class of every code point as the reference pre-tokenizer sees it, as sorted ranges [first, last, class]."""
    pt = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    classes = []

    def klass(ch):
        if len(pt.pre_tokenize_str("a" + ch)) == 1:
            return "L"
        if len(pt.pre_tokenize_str("!" + ch)) == 1:
            return "O"
        if len(pt.pre_tokenize_str("1" + ch)) == 1:
            return "N"
        return "S"

    ranges = []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        k = klass(chr(cp))
        if ranges and ranges[-1][2] == k and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp, k])
    return [r for r in ranges if r[2] != "O"]


def main():
    os.makedirs(CORPORA, exist_ok=True)
    for name, build in CORPUS_BUILDERS.items():
        write(os.path.join(CORPORA, name + ".txt"), build())

    cases = []
    for name, corp, vocab, minf, alpha, prefix, specials, full in CASES:
        files = [os.path.join(CORPORA, c + ".txt") for c in corp]
        tok = train_case(files, vocab, minf, alpha, prefix, specials)
        with tempfile.TemporaryDirectory() as d:
            tok.save(os.path.join(d, "tokenizer.json"))
            tok.model.save(d)
            digests = {f: sha(os.path.join(d, f)) for f in ("tokenizer.json", "vocab.json", "merges.txt")}
            with open(os.path.join(d, "tokenizer.json"), encoding="utf-8") as f:
                model = json.load(f)["model"]
            if full:
                for f in ("tokenizer.json", "vocab.json", "merges.txt"):
                    with open(os.path.join(d, f), "rb") as src:
                        data = src.read()
                    os.makedirs(os.path.join(EXPECTED, name), exist_ok=True)
                    with open(os.path.join(EXPECTED, name, f), "wb") as dst:
                        dst.write(data)
        cases.append({"name": name, "corpora": corp, "vocab_size": vocab, "min_frequency": minf,
                      "initial_alphabet": alpha, "add_prefix_space": prefix, "special_tokens": specials,
                      "sha256": digests, "tokens": len(model["vocab"]), "merges": len(model["merges"]),
                      "full": full})
        print(f"{name}: {len(model['vocab'])} tokens, {len(model['merges'])} merges", file=sys.stderr)
    write(os.path.join(HERE, "training.json"),
          json.dumps({"tokenizers": tokenizers.__version__, "cases": cases}, indent=1, ensure_ascii=False) + "\n")

    strings = adversarial()
    pt = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    pt2 = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    pre = [{"text": t, "pieces": [p for p, _ in pt.pre_tokenize_str(t)],
            "prefix_pieces": [p for p, _ in pt2.pre_tokenize_str(t)]} for t in strings]
    write(os.path.join(HERE, "pretokenize.json"), json.dumps(pre, ensure_ascii=True, indent=0) + "\n")

    # GPT-2: tiktoken and tokenizers must agree; the fixture records their ids.
    gpt2_dir = os.path.join(SHARED, "gpt2-tokenizer")
    hf = Tokenizer(models.BPE.from_file(os.path.join(gpt2_dir, "vocab.json"), os.path.join(gpt2_dir, "merges.txt")))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    enc = gpt2_encoding(gpt2_dir)
    out = []
    for t in strings:
        a = enc.encode_ordinary(t)
        b = hf.encode(t).ids
        if a != b:
            raise SystemExit(f"tiktoken and tokenizers disagree on {t!r}: {a} vs {b}")
        if enc.decode(a) != t:
            raise SystemExit(f"gpt2 round trip fails on {t!r}")
        out.append({"text": t, "ids": a})
    # Invalid UTF-8 policy: bytes are decoded with replacement (U+FFFD per maximal subpart, as Python's
    # errors="replace"), then encoded.
    bad = [b"abc\xffdef", b"\xc3\x28 x", b"\xe2\x82 \xf0\x9f\x98", b"\xed\xa0\x80 surrogate", b"\xf4\x90\x80\x80",
           b"\xc0\xaf overlong", b"ok \xe2\x82\xac \x80\x80"]
    bad_out = [{"bytes": list(b), "decoded": b.decode("utf-8", errors="replace"),
                "ids": enc.encode_ordinary(b.decode("utf-8", errors="replace"))} for b in bad]
    write(os.path.join(HERE, "encode_gpt2.json"),
          json.dumps({"tiktoken": tiktoken.__version__, "cases": out, "invalid_utf8": bad_out},
                     ensure_ascii=True, indent=0) + "\n")

    # A trained tokenizer (with its special tokens, duplicate merges, prefix space) encoding the same strings.
    trained = []
    for name, prefix in (("all_8000_f2", False), ("english_5000_f0_prefix", True)):
        c = next(x for x in CASES if x[0] == name)
        tok = train_case([os.path.join(CORPORA, f + ".txt") for f in c[1]], c[2], c[3], c[4], c[5], c[6])
        trained.append({"case": name, "strings": [{"text": t, "ids": tok.encode(t).ids} for t in strings]})
    write(os.path.join(HERE, "encode_trained.json"), json.dumps(trained, ensure_ascii=True, indent=0) + "\n")

    if "--unicode" in sys.argv or not os.path.exists(os.path.join(HERE, "unicode_classes.json")):
        write(os.path.join(HERE, "unicode_classes.json"), json.dumps(unicode_classes()) + "\n")


if __name__ == "__main__":
    main()
