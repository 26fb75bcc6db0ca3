#!/usr/bin/env python3
"""Reference scores for the GSM8K reward functions (Tests/GSM8KTests/RewardTests.swift).

The four functions below are the Unsloth "Advanced Llama 3.1 (3B) GRPO LoRA" notebook's reward functions,
rewritten here with the same regular expressions, the same arithmetic and the same exception handling; only the
batch plumbing differs (the notebook reads completion[0]["content"] from batches, here a completion is a string).

Run with the project's reference interpreter (CPython 3.11, Unicode 14.0):
    /work/main/.venv-bench/bin/python Tests/GSM8KTests/Fixtures/make_reward_fixtures.py
It writes reward_fixtures.json beside itself: the scored completions, Python float() results for a set of
strings, the first logged GRPO step, and Python's Unicode whitespace and decimal-digit tables.
"""
import json
import os
import random
import re
import struct
import sys
import unicodedata

reasoning_start = "<start_working_out>"
reasoning_end = "<end_working_out>"
solution_start = "<SOLUTION>"
solution_end = "</SOLUTION>"

match_format = re.compile(
    rf"^[\s]{{0,}}"
    rf"{reasoning_start}.+?{reasoning_end}.*?"
    rf"{solution_start}(.+?){solution_end}"
    rf"[\s]{{0,}}$",
    flags=re.MULTILINE | re.DOTALL,
)

match_numbers = re.compile(solution_start + r".*?([\d\.\,]{1,})", flags=re.MULTILINE | re.DOTALL)


def match_format_exactly(response):
    score = 0
    if match_format.search(response) is not None:
        score += 3.0
    return score


def match_format_approximately(response):
    score = 0
    score += 0.5 if response.count(reasoning_start) == 1 else -1.0
    score += 0.5 if response.count(reasoning_end) == 1 else -1.0
    score += 0.5 if response.count(solution_start) == 1 else -1.0
    score += 0.5 if response.count(solution_end) == 1 else -1.0
    return score


def check_answer(response, true_answer):
    guess = m.group(1) if (m := match_format.search(response)) is not None else None
    score = 0
    if guess is None:
        return 0
    if guess == true_answer:
        score += 3.0
    elif guess.strip() == true_answer.strip():
        score += 1.5
    else:
        try:
            ratio = float(guess) / float(true_answer)
            if ratio >= 0.9 and ratio <= 1.1:
                score += 1.0
            elif ratio >= 0.8 and ratio <= 1.2:
                score += 0.5
            else:
                score -= 1.5
        except:  # noqa: E722 (as in the notebook)
            score -= 1.5
    return score


def check_numbers(response, true_answer):
    guess = m.group(1) if (m := match_numbers.search(response)) is not None else None
    if guess is None:
        return 0
    try:
        true_answer = float(true_answer.strip())
        guess = float(guess.strip().replace(",", ""))
        return 1.5 if guess == true_answer else -0.5
    except:  # noqa: E722
        return 0


def scores(c, a):
    return [float(match_format_exactly(c)), float(match_format_approximately(c)),
            float(check_answer(c, a)), float(check_numbers(c, a))]


def groups(c):
    m1 = match_format.search(c)
    m2 = match_numbers.search(c)
    return (m1.group(1) if m1 else None, m2.group(1) if m2 else None)


RS, RE, SS, SE = reasoning_start, reasoning_end, solution_start, solution_end

# Solution texts: numbers with commas, decimals, signs, exponents, Unicode digits, underscores, words, spacing.
GUESSES = [
    "72", " 72", "72 ", " 72 ", "\t72\n", "72.0", "72.", ".72", "0072", "+72", "-72", "7_2", "7__2", "_72", "72_",
    "1,080", "1080", "1,080.50", "1.2.3", "1..2", "...", ",", ",,5", "5,", "7e1", "7.2e1", "7.2E+1", "720e-1",
    "1e400", "-1e400", "1e-400", "inf", "-Inf", "INFINITY", "infinit", "nan", "NaN", "-nan", "0x48", "72/1",
    "seventy-two", "\u0667\u0662", "\u0967\u0968", "\uff17\uff12", "7\u0662", "\u0661_\u0662",
    "\U0001d7d5\U0001d7d0", "\u00a072\u3000", "\x1c72", "72\x1c", "\u200b72", "72\u2028", "72\x85", "", " ",
    "$72", "72 dollars", "The answer is 72", "about 70", "65", "79", "80", "58", "86", "90", "0", "0.0", "-0",
    "3.5", "3.50", "12", "12.5", "1,000,000", "1000000", "72\n72", "a 1,2 b", "x.y", "\u00b2", "\u2155",
]

