"""Writes the LoRA conformance fixtures with the real torch + transformers + PEFT.

Usage:
  python make_lora_fixtures.py             # (re)writes Fixtures/lora_tiny/
  python make_lora_fixtures.py --check DIR # loads an adapter folder saved by `pipeline` (DIR, written by our
                                           # LoRA.save for the fixture model) with PeftModel.from_pretrained
                                           # and prints the max relative logit error against DIR/logits.json
                                           # ... see --check below

The base model is the tiny GPT-2 of make_gpt2_fixtures.py (Fixtures/gpt2_tiny/model; 2 layers, 64 wide,
vocab 1000) and the batch is the one in gpt2_tiny/expected.json (2x16 ids, labels with -100).

Outputs (Fixtures/lora_tiny/):
  adapter/adapter_config.json, adapter/adapter_model.safetensors  PEFT save_pretrained of a LoRA (r=4,
      alpha=8, dropout 0, targets c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj, fan_in_fan_out) whose lora_B is
      set to random normal(0, 0.05) values (PEFT initialises it to zero, which would hide errors), and whose
      values are rounded to bfloat16-representable floats
  expected.safetensors.zst  logits [2,16,1000] of the PEFT model on the batch, the loss, and the gradient of
      every lora_A / lora_B weight (PEFT's saved names)
  merged_logits: logits after merge_and_unload() are checked equal in the script (asserted)
"""
import json, os, sys, subprocess, tempfile, shutil
import torch
from transformers import GPT2LMHeadModel
from peft import LoraConfig, get_peft_model, PeftModel
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = os.path.join(HERE, "gpt2_tiny")
OUT = os.path.join(HERE, "lora_tiny")
TARGETS = ["c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"]

torch.set_num_threads(1)

def base_model():
    tmp = tempfile.mkdtemp()
    shutil.copy(os.path.join(BASE, "model", "config.json"), tmp)
    subprocess.run(["zstd", "-q", "-d", "-f", os.path.join(BASE, "model", "model.safetensors.zst"),
                    "-o", os.path.join(tmp, "model.safetensors")], check=True)
    m = GPT2LMHeadModel.from_pretrained(tmp)
    shutil.rmtree(tmp)
    m.config.name_or_path = "gpt2_tiny/model"
    m.name_or_path = "gpt2_tiny/model"
    m.eval()
    return m

def batch():
    e = json.load(open(os.path.join(BASE, "expected.json")))
    return torch.tensor(e["input_ids"]), torch.tensor(e["labels"])

def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2]); return
    torch.manual_seed(99)
    model = base_model()
    cfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=TARGETS, fan_in_fan_out=True,
                     bias="none", task_type="CAUSAL_LM")
    pm = get_peft_model(model, cfg)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for n, p in pm.named_parameters():
            if "lora_B" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
            if "lora_" in n:
                p.copy_(p.to(torch.bfloat16).to(torch.float32))
    pm.eval()
    os.makedirs(OUT, exist_ok=True)
    pm.save_pretrained(os.path.join(OUT, "adapter"))
    for f in os.listdir(os.path.join(OUT, "adapter")):
        if f not in ("adapter_config.json", "adapter_model.safetensors"):
            os.remove(os.path.join(OUT, "adapter", f))
    ids, labels = batch()
    out = pm(input_ids=ids, labels=labels)
    out.loss.backward()
    tensors = {"logits": out.logits.detach().contiguous(), "loss": out.loss.detach().reshape(1)}
    for n, p in pm.named_parameters():
        if p.requires_grad:
            # PEFT's saved name: drop the adapter name
            tensors["grad." + n.replace(".default", "")] = p.grad.detach().clone().contiguous()
    with torch.no_grad():
        merged = pm.merge_and_unload()
        ml = merged(input_ids=ids).logits
    err = ((ml - out.logits).abs().max() / out.logits.abs().max()).item()
    assert err < 1e-5, err
    path = os.path.join(OUT, "expected.safetensors")
    save_file(tensors, path)
    subprocess.run(["zstd", "-q", "-f", "-19", "--rm", path, "-o", path + ".zst"], check=True)
    print("loss", out.loss.item(), "trainable", sum(p.numel() for n, p in pm.named_parameters() if p.requires_grad),
          "merge rel err", err)

def check(adapter_dir):
    """Loads an adapter saved by pipeline on the fixture base model and compares its logits with those in
    adapter_dir/check_logits.json written beside it by the Swift side (`logits` flat list, `shape`)."""
    model = base_model()
    pm = PeftModel.from_pretrained(model, adapter_dir)
    pm.eval()
    ids, _ = batch()
    with torch.no_grad():
        logits = pm(input_ids=ids).logits
    ref = json.load(open(os.path.join(adapter_dir, "check_logits.json")))
    ours = torch.tensor(ref["logits"]).reshape(ref["shape"])
    err = ((ours - logits).abs().max() / logits.abs().max()).item()
    print(f"PEFT loaded {adapter_dir}: max relative logit error vs pipeline {err:.3e}")
    assert err < 1e-4

if __name__ == "__main__":
    main()
