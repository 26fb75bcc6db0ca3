#!/usr/bin/env python3
"""Reference scores for the Metrics module (Tests/MetricsTests/MetricsConformanceTests.swift).

Needs, in the interpreter that runs it (CPython 3.11, Unicode 14.0, as the project's other fixtures):
    pip install sacrebleu==2.6.0 rouge-score==0.1.2 nltk==3.10.4 regex==2026.11.19
(regex 2026.11.15, pinned in Benchmarks/requirements.txt, has the same Unicode 17.0 tables.) This script installs
nothing. Run it from anywhere:
    /work/venv-metrics/bin/python Tests/MetricsTests/Fixtures/make_metrics_fixtures.py
It writes metrics_fixtures.json.zst beside itself (needs the zstd program) with:
  - items: 400 prediction / reference sets made deterministically from seed 17 (short and long, punctuation,
    numbers, accents precomposed and decomposed, CJK, emoji, combining marks, Python whitespace, 13a escapes,
    empty predictions, strings that tokenize to nothing, repeated words, 1-4 references, multi-line texts);
  - sacrebleu corpus BLEU for each tokenizer (13a, intl, char, none) on the whole set (variable references),
    on the first references only and on ten slices; sentence BLEU per item and tokenizer; chrF corpus and per
    item (with its statistics); rouge-score per item with and without the stemmer, and the means;
  - SQuAD v1.1 exact match and F1 per item and the means (the v1.1 rules, restated below);
  - nltk's PorterStemmer on every word rouge-score stems here plus synthetic suffix words;
  - the Unicode tables the Swift side depends on: the `regex` module's \\p{N} \\p{P} \\p{S} (sacrebleu's intl
    tokenizer), Python's str.isalnum() (re's \\w) and str.lower() for every code point that it changes.
Floats that must match exactly (BLEU, chrF) are written with float.hex().
"""
import importlib.metadata
import json
import os
import random
import re
import string
import subprocess
import sys
import unicodedata
from collections import Counter

import nltk
import regex
import sacrebleu
from nltk.stem import porter
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU, CHRF

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 17
N_ITEMS = 400
TOKENIZERS = ["13a", "intl", "char", "none"]
ROUGE_TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]

WORDS = """
the a an of to and in is it that was for on are with as his they be at one have this from or had by hot but
some what there we can out other were all your when up use word how said each she which do their time if will
way about many then them would write like so these her long make thing see him two has look more day could go
come did my sound no most number who over know water than call first people may down side been now find any new
work part take get place made live where after back little only round man year came show every good me give our
under name very through just form much great think say help low line before turn cause same mean differ move right
boy old too does tell sentence set three want air well also play small end put home read hand port large spell add
even land here must big high such follow act why ask men change went light kind off need house picture try us again
animal point mother world near build self earth father head stand own page should country found answer school grow
study still learn plant cover food sun four thought let keep eye never last door between city tree cross since hard
start might story saw far sea draw left late run while press close night real life few stop open seem together next
white children begin got walk example ease paper often always music those both mark book letter until mile river car
feet care second group carry took rain eat room friend began idea fish mountain north once base hear horse cut sure
watch color face wood main enough plain girl usual young ready above ever red list though feel talk bird soon body
dog family direct pose leave song measure state product black short numeral class wind question happen complete ship
area half rock order fire south problem piece told knew pass farm top whole king size heard best hour better true
during hundred am remember step early hold west ground interest reach fast five sing listen six table travel less
morning ten simple several vowel toward war lay against pattern slow center love person money serve appear road map
science rule govern pull cold notice voice fall power town fine certain fly unit lead cry dark machine note wait plan
figure star box noun field rest correct able pound done beauty drive stood contain front teach week final gave green
oh quick develop sleep warm free minute strong special mind behind clear tail produce fact street inch lot nothing
course stay wheel full force blue object decide surface deep moon island foot yet busy test record boat common gold
possible plane age dry wonder laugh thousand ago ran check game shape yes cool miss brought heat snow bed bring sit
perhaps fill east weight language among running flies happily generalization agreed controlling skies dying news
innings relational conditional triplicate hopeful goodness adjustment feudalism sensibility caresses ponies ties
cats feed plastered bled motoring sing conflated troubled sized hopping tanned falling hissing fizzed failing filing
happy sky valency hesitancy digitizer conformably radically differently vilely analogously vietnamization predication
operator decisiveness hopefulness callousness formality sensitivity formative formalize electricity electrical
revival allowance inference airliner gyroscopic adjustable defensible irritant replacement dependent adoption
homologous communism activate angularity effective bowdlerize probate rate cease controlled roll generously
apples oranges bananas cookies marbles dollars hours minutes students teachers pencils tickets
""".split()