ANSWERS = ["72", "1,080", "1080", "-72", "0", "3.5", " 72 ", "72.0", "12", "\u0667\u0662", "1e3", "inf", "nan",
           "abc", "", "1,000,000", "7_2", "65"]


def wellformed(g, r="Let me think. 48/2 = 24, 48 + 24 = 72"):
    return f"{RS}{r}{RE}{SS}{g}{SE}"


TEMPLATES = [
    lambda g: wellformed(g),
    lambda g: "  \n " + wellformed(g) + " \n\t",
    lambda g: "Sure! Here is my answer.\n" + wellformed(g) + "\nHope this helps.",
    lambda g: "Sure! " + wellformed(g),                              # text before on the same line
    lambda g: wellformed(g) + " thanks",                             # text after on the same line
    lambda g: f"{RS}\nstep 1\nstep 2\n{RE}\nso\n{SS}\n{g}\n{SE}\n",   # multi-line
    lambda g: f"{RS}r{RE}{SS}{g}{SE}{SS}99{SE}",                      # duplicated solution
    lambda g: f"{RS}r{RE}{SS}{g}{SE} \n{SS}99{SE}x",
    lambda g: f"{RS}r{RE}{SS}{g}{SE}x\n{SS}5{SE}\n",
    lambda g: f"{RS}r{RE}{SS}{SS}{g}{SE}{SE}",                        # nested
    lambda g: f"{RS}{RS}r{RE}{RE}{SS}{g}{SE}",
    lambda g: f"{RS}{RE}{SS}{g}{SE}",                                 # empty reasoning
    lambda g: f"{RS}r{RE}{SS}{g}",                                    # missing solution end
    lambda g: f"{RS}r{RE}{g}{SE}",                                    # missing solution start
    lambda g: f"{RS}r{SS}{g}{SE}",                                    # missing reasoning end
    lambda g: f"r{RE}{SS}{g}{SE}",                                    # missing reasoning start
    lambda g: f"{SS}{g}{SE}",
    lambda g: f"{RS}r{RE}{SS}{g}{SE}\u3000\u2029",                    # Unicode whitespace at the end
    lambda g: f"{RS}r{RE}{SS}{g}{SE}\x1c\x85\n",
    lambda g: f"\u3000{RS}r{RE}{SS}{g}{SE}",
    lambda g: f"{RS}r{RE}{SS}{g}{SE}\r\n",
    lambda g: f"{RS}r{RE}{SS}{g}{SE}\r",
    lambda g: f"x\r\n{RS}r{RE}{SS}{g}{SE}",
    lambda g: f"{SS}{g}{SE}\n{RS}r{RE}{SS}1{SE}",
    lambda g: f"{RS}r{RE}{SS}{g}</SOLUTION >{SE}",
    lambda g: f"{RS}r{RE} then {SS}{g}{SE} and {SS}2{SE}\n",
    lambda g: f"{RS}a\n{RS}b{RE}{SS}{g}{SE}",
    lambda g: f"{RS}r{RE}{SS}{g}{SE}{RE}",
    lambda g: f"<start_working_out >r{RE}{SS}{g}{SE}",
    lambda g: f"{RS}r{RE}<solution>{g}</solution>",
    lambda g: f"{RS}r{RE}{SS}The total is {g} apples{SE}",
    lambda g: f"{RS}r{RE}{SS}{g}{SE}\n\nExtra line",
    lambda g: f"line one\nline two {RS}r{RE}{SS}{g}{SE}\n  {RS}r2{RE}{SS}7{SE}  ",
]

FIXED = [
    "", " ", "\n", "hello", RS, RE, SS, SE, RS + RE + SS + SE, RS + "x" + RE + SS + SE, RS + "x" + RE + SS + "\n" + SE,
    RS * 2 + RE * 2 + SS * 2 + SE * 2, SS + SE, SS, SS + "abc", SS + "abc 1.2.3,4 x", SS + ",", SS + "\u0663",
    "<start_working_out></SOLUTION>", "<<start_working_out>>x<<end_working_out>><<SOLUTION>>5<</SOLUTION>>",
    "\n\n" + RS + "x" + RE + SS + "5" + SE + "\n\n", RS + "x" + RE + "\n" + SS + "5" + SE + "\n\n" + SS,
    RS + "x" + RE + SS + "5" + SE + "\u00a0", RS + "x" + RE + SS + "5" + SE + "\u200b",
    "\t" + RS + "\n" + RE + "\n" + SS + "\n" + SE + "\t",
]


