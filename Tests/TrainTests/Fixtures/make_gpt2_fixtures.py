"""Writes the GPT-2 conformance fixtures with the real torch + transformers.

Usage:
  python make_gpt2_fixtures.py            # (re)writes Fixtures/gpt2_tiny/
  python make_gpt2_fixtures.py --mid DIR    # the same files for a mid-size model (6 layers, 256 wide, 8 heads,
                                           # vocab 8000, 256 positions, batch 4x128) into DIR, not committed
                                           # (~30 MB); GPT2_MID_FIXTURE=DIR swift test runs the same checks on it
  python make_gpt2_fixtures.py --check DIR # loads a model folder saved by `pipeline` and compares its logits
                                           # with our fixture model's expected logits (DIR must hold the fixture
                                           # model re-saved by our code, e.g. by `pipeline export model DIR`).

Outputs (Fixtures/gpt2_tiny/):
  model/config.json, model/model.safetensors.zst  tiny random GPT-2 (save_pretrained; weights rounded to
      bfloat16-representable float32 values so the file compresses; still float32 tensors)
  grads.safetensors.zst   d(loss)/d(param) for every parameter, float32, transformers' names
  logits.safetensors.zst  logits [2,16,1000] of the fixture batch
  expected.json           input ids, labels (with -100), loss, 10 AdamW steps'
                          losses, greedy generate() tokens
"""
import json, os, sys, subprocess, math
import torch
from transformers import GPT2Config, GPT2LMHeadModel, get_cosine_schedule_with_warmup
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "gpt2_tiny")

torch.manual_seed(1234)
torch.set_num_threads(1)

def zstd(path):
    subprocess.run(["zstd", "-q", "-f", "-19", "--rm", path, "-o", path + ".zst"], check=True)

SHAPE = dict(vocab_size=1000, n_positions=64, n_embd=64, n_layer=2, n_head=4)
BATCH = (2, 16)

def inputs():
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(0, SHAPE["vocab_size"], BATCH, generator=g)
    labels = ids.clone()
    labels[0, 3] = -100
    labels[0, 9] = -100
    labels[1, 0:4] = -100
    labels[1, 15] = -100
    return ids, labels

# Hyper-parameters of the AdamW fixture (mirrored in the Swift test).
LR, BETAS, EPS, WD, CLIP, WARMUP, STEPS = 3e-3, (0.9, 0.95), 1e-8, 0.1, 0.5, 3, 10

def main():
    global OUT, SHAPE, BATCH
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2]); return
    if len(sys.argv) == 3 and sys.argv[1] == "--mid":
        OUT = sys.argv[2]
        SHAPE = dict(vocab_size=8000, n_positions=256, n_embd=256, n_layer=6, n_head=8)
        BATCH = (4, 128)
    config = GPT2Config(**SHAPE, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=999)
    model = GPT2LMHeadModel(config)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).to(torch.float32))
    model.eval()
    os.makedirs(OUT, exist_ok=True)
    mdir = os.path.join(OUT, "model")
    model.save_pretrained(mdir, safe_serialization=True)
    for f in os.listdir(mdir):
        if f not in ("config.json", "model.safetensors"):
            os.remove(os.path.join(mdir, f))
    ids, labels = inputs()
    out = model(input_ids=ids, labels=labels)
    out.loss.backward()
    grads = {n: p.grad.detach().clone().contiguous() for n, p in model.named_parameters()}
    save_file(grads, os.path.join(OUT, "grads.safetensors"))
    save_file({"logits": out.logits.detach().contiguous()}, os.path.join(OUT, "logits.safetensors"))
    zstd(os.path.join(OUT, "logits.safetensors"))
    zstd(os.path.join(OUT, "grads.safetensors"))
    logits = out.logits.detach()
    loss = out.loss.item()

    # greedy generation, prompts one at a time (no padding)
    prompts = [[5, 17, 300, 42], [999 - 1, 1, 2, 3, 4, 5, 6, 7]]
    gen = []
    for p in prompts:
        r = model.generate(torch.tensor([p]), do_sample=False, max_new_tokens=24, eos_token_id=999,
                           pad_token_id=999, attention_mask=torch.ones(1, len(p), dtype=torch.long))
        gen.append(r[0, len(p):].tolist())

    # 10 AdamW steps on the same batch: decay on 2-D weights, none on biases and LayerNorm weights,
    # global-norm clipping, linear warm-up + cosine schedule (transformers' get_cosine_schedule_with_warmup).
    m2 = GPT2LMHeadModel.from_pretrained(mdir)
    m2.train()
    decay = [p for n, p in m2.named_parameters() if p.dim() >= 2]
    nodecay = [p for n, p in m2.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=EPS)
    sched = get_cosine_schedule_with_warmup(opt, WARMUP, STEPS)
    losses, norms, lrs = [], [], []
    for _ in range(STEPS):
        opt.zero_grad()
        l = m2(input_ids=ids, labels=labels).loss
        l.backward()
        n = torch.nn.utils.clip_grad_norm_(m2.parameters(), CLIP)
        lrs.append(sched.get_last_lr()[0])
        opt.step(); sched.step()
        losses.append(l.item()); norms.append(n.item())
    with torch.no_grad():
        final = m2(input_ids=ids, labels=labels).loss.item()

    expected = {
        "input_ids": ids.tolist(), "labels": labels.tolist(),
        "loss": loss,
        "adamw": {"lr": LR, "beta1": BETAS[0], "beta2": BETAS[1], "eps": EPS, "weight_decay": WD,
                  "clip": CLIP, "warmup": WARMUP, "steps": STEPS,
                  "losses": losses, "grad_norms": norms, "lrs": lrs, "final_loss": final},
        "generate": {"prompts": prompts, "max_new_tokens": 24, "eos": 999, "tokens": gen},
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f)
    zstd(os.path.join(mdir, "model.safetensors"))
    print("loss", loss, "adamw", losses, "gen", gen)

def check(d):
    with open(os.path.join(OUT, "expected.json")) as f:
        e = json.load(f)
    model = GPT2LMHeadModel.from_pretrained(d)
    model.eval()
    ids = torch.tensor(e["input_ids"])
    with torch.no_grad():
        logits = model(input_ids=ids).logits.flatten()
    from safetensors.torch import load
    import zstandard  # noqa: only used by --check
    ref = load(zstandard.ZstdDecompressor().decompress(open(os.path.join(OUT, "logits.safetensors.zst"), "rb").read()))["logits"].flatten()
    err = ((logits - ref).abs().max() / ref.abs().max()).item()
    print("max relative logit error of the reloaded checkpoint:", err)
    sys.exit(0 if err < 1e-4 else 1)

if __name__ == "__main__":
    main()