SUFFIXES = ("ational tional enci anci izer bli alli entli eli ousli ization ation ator alism iveness fulness ousness "
            "aliti iviti biliti logi fulli icate ative alize iciti ical ful ness al ance ence er ic able ible ant "
            "ement ment ent ion sion tion ou ism ate iti ous ive ize sses ies ss s eed ed ing at bl iz y ies ied "
            "ll e").split()

PUNCT_TOKENS = ["!", "?", ".", ",", ";", ":", "...", "?!", "(", ")", "[", "]", "{", "}", "\"", "'", "-", "--",
                "—", "–", "/", "\\", "@", "#", "$", "%", "^", "&", "*", "_", "~", "`", "|", "+", "=", "<", ">",
                "«", "»", "¿", "¡", "“", "”", "‘", "’", "…", "·", "§", "¶", "©", "®", "™", "°", "±", "×", "÷"]
NUMBER_TOKENS = ["0", "1", "7", "42", "3.14", "1,000", "1,234,567.89", "-5", "+7", "2024.", "10%", "$20", "€15",
                 "1/2", "3-4", "12:30", "1e9", "0.5", "٣", "१२", "½", "²", "Ⅻ", "1st", "2nd", "x2", "4x"]
UNICODE_TOKENS = ["café", "cafe\u0301", "naïve", "nai\u0308ve", "résumé", "Ångström", "Straße", "STRASSE",
                  "İstanbul", "ǅemal", "ΣΟΦΟΣ", "Σ", "ΌΣΟΣ", "ὈΔΥΣΣΕΎΣ", "Kelvin\u212a", "ﬁne", "Œuvre",
                  "我们", "的", "模型", "很好", "東京都", "日本語です。", "한국어", "ไทย", "עברית", "العربية",
                  "Привет", "мир", "ПРИВЕТ", "Ελληνικά", "👍", "👍🏽", "👨\u200d👩\u200d👧", "🇫🇷", "🙂",
                  "e\u0301\u0302", "a\u0300", "\u0301", "x\u20dd", "ab\u200bcd", "\u00a0", "ｆｕｌｌ", "Ｗｉｄｅ",
                  "\u2e60", "\u20c2", "\U0001f6d9", "\U00012470", "\u2e5d", "\U0001fae9", "ß", "ŉ", "ﬀ", "ǰ"]
WHITESPACE = [" ", " ", " ", " ", "  ", "\t", "\u00a0", "\u3000", "\u2028", "\x1c", "\u2009", "\u200b", "\x85"]
SPECIAL_13A = ["<skipped>", "&quot;", "&amp;", "&lt;", "&gt;", "&amp;quot;", "AT&T", "-\n", "co-\noperate"]
ARTICLES = ["a", "an", "the", "The", "A", "An", "THE", "an.", "the,", "theory", "another", "a-b", "_the",
            "the\u0301", "the_", "thé", "ann", "a1"]


def synthetic_word(rng):
    stem = "".join(rng.choice("bcdfghjklmnprstvwyaeiou") for _ in range(rng.randint(1, 6)))
    return stem + rng.choice(SUFFIXES)


