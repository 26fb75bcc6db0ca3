#!/usr/bin/env python3
"""Tokenize benchmark: `pipeline bpe-train` vs Hugging Face tokenizers' BpeTrainer, and `pipeline encode` vs
tiktoken's gpt2 encoding, on the same >= 100 MB of real text, 2 threads each, in one run. Prints ratios.

Corpus: the text of GSM8K (shared/data/gsm8k) and of the shared PDFs (pdftotext), repeated until the target
size (BENCH_TOKENIZE_MB, default 100). Repetition multiplies word frequencies without adding new words: the
number of distinct words, and so the merge phase, stays that of the base text (about 6 MB).
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
SHARED = os.environ.get("PIPELINE_SHARED_DATA") or os.path.join(ROOT, "..", "shared", "data")
if not os.path.isdir(SHARED):
    SHARED = "/work/shared/data"
BIN = os.environ.get("PIPELINE_BIN", os.path.join(ROOT, ".build", "release", "pipeline"))
PY = sys.executable
MB = int(os.environ.get("BENCH_TOKENIZE_MB", "100"))
VOCAB = int(os.environ.get("BENCH_TOKENIZE_VOCAB", "50257"))
MINF = int(os.environ.get("BENCH_TOKENIZE_MIN_FREQUENCY", "50"))
CACHE = os.environ.get("BENCH_CACHE", os.path.join(tempfile.gettempdir(), "pipeline-bench"))


def base_text():
    parts = []
    for name in ("train.jsonl", "test.jsonl"):
        with open(os.path.join(SHARED, "gsm8k", name), encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                parts.append(rec["question"] + "\n" + rec["answer"] + "\n\n")
    pdfs = sorted(os.listdir(os.path.join(SHARED, "pdfs")))
    for p in pdfs:
        out = subprocess.run(["pdftotext", "-enc", "UTF-8", os.path.join(SHARED, "pdfs", p), "-"],
                             capture_output=True)
        if out.returncode == 0:
            parts.append(out.stdout.decode("utf-8", errors="replace").replace("\f", "\n") + "\n\n")
    return "".join(parts)


def corpus():
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"tokenize-corpus-{MB}mb.txt")
    if not os.path.exists(path):
        base = base_text().encode("utf-8")
        with open(path + ".tmp", "wb") as f:
            written = 0
            while written < MB * 1_000_000:
                f.write(base)
                written += len(base)
        os.replace(path + ".tmp", path)
        print(f"corpus: {len(base) / 1e6:.1f} MB of GSM8K + PDF text repeated to {written / 1e6:.0f} MB -> {path}")
    return path


def run_measured(cmd, env=None):
    """Runs a command; returns (wall seconds, peak RSS in MB, stdout)."""
    e = dict(os.environ)
    e.update(env or {})
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=e)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(cmd)}")
    return wall, ru.ru_maxrss / 1024, out


REF_TRAIN = r'''
import sys, time
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
tok = Tokenizer(models.BPE(unk_token=None))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
tr = trainers.BpeTrainer(vocab_size=int(sys.argv[2]), min_frequency=int(sys.argv[3]),
                         special_tokens=["<pad>", "<unk>", "<s>"],
                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
tok.train([sys.argv[1]], tr)
tok.save(sys.argv[4])
'''

REF_ENCODE = r'''
import sys, time, hashlib, array
sys.path.insert(0, sys.argv[3])
from tiktoken_gpt2 import gpt2_encoding
enc = gpt2_encoding(sys.argv[2])
data = open(sys.argv[1], "rb").read().decode("utf-8", errors="replace")
# Cut into blocks after a newline between two non-space ASCII characters (where the GPT-2 pattern always
# splits), so the concatenated ids equal those of the whole text; encode the blocks on 2 threads.
blocks, start, size = [], 0, 1 << 20
while start < len(data):
    end = min(len(data), start + size)
    while end < len(data) and not (data[end - 1] == "\n" and "!" <= data[end - 2] <= "~" and "!" <= data[end] <= "~"):
        end += 1
    blocks.append(data[start:end]); start = end
t0 = time.perf_counter()
ids = enc.encode_ordinary_batch(blocks, num_threads=2)
t = time.perf_counter() - t0
flat = array.array("I", [i for b in ids for i in b])
print(t, len(flat), hashlib.sha256(flat.tobytes()).hexdigest())
'''


def ours_ids_digest(path):
    import array
    raw = subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    assert raw[:4] == b"PTOK"
    width = int.from_bytes(raw[8:12], "little")
    ids = array.array("H" if width == 2 else "I", raw[16:])
    return len(ids), hashlib.sha256(array.array("I", ids).tobytes()).hexdigest()


def main():
    if not os.path.exists(BIN):
        raise SystemExit(f"{BIN} missing: build with `swift build -c release --product pipeline`")
    path = corpus()
    size_mb = os.path.getsize(path) / 1e6
    work = tempfile.mkdtemp(prefix="bench-tokenize-")

    # Training.
    ref_json = os.path.join(work, "ref-tokenizer.json")
    rt, rm, _ = run_measured([PY, "-c", REF_TRAIN, path, str(VOCAB), str(MINF), ref_json], {"RAYON_NUM_THREADS": "2"})
    ot, om, _ = run_measured([BIN, "bpe-train", "--workdir", work, "--force", "--quiet", "--threads", "2",
                              "--vocab-size", str(VOCAB), "--min-frequency", str(MINF), path])
    subprocess.run([BIN, "export", "tokenizer", os.path.join(work, "export"), "--workdir", work], check=True,
                   stdout=subprocess.DEVNULL)
    with open(ref_json, "rb") as a, open(os.path.join(work, "export", "tokenizer.json"), "rb") as b:
        same = a.read() == b.read()
    print(f"training on {size_mb:.0f} MB (vocab {VOCAB}, min_frequency {MINF}, 2 threads):")
    print(f"  tokenizers BpeTrainer  {rt:7.2f} s  peak RSS {rm:7.0f} MB")
    print(f"  pipeline bpe-train     {ot:7.2f} s  peak RSS {om:7.0f} MB")
    print(f"  speed-up {rt / ot:.2f}x, memory ratio (ours/ref) {om / rm:.2f}, tokenizer.json identical: {same}")

    # Encoding (GPT-2 vocabulary).
    gpt2 = os.path.join(SHARED, "gpt2-tokenizer")
    _, _, out = run_measured([PY, "-c", REF_ENCODE, path, gpt2, HERE], {"RAYON_NUM_THREADS": "2"})
    tt, tn, tdigest = out.decode().split()
    tt, tn = float(tt), int(tn)
    tokfile = os.path.join(work, "ours.bin.zst")
    et, em, _ = run_measured([BIN, "encode", "--tokenizer", gpt2, "--file", path, "--output", tokfile])
    n, digest = ours_ids_digest(tokfile)
    print(f"encoding {size_mb:.0f} MB with GPT-2 (2 threads):")
    print(f"  tiktoken encode_ordinary_batch  {tt:7.2f} s  {size_mb / tt:7.1f} MB/s  {tn} tokens (text in memory)")
    print(f"  pipeline encode                 {et:7.2f} s  {size_mb / et:7.1f} MB/s  {n} tokens "
          f"(process total: load, read .txt, write .zst)")
    print(f"  speed-up {tt / et:.2f}x, ids identical: {digest == tdigest and n == tn}")
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
