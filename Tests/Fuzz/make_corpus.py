#!/usr/bin/env python3
"""Writes the seed corpus of `make fuzz` (Tests/Fuzz/corpus/<target>/) from the repository's fixtures.

Small valid inputs only: libFuzzer mutates them; their size bounds the inputs it tries (-max_len).
Run from the repository root: python3 Tests/Fuzz/make_corpus.py
"""
import json
import os
import struct
import subprocess

OUT = "Tests/Fuzz/corpus"


def write(target, name, data):
    os.makedirs(f"{OUT}/{target}", exist_ok=True)
    with open(f"{OUT}/{target}/{name}", "wb") as f:
        f.write(data)


def safetensors(tensors, metadata=None):
    """tensors: [(name, dtype, shape, raw bytes)] -> the bytes of a safetensors file."""
    header, offset, body = {}, 0, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        body += raw
    js = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    return struct.pack("<Q", len(js)) + js + body


def real_adapter_prefix(path, keep):
    """The first `keep` tensors of a committed PEFT adapter, header and data as PEFT wrote them."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    names = sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])
    tensors = []
    for k in names[:keep]:
        b, e = header[k]["data_offsets"]
        raw = data[8 + n + b:8 + n + e]
        shape = header[k]["shape"]
        if len(raw) > 256:  # keep seeds small: a prefix of the first dimension
            row = len(raw) // shape[0]
            rows = max(1, 256 // row)
            raw, shape = raw[:rows * row], [rows] + shape[1:]
        tensors.append((k, header[k]["dtype"], shape, raw))
    return safetensors(tensors, header.get("__metadata__"))


def safetensors_seeds():
    f32 = struct.pack("<6f", 0.0, 1.0, -2.5, 3.25, float("inf"), 1e-40)
    f16 = struct.pack("<4H", 0x3C00, 0xC000, 0x0001, 0x7C00)
    bf16 = struct.pack("<4H", 0x3F80, 0xC020, 0x0000, 0x7F80)
    seeds = {
        "f32_2x3": safetensors([("w", "F32", [2, 3], f32)], {"format": "pt"}),
        "mixed": safetensors([("a", "F16", [4], f16), ("b", "BF16", [2, 2], bf16), ("s", "F32", [], f32[:4])]),
        "empty_tensor": safetensors([("z", "F32", [0, 5], b"")]),
        "no_tensors": safetensors([], {"format": "pt"}),
        "lora_adapter": real_adapter_prefix("Tests/TrainTests/Fixtures/lora_tiny/adapter/adapter_model.safetensors", 2),
    }
    for target in ["safetensors-index", "safetensors-train"]:
        for name, data in seeds.items():
            write(target, name, data)


def tokenizer_seeds():
    """The committed tokenizers of the training fixtures, cut to their first merges (still valid files)."""
    for case in ["english_300_f0", "ties_300_f0_specials"]:
        with open(f"Tests/TokenizeTests/Fixtures/expected/{case}/tokenizer.json") as f:
            tj = json.load(f)
        merges = tj["model"]["merges"][:12]
        vocab = tj["model"]["vocab"]
        # The byte alphabet, the added tokens, and the merges' parts and results.
        needed = {k for k, v in vocab.items() if v < 256 + len(tj.get("added_tokens", []))}
        for m in merges:
            left, right = m if isinstance(m, list) else m.split(" ", 1)
            needed |= {left, right, left + right}
        ids = sorted(vocab[k] for k in needed)
        renumber = {old: new for new, old in enumerate(ids)}
        tj["model"]["vocab"] = {k: renumber[v] for k, v in vocab.items() if k in needed}
        tj["model"]["merges"] = merges
        for a in tj.get("added_tokens", []):
            a["id"] = renumber.get(a["id"], a["id"])
        write("tokenizer-json", case + ".json", json.dumps(tj, ensure_ascii=False).encode())
    tiny = {"version": "1.0", "added_tokens": [], "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "post_processor": None, "decoder": {"type": "ByteLevel"},
            "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3}, "merges": ["a b"]}}
    write("tokenizer-json", "tiny.json", json.dumps(tiny).encode())


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c", "-3"], input=data, stdout=subprocess.PIPE, check=True).stdout


def jsonl_seeds():
    texts = subprocess.run(["zstdcat", "Tests/IndexTests/Fixtures/embed_texts.jsonl.zst"], stdout=subprocess.PIPE,
                           check=True).stdout.split(b"\n")[:3]
    pages = b"".join(json.dumps({"doc_id": "0123456789abcdef", "page": i, "text": t}).encode() + b"\n"
                     for i, t in enumerate(["First page.", "Second\npage \u00e9", ""]))
    write("jsonl", "pages.jsonl", pages)
    write("jsonl", "pages.jsonl.zst", zstd(pages))
    write("jsonl", "texts_no_final_newline.jsonl", b"\n".join(texts).rstrip(b"\n")[:600])
    write("jsonl", "blank_and_crlf.jsonl", b'{"page": 1}\r\n\r\n  \n{"text": "x"}\n')
    write("jsonl", "two_frames.jsonl.zst", zstd(pages[:40]) + zstd(pages[40:]))


def frame(body):
    return struct.pack("<I", len(body)) + body


def string(s):
    b = s.encode()
    return struct.pack("<I", len(b)) + b


def optional(s):
    return b"\x00" if s is None else b"\x01" + string(s)


def response(skip=None, note=None, title=None, author=None, created=None, diagnostics=None, pages=()):
    body = b"".join(optional(x) for x in [skip, note, title, author, created, diagnostics])
    body += struct.pack("<I", len(pages)) + b"".join(string(p) for p in pages)
    return frame(body)


def worker_seeds():
    ok = response(title="A paper", author="Someone", created="2020-01-01T00:00:00Z",
                  pages=["Page one text.\n", "Page two \u00e9\ufb01.\n", ""])
    write("worker-protocol", "answer_ok", ok)
    write("worker-protocol", "answer_skipped", response(skip="encrypted (wrong or missing password)"))
    write("worker-protocol", "answer_note", response(note="truncated; 1 page recovered",
                                                     diagnostics="Syntax Error (and 2 more lines)", pages=["x"]))
    write("worker-protocol", "two_answers", ok + response(skip="empty file"))
    request = frame(string("/data/papers/a.pdf") + optional("secret") + string("nfkc") + b"\x01\x00")
    write("worker-protocol", "request", request)


if __name__ == "__main__":
    safetensors_seeds()
    tokenizer_seeds()
    jsonl_seeds()
    worker_seeds()