def pick_token(rng, kind):
    if kind == "plain":
        return rng.choice(WORDS) if rng.random() < 0.85 else synthetic_word(rng)
    if kind == "punct":
        r = rng.random()
        if r < 0.4:
            return rng.choice(PUNCT_TOKENS)
        if r < 0.7:
            return rng.choice(PUNCT_TOKENS) + rng.choice(WORDS) + rng.choice(PUNCT_TOKENS)
        return rng.choice(WORDS)
    if kind == "numbers":
        return rng.choice(NUMBER_TOKENS) if rng.random() < 0.5 else rng.choice(WORDS)
    if kind == "unicode":
        return rng.choice(UNICODE_TOKENS) if rng.random() < 0.6 else rng.choice(WORDS)
    if kind == "mixed":
        pool = [WORDS, WORDS, PUNCT_TOKENS, NUMBER_TOKENS, UNICODE_TOKENS, ARTICLES, SPECIAL_13A]
        return rng.choice(rng.choice(pool))
    if kind == "articles":
        return rng.choice(ARTICLES) if rng.random() < 0.5 else rng.choice(WORDS)
    raise ValueError(kind)


def cased(rng, word):
    r = rng.random()
    if r < 0.1:
        return word.upper()
    if r < 0.25:
        return word.capitalize()
    return word


def join_tokens(rng, tokens, multiline):
    out = []
    for i, t in enumerate(tokens):
        if i:
            if multiline and rng.random() < 0.12:
                out.append(rng.choice(["\n", "\n", "\n\n", " \n", "\n "]))
            elif rng.random() < 0.08:
                out.append(rng.choice(WHITESPACE))
            else:
                out.append(" ")
        out.append(t)
    text = "".join(out)
    if rng.random() < 0.1:
        text = rng.choice(WHITESPACE) + text
    if rng.random() < 0.1:
        text = text + rng.choice(WHITESPACE + ["\n"])
    return text


def perturb(rng, tokens, kind):
    """A reference made from the prediction by edits, so that the scores are neither 0 nor 100."""
    out = []
    for t in tokens:
        r = rng.random()
        if r < 0.1:
            continue
        if r < 0.2:
            out.append(cased(rng, pick_token(rng, kind)))
        elif r < 0.25:
            out.extend([t, t])
        else:
            out.append(t)
    if len(out) > 2 and rng.random() < 0.3:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    if rng.random() < 0.2:
        out.append(cased(rng, pick_token(rng, kind)))
    return out


def make_item(rng, index):
    kinds = ["plain", "punct", "numbers", "unicode", "mixed", "articles"]
    kind = kinds[index % len(kinds)]
    shape = index % 10
    if shape < 5:
        length = rng.randint(1, 6)
    elif shape < 8:
        length = rng.randint(7, 30)
    else:
        length = rng.randint(31, 150)
    multiline = index % 3 == 0
    tokens = [cased(rng, pick_token(rng, kind)) for _ in range(length)]
    if index % 17 == 5:
        tokens = [rng.choice(["the", "cat", "a"])] * rng.randint(3, 12)  # repeated words
    n_refs = 1 + (index * 7 + rng.randrange(4)) % 4 if index % 5 else 1
    refs = []
    for _ in range(n_refs):
        if rng.random() < 0.15:
            ref_tokens = [cased(rng, pick_token(rng, kind)) for _ in range(rng.randint(1, length + 3))]
        else:
            ref_tokens = perturb(rng, tokens, kind)
        refs.append(join_tokens(rng, ref_tokens, multiline))
    prediction = join_tokens(rng, tokens, multiline)
    special = index % 23
    if special == 1:
        prediction = ""
    elif special == 2:
        prediction = rng.choice(["   ", "\t", "\n", "\u3000", "\n\n"])
    elif special == 3:
        prediction = rng.choice(["?!...", "--- ;;", "…", "🙂🙂", "\u0301\u0301", "& ^ %"])
    elif special == 4:
        refs[0] = ""
    elif special == 5:
        refs = [rng.choice(["!!!", "  ", "...", "\u200b"])] + refs[1:]
    elif special == 6:
        prediction = refs[0]
    elif special == 7:
        prediction = rng.choice(SPECIAL_13A) + " " + prediction + " " + rng.choice(SPECIAL_13A)
    return {"id": f"item-{index:03d}", "prediction": prediction, "references": refs}


