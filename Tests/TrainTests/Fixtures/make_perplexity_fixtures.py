"""Writes the sliding-window perplexity fixture with the real torch + transformers.

Usage:
  python make_perplexity_fixtures.py     # (re)writes Fixtures/perplexity.json

Runs the loop of the transformers guide "Perplexity of fixed-length models" (docs/transformers/perplexity) on
the committed tiny GPT-2 (gpt2_tiny/model) over a fixed token stream, for several (max_length, stride) pairs:
windows input_ids[begin:end] with end = min(begin + max_length, seq_len), begin stepping by stride, the labels
of all but the last trg_len = end - prev_end tokens set to -100, model(input_ids, labels=target_ids), stopping
when end == seq_len. Records per case:
  guide_nll     the guide's mean: sum of outputs.loss * (valid labels - 1) over the sum of (valid labels - 1)
  nll           the exact mean: the sum of every scored token's cross-entropy over their count
  tokens        the count of scored tokens (label positions that are not -100 after the shift)
  windows       forward passes
  perplexity    exp(nll)
"""
import json, math, os, subprocess, tempfile, shutil
import torch
import torch.nn.functional as F
from transformers import GPT2LMHeadModel

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "gpt2_tiny", "model")
OUT = os.path.join(HERE, "perplexity.json")
CASES = [(64, 64), (64, 32), (64, 16), (64, 1), (32, 8), (17, 16), (64, 50), (2, 1)]
N_TOKENS = 301

torch.set_num_threads(1)


def load():
    tmp = tempfile.mkdtemp()
    shutil.copy(os.path.join(MODEL, "config.json"), tmp)
    subprocess.run(["zstd", "-q", "-d", "-f", os.path.join(MODEL, "model.safetensors.zst"),
                    "-o", os.path.join(tmp, "model.safetensors")], check=True)
    model = GPT2LMHeadModel.from_pretrained(tmp).eval()
    shutil.rmtree(tmp)
    return model


def stream(vocab):
    # a stream with some structure (runs counting upwards, random jumps), fixed by the seed
    g = torch.Generator().manual_seed(11)
    ids, t = [], 0
    for _ in range(N_TOKENS):
        t = int(torch.randint(0, vocab, (1,), generator=g)) if torch.rand(1, generator=g) < 0.3 else (t + 1) % vocab
        ids.append(t)
    return ids


def case(model, ids, max_length, stride):
    encodings = torch.tensor([ids])
    seq_len = encodings.size(1)
    nll_sum, n_tokens = 0.0, 0          # the guide's weighting
    exact_sum, exact_count = 0.0, 0     # every scored token once
    windows = 0
    prev_end_loc = 0
    for begin_loc in range(0, seq_len, stride):
        end_loc = min(begin_loc + max_length, seq_len)
        trg_len = end_loc - prev_end_loc
        input_ids = encodings[:, begin_loc:end_loc]
        target_ids = input_ids.clone()
        target_ids[:, :-trg_len] = -100
        with torch.no_grad():
            outputs = model(input_ids, labels=target_ids)
            neg_log_likelihood = outputs.loss
            logits = outputs.logits[:, :-1, :].double()
            labels = target_ids[:, 1:]
            mask = labels != -100
            if mask.any():
                exact_sum += float(F.cross_entropy(logits[mask], labels[mask], reduction="sum"))
                exact_count += int(mask.sum())
        num_valid_tokens = (target_ids != -100).sum().item()
        num_loss_tokens = num_valid_tokens - target_ids.size(0)
        if num_loss_tokens > 0:
            nll_sum += float(neg_log_likelihood) * num_loss_tokens
            n_tokens += num_loss_tokens
        windows += 1
        prev_end_loc = end_loc
        if end_loc == seq_len:
            break
    nll = exact_sum / exact_count
    return dict(window=max_length, stride=stride, guide_nll=nll_sum / n_tokens, nll=nll, perplexity=math.exp(nll),
                tokens=exact_count, windows=windows)


def main():
    model = load()
    ids = stream(model.config.vocab_size)
    cases = [case(model, ids, w, s) for w, s in CASES]
    for c in cases:
        print(c)
    with open(OUT, "w") as f:
        json.dump(dict(ids=ids, cases=cases, torch=torch.__version__,
                       transformers=__import__("transformers").__version__), f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