def make_cases():
    rng = random.Random(20260601)
    cases = []
    seen = set()

    def add(c, a):
        if (c, a) in seen:
            return
        seen.add((c, a))
        g1, g2 = groups(c)
        cases.append({"c": c, "a": a, "s": scores(c, a), "g": g1, "n": g2})

    # The well-formed template with every guess against every answer; the other templates with a sample of
    # guesses against "72" and against random answers.
    for g in GUESSES:
        for a in ANSWERS:
            if a == "72" or rng.random() < 0.25:
                add(wellformed(g), a)
    for t in TEMPLATES[1:]:
        for g in rng.sample(GUESSES, 10):
            add(t(g), "72")
        for g in rng.sample(GUESSES, 6):
            add(t(g), rng.choice(ANSWERS))
    for c in FIXED:
        for a in ["72", "5", ""]:
            add(c, a)
    # Random splices of markers, digits and whitespace.
    pieces = [RS, RE, SS, SE, "x", "72", "1,080", " ", "\n", "\u3000", "7.5", "e3", "-", "\u0662"]
    for _ in range(200):
        c = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
        add(c, rng.choice(ANSWERS))
    return cases


FLOAT_STRINGS = sorted(set(GUESSES + ANSWERS + [
    "1_000", "1_000.000_1", "1e1_0", "1_e5", "1e_5", "1._5", "1_.5", " 1_0 ", "\t1\n", "\x0b1\x0c", "1\r",
    "\u20001\u2001", "\x1c1", "1\x1f", "\x851", "1\x00", "+", "-", ".", "e5", ".e5", "1e", "1e+", "1e+5", "1E-5",
    "+.5", "-.5e-3", "0e999999999999", "1e999999999999", "4.9e-324", "2.4703282292062328e-324",
    "2.4703282292062327e-324", "1.7976931348623157e308", "1.7976931348623159e308", "0.1", "0.30000000000000004",
    "123456789012345678901234567890", "0." + "0" * 400 + "1", "9" * 400, "Infinity", "+inf", "+nan", "nAn",
    "-INF", "in f", "inf inity", "infinityy", "nan0", "1 000", "١٬٢", "١٫٥", "\U0001fbf5", "\U00011f55",
    "\u0bef", "\u00bd", "\u2460", "\u00b9", "\u0f29", "\u1369", "\u19da", "\U0001e950\U0001e959",
]))


def float_bits(s):
    try:
        v = float(s)
    except Exception:
        return None
    if v != v:
        return "nan"
    return struct.pack(">d", v).hex()


FIRST_STEP = {
    "answer": "72",
    "completions": [
        f"{RS}Natalia sold 48/2 = 24 clips in May, so 48 + 24 = 72 in all.{RE}{SS}72{SE}",
        f"{RS}Half of 48 is 24, and she sold 24 + 12 = 36.{RE}{SS}36{SE}",
        f"{RS}48 + 24 = 72{RE}{SS}72",
        f"{RS}48 + 24 = 72{RE}The answer is 72.{SE}",
        f"{RS}She sold 48 and then 24.{RE}\nSo the total is 72 clips.{SE}",
        f"{RS}April: 48, May: 24{RE}Answer: 72{SE}\n",
        f"{RS}I think the answer is 72.{RE}",
        f"{RS}Let me think about this problem step by step",
    ],
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reward_fixtures.json")
    cases = make_cases()
    assert len(cases) >= 500, len(cases)
    step = [scores(c, FIRST_STEP["answer"]) for c in FIRST_STEP["completions"]]
    means = [sum(s[i] for s in step) / len(step) for i in range(4)]
    assert means == [0.75, 0.3125, 0.1875, 0.3125], means
    assert sum(means) == 1.5625
    fixture = {
        "python": sys.version.split()[0],
        "unicode": unicodedata.unidata_version,
        "functions": ["match_format_exactly", "match_format_approximately", "check_answer", "check_numbers"],
        "cases": cases,
        "floats": [{"s": s, "v": float_bits(s)} for s in FLOAT_STRINGS],
        "first_step": {"answer": FIRST_STEP["answer"], "completions": FIRST_STEP["completions"],
                       "scores": step, "means": means, "reward": sum(means)},
        "whitespace": [c for c in range(0x110000) if chr(c).isspace()],
        "decimal_zeros": [c for c in range(0x110000) if unicodedata.decimal(chr(c), -1) == 0],
        "regex_digits_equal_decimal": all(
            (re.match(r"\d", chr(c)) is not None) == chr(c).isdecimal() for c in range(0x110000)),
        "regex_space_equal_isspace": all(
            (re.match(r"\s", chr(c)) is not None) == chr(c).isspace() for c in range(0x110000)),
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=True, separators=(",", ":"))
        f.write("\n")
    print(f"{out}: {len(cases)} completions, {len(fixture['floats'])} float strings")


if __name__ == "__main__":
    main()
