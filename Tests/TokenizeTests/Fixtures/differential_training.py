#!/usr/bin/env python3
"""Randomized differential check (a development tool, not run by `swift test`): trains tokenizers' BpeTrainer and
`pipeline bpe-train` on random small corpora with random settings and compares tokenizer.json byte for byte.

    /work/main/.venv-bench/bin/python Tests/TokenizeTests/Fixtures/differential_training.py [first_seed last_seed]

Needs a built binary (PIPELINE_BIN, default .build/release/pipeline). Prints each mismatching seed.
"""
import os
import random
import subprocess
import sys
import tempfile

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
BIN = os.environ.get("PIPELINE_BIN", os.path.join(ROOT, ".build", "release", "pipeline"))
ALPHABETS = ["ab ", "abc  \n", "aab b'sx\t", "ab1 2é😀\u0301 .,!", "aaaa b", "xyzxyz  xy zz\r\n", "ab<>pad s"]
SPECIALS = [["<pad>", "<unk>", "<s>"], [], ["ab", "a", "<pad>"], ["aa", "bb", "\u0120a"]]


def main():
    first, last = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (0, 100)
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(first, last):
            rng = random.Random(seed)
            alpha = rng.choice(ALPHABETS)
            lines = []
            for _ in range(rng.randint(5, 400)):
                line = "".join(rng.choice(alpha) for _ in range(rng.randint(0, 60)))
                lines.append(line + ("\n" if rng.random() < 0.95 else ""))
            corpus = os.path.join(tmp, "corpus.txt")
            with open(corpus, "w", encoding="utf-8", newline="") as f:
                f.write("".join(lines))
            vocab = rng.choice([260, 300, 400, 1000, 50000])
            minf = rng.choice([0, 1, 2, 3, 10])
            initial = rng.random() < 0.5
            prefix = rng.random() < 0.3
            specials = rng.choice(SPECIALS)
            tok = Tokenizer(models.BPE(unk_token=None))
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=prefix)
            tok.decoder = decoders.ByteLevel()
            kw = dict(vocab_size=vocab, min_frequency=minf, special_tokens=specials, show_progress=False)
            if initial:
                kw["initial_alphabet"] = pre_tokenizers.ByteLevel.alphabet()
            tok.train([corpus], trainers.BpeTrainer(**kw))
            ref = os.path.join(tmp, "ref.json")
            tok.save(ref)
            work = os.path.join(tmp, "work")
            cmd = [BIN, "bpe-train", "--workdir", work, "--force", "-q", "--vocab-size", str(vocab),
                   "--min-frequency", str(minf), "--special-tokens", ",".join(specials), corpus]
            if prefix:
                cmd.append("--add-prefix-space")
            if not initial:
                cmd.append("--no-initial-alphabet")
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            out = os.path.join(tmp, "export")
            subprocess.run([BIN, "export", "tokenizer", out, "--workdir", work], check=True, stdout=subprocess.DEVNULL)
            with open(ref, "rb") as a, open(os.path.join(out, "tokenizer.json"), "rb") as b:
                if a.read() != b.read():
                    bad += 1
                    print("MISMATCH seed", seed, vocab, minf, initial, prefix, specials)
    print(f"seeds {first}..{last - 1}: {bad} mismatches")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