def hx(x):
    return float(x).hex()


def bleu_record(s):
    return {"score": hx(s.score), "bp": hx(s.bp), "sys_len": s.sys_len, "ref_len": s.ref_len,
            "counts": [int(c) for c in s.counts], "totals": [int(t) for t in s.totals],
            "precisions": [hx(p) for p in s.precisions]}


def ref_streams(items, first_only=False):
    """sacrebleu's layout: one stream per reference position; a missing reference is None."""
    n = 1 if first_only else max(len(it["references"]) for it in items)
    return [[it["references"][k] if k < len(it["references"]) else None for it in items] for k in range(n)]


def corpus_bleu(items, tokenize, first_only=False):
    metric = BLEU(tokenize=tokenize)
    score = metric.corpus_score([it["prediction"] for it in items], ref_streams(items, first_only))
    rec = bleu_record(score)
    rec["signature"] = str(metric.get_signature())
    return rec


def corpus_chrf(items, first_only=False):
    metric = CHRF()
    hyps = [it["prediction"] for it in items]
    refs = ref_streams(items, first_only)
    score = metric.corpus_score(hyps, refs)
    stats = metric._extract_corpus_statistics(hyps, refs)
    summed = [sum(col) for col in zip(*stats)]
    return {"score": hx(score.score), "stats": summed, "signature": str(metric.get_signature())}


# SQuAD v1.1 (the official evaluate-v1.1.py's rules, restated): normalise = lower case, drop every character of
# string.punctuation, replace each whole word a/an/the (re's \b(a|an|the)\b) by a space, split on whitespace.
# EM = normalised strings equal; F1 = harmonic mean of token precision and recall over the multiset overlap,
# 0 when nothing overlaps (also when both are empty: the v1.1 rule, unlike v2.0's); max over the references;
# the means in percent.
_PUNCT = set(string.punctuation)


def squad_normalize(text):
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def squad_f1(prediction, truth):
    p, t = squad_normalize(prediction).split(), squad_normalize(truth).split()
    same = sum((Counter(p) & Counter(t)).values())
    if same == 0:
        return 0
    precision, recall = 1.0 * same / len(p), 1.0 * same / len(t)
    return (2 * precision * recall) / (precision + recall)


def squad_em(prediction, truth):
    return squad_normalize(prediction) == squad_normalize(truth)


def ranges(predicate):
    out, start = [], None
    for cp in range(0x110000):
        hit = predicate(cp)
        if hit and start is None:
            start = cp
        elif not hit and start is not None:
            out.append([start, cp - 1])
            start = None
    if start is not None:
        out.append([start, 0x10FFFF])
    return out


def unicode_tables():
    n, p, s = (regex.compile(r"\p{%s}" % c) for c in "NPS")
    lower = {}
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        low = ch.lower()
        if low != ch:
            lower[str(cp)] = [ord(c) for c in low]
    return {
        "regex_N": ranges(lambda cp: n.match(chr(cp)) is not None),
        "regex_P": ranges(lambda cp: p.match(chr(cp)) is not None),
        "regex_S": ranges(lambda cp: s.match(chr(cp)) is not None),
        "isalnum": ranges(lambda cp: chr(cp).isalnum()),
        "lower": lower,
    }


