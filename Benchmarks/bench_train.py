"""GPT-2 training and generation speed: `pipeline` vs PyTorch + transformers, same shapes, 2 threads each.

  bench_train.py [--steps N] [--gen-tokens N] [--gpt2]

* training: the `small` config (6 layers, 384 wide, 6 heads, 512 positions; vocab 8192 here) at batch 8 x 256,
  AdamW + clipping; tokens/s over steps 2..N (step 1 is warm-up). With --gpt2 also GPT-2 124M (vocab 50257)
  at batch 4 x 64.
* generation: greedy, KV cache, 128 new tokens, batch 1 and 8, from the same random weights.
* every row's hardware bound: the step's FLOPs (and bytes) from `pipeline bench bound` (Core/Cost.swift: PaLM's
  6·N + 12·L·T·E per trained token, decode steps with the KV cache read) over the sgemm peak and read bandwidth of
  the system OpenBLAS measured in the same run (`pipeline bench peak`, 2 threads), and each side's fraction of it.
"""
import argparse, json, os, re, struct, subprocess, sys, tempfile, time
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
import numpy as np
import torch
from transformers import GPT2Config, GPT2LMHeadModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".build/release/pipeline")
THREADS = 2
torch.set_num_threads(THREADS)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bounds  # noqa: E402


def bound_text(b, ours_s, ref_s, ref_name):
    return (f"bound {b['bound_seconds'] * 1e3:.1f} ms ({b['limit']}): pipeline {100 * b['bound_seconds'] / ours_s:.0f}% "
            f"of it, {ref_name} {100 * b['bound_seconds'] / ref_s:.0f}%")


def write_tokens(path, vocab, n):
    ids = np.random.default_rng(0).integers(0, vocab, n).astype("<u2" if vocab <= 65536 else "<u4")
    with open(path, "wb") as f:
        f.write(b"PTOK" + struct.pack("<III", 1, ids.itemsize, vocab))
        f.write(ids.tobytes())


def ours_train(tmp, cfg, B, T, steps):
    cfg_path = os.path.join(tmp, "config.json")
    json.dump({"model_type": "gpt2", "activation_function": "gelu_new", **cfg}, open(cfg_path, "w"))
    tok = os.path.join(tmp, "tokens.bin")
    write_tokens(tok, cfg["vocab_size"], max(400_000, 40 * B * T))
    wd = os.path.join(tmp, "work")
    # The metrics file holds no timings (artifacts are byte-identical across runs); the per-step progress lines
    # printed with --log-every 1 carry the throughput: "step 3/10 loss … norm … 1234 tok/s".
    out = subprocess.run([BIN, "pretrain", "--workdir", wd, "-q", "--force", "--config", cfg_path, "--tokens", tok,
                          "--steps", str(steps), "--batch", str(B), "--seq", str(T), "--save-every", "100000",
                          "--eval-every", "100000", "--eval-batches", "1", "--threads", str(THREADS), "--log-every", "1"],
                         check=True, capture_output=True, text=True).stdout
    tps = [float(m.group(1)) for m in re.finditer(r"^step \d+/\d+ .* (\d+) tok/s", out, re.M)][1:]
    if not tps:
        raise SystemExit("bench_train: no 'tok/s' progress lines from pipeline pretrain")
    return float(np.median(tps)), os.path.join(wd, "pretrain"), cfg_path


def torch_train(cfg, B, T, steps):
    c = GPT2Config(**cfg, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    m = GPT2LMHeadModel(c)
    m.train()
    decay = [p for p in m.parameters() if p.dim() >= 2]
    nodecay = [p for p in m.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=6e-4, betas=(0.9, 0.95))
    times = []
    for _ in range(steps):
        x = torch.randint(0, cfg["vocab_size"], (B, T))
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = m(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        times.append(time.perf_counter() - t)
    return float(np.median([B * T / s for s in times[1:]]))


def ours_generate(model_dir, batch, new):
    args = [BIN, "generate", "-q", "--model", model_dir, "--greedy", "--max-new-tokens", str(new), "--timing",
            "--threads", str(THREADS), "--tokenizer", "/nonexistent"]
    for i in range(batch):
        args += ["--prompt-ids", ",".join(str(5 + i + j) for j in range(16))]
    err = subprocess.run(args, check=True, capture_output=True, text=True).stderr
    line = [l for l in err.splitlines() if l.startswith("generate:")][0]
    return float(line.split(",")[1].split()[0])


def torch_generate(model_dir, batch, new):
    m = GPT2LMHeadModel.from_pretrained(model_dir)
    m.eval()
    x = torch.tensor([[5 + i + j for j in range(16)] for i in range(batch)])
    with torch.no_grad():
        m.generate(x, do_sample=False, max_new_tokens=4, min_new_tokens=4, pad_token_id=0, attention_mask=torch.ones_like(x))
        t = time.perf_counter()
        out = m.generate(x, do_sample=False, max_new_tokens=new, min_new_tokens=new, pad_token_id=0,
                         attention_mask=torch.ones_like(x), eos_token_id=None)
        dt = time.perf_counter() - t
    return (out.shape[1] - x.shape[1]) * batch / dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--gen-tokens", type=int, default=128)
    ap.add_argument("--gpt2", action="store_true")
    a = ap.parse_args()
    p = bounds.peak(BIN, THREADS)
    print(f"sgemm peak (system OpenBLAS, kernel {p['kernel']}, {THREADS} threads, {p['sgemm_size']}^3): "
          f"{p['sgemm_gflops']:.1f} GFLOP/s; read bandwidth {p['read_gbs']:.1f} GB/s")
    shapes = [("small", dict(vocab_size=8192, n_positions=512, n_embd=384, n_layer=6, n_head=6), 8, 256)]
    if a.gpt2:
        shapes.append(("gpt2-124M", dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12), 4, 64))
    with tempfile.TemporaryDirectory() as tmp:
        for name, cfg, B, T in shapes:
            ours, model_dir, cfg_path = ours_train(tmp, cfg, B, T, a.steps)
            ref = torch_train(cfg, B, T, a.steps)
            b = bounds.bound(BIN, p, cfg_path, "--work", "train", "--batch", B, "--seq", T)
            print(f"train {name} {B}x{T}: pipeline {ours:.0f} tok/s, PyTorch {ref:.0f} tok/s, ratio {ours / ref:.2f}x; "
                  f"step {bound_text(b, B * T / ours, B * T / ref, 'PyTorch')} "
                  f"(pipeline {ours * b['flops'] / (B * T) / 1e9:.1f} GFLOP/s)")
            if name == "small":
                exp = os.path.join(tmp, "export")
                subprocess.run([BIN, "export", "model", "-q", "--model", model_dir, "--tokenizer", "/nonexistent", exp],
                               check=True, stdout=subprocess.DEVNULL)
                for batch in (1, 8):
                    o = ours_generate(exp, batch, a.gen_tokens)
                    r = torch_generate(exp, batch, a.gen_tokens)
                    n = batch * a.gen_tokens
                    b = bounds.bound(BIN, p, cfg_path, "--work", "generate", "--batch", batch, "--prompt", 16,
                              "--new-tokens", a.gen_tokens)
                    print(f"generate {name} batch {batch}, {a.gen_tokens} new tokens: pipeline {o:.0f} tok/s, "
                          f"transformers {r:.0f} tok/s, ratio {o / r:.2f}x; {bound_text(b, n / o, n / r, 'transformers')}")


if __name__ == "__main__":
    main()