def main():
    rng = random.Random(SEED)
    items = [make_item(rng, i) for i in range(N_ITEMS)]
    hyps = [it["prediction"] for it in items]

    bleu = {}
    for tok in TOKENIZERS:
        slices = [corpus_bleu(items[k * 40:(k + 1) * 40], tok) for k in range(10)]
        bleu[tok] = {
            "all": corpus_bleu(items, tok),
            "first_reference": corpus_bleu(items, tok, first_only=True),
            "slices": slices,
            "sentence": [bleu_record(BLEU(tokenize=tok, effective_order=True)
                                     .sentence_score(it["prediction"], it["references"])) for it in items],
        }
    # sacrebleu.sentence_bleu (the function) is BLEU(effective_order=True).sentence_score: check it once here.
    for it in items:
        a = sacrebleu.sentence_bleu(it["prediction"], it["references"]).score
        b = BLEU(effective_order=True).sentence_score(it["prediction"], it["references"]).score
        assert a == b

    chrf_sentence = []
    for it in items:
        metric = CHRF()
        score = metric.sentence_score(it["prediction"], it["references"])
        stats = metric._extract_corpus_statistics([it["prediction"]], [[r] for r in it["references"]])[0]
        chrf_sentence.append({"score": hx(score.score), "stats": stats})
    chrf = {"all": corpus_chrf(items), "first_reference": corpus_chrf(items, first_only=True),
            "slices": [corpus_chrf(items[k * 40:(k + 1) * 40]) for k in range(10)], "sentence": chrf_sentence}

    rouge = {}
    for stem in (False, True):
        scorer = rouge_scorer.RougeScorer(ROUGE_TYPES, use_stemmer=stem)
        per_item = []
        for it in items:
            s = scorer.score_multi(it["references"], it["prediction"])
            per_item.append({t: [s[t].precision, s[t].recall, s[t].fmeasure] for t in ROUGE_TYPES})
        mean = {t: [sum(x[t][k] for x in per_item) / len(per_item) for k in range(3)] for t in ROUGE_TYPES}
        rouge["stem" if stem else "plain"] = {"items": per_item, "mean": mean}

    squad_items = []
    for it in items:
        em = max(squad_em(it["prediction"], t) for t in it["references"])
        f1 = max(squad_f1(it["prediction"], t) for t in it["references"])
        squad_items.append([int(em), float(f1)])
    squad = {"items": squad_items,
             "exact_match": 100.0 * sum(x[0] for x in squad_items) / len(items),
             "f1": 100.0 * sum(x[1] for x in squad_items) / len(items)}

    stemmer = porter.PorterStemmer()
    words = set()
    for it in items:
        for text in [it["prediction"]] + it["references"]:
            words.update(w for w in re.split(r"\s+", re.sub(r"[^a-z0-9]+", " ", text.lower())) if len(w) > 3)
    words.update(WORDS)
    words.update(synthetic_word(rng) for _ in range(3000))
    words.update(["yyyy", "sky", "skies", "ies", "lying", "tying", "dies", "ties", "yelled", "toyed", "agreed",
                  "bleed", "feeded", "hopping", "filling", "fizzing", "logi", "analogi", "fulli", "alli",
                  "generalli", "controll", "ycleped", "yyed", "syzygy"])
    stems = [[w, stemmer.stem(w)] for w in sorted(words)]

    versions = {"python": sys.version.split()[0], "unicodedata": unicodedata.unidata_version,
                "sacrebleu": sacrebleu.__version__, "nltk": nltk.__version__, "regex": regex.__version__,
                "rouge_score": importlib.metadata.version("rouge-score")}
    fixture = {"versions": versions, "items": items, "bleu": bleu, "chrf": chrf, "rouge": rouge, "squad": squad,
               "stems": stems, "unicode": unicode_tables()}
    data = json.dumps(fixture, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    out = os.path.join(HERE, "metrics_fixtures.json.zst")
    subprocess.run(["zstd", "-19", "-q", "-f", "-o", out], input=data, check=True)
    print(f"{len(items)} items, {len(stems)} stems, {len(data)} bytes of JSON -> {out} "
          f"({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
