#!/usr/bin/env python3
"""GRPO benchmark (run by bench_grpo.sh): seconds per optimizer step, `pipeline grpo` against TRL's GRPOTrainer
with a PEFT LoRA, same model, data, batch shape and completion length, 2 threads each, fp32, in one run.

Model: a random GPT-2 (`--shape small`: 6 layers, 384 wide, 6 heads, 512 positions) with the GPT-2 tokenizer of
../shared/data/gpt2-tokenizer (vocabulary 50257), saved by transformers. Data: GSM8K train records made by
`pipeline gsm8k` (prompt_text and answer). Both sides: LoRA r=8, alpha 16, dropout 0.05 on c_attn, 2 prompts × 2
generations per micro-batch, 4 micro-batches per step (8 completions), temperature 1, completions of exactly
--completion tokens (EOS suppressed on both sides by the random model's odds: a random model rarely ends early;
the mean lengths are printed), beta 0.04 (reference pass included), the four reward functions.
Ours is timed from its metrics (step_time, generation_time of steps 2..N); TRL from its step timestamps
(steps 2..N). With --gpt2 also our GRPO steps per hour for GPT-2 124M (random weights, same settings). Ours
prints its peak resident memory (the kernel's maxrss of the grpo process), TRL that of the benchmark process.
Each row also prints the step's hardware bound: `pipeline bench bound --work grpo` (Core/Cost.swift: the 8
completions generated as one batch after prompts of the records' mean token length, the LoRA policy's forward and
backward with the LM head only on completion positions, and the reference forward) over the sgemm peak and read
bandwidth of the system OpenBLAS measured in the same run (`pipeline bench peak`, 2 threads).
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.environ.get("PIPELINE_BIN", os.path.join(ROOT, ".build/release/pipeline"))
SHARED = os.environ.get("PIPELINE_SHARED_DATA", os.path.join(ROOT, "../shared/data"))
THREADS = 2
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bounds  # noqa: E402


def rewards_module():
    import importlib.util
    path = os.path.join(ROOT, "Tests/GSM8KTests/Fixtures/make_reward_fixtures.py")
    spec = importlib.util.spec_from_file_location("rewards", path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def hf_tokenizer():
    """The GPT-2 tokenizer from vocab.json + merges.txt, through `tokenizers` (what tokenizer.json would hold)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, AddedToken
    from transformers import PreTrainedTokenizerFast
    d = os.path.join(SHARED, "gpt2-tokenizer")
    t = Tokenizer(models.BPE.from_file(os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt")))
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.decoder = decoders.ByteLevel()
    t.add_special_tokens([AddedToken("<|endoftext|>", special=True, normalized=False)])
    return PreTrainedTokenizerFast(tokenizer_object=t, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>")


def make_model(tmp, shape):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(0)
    tok = hf_tokenizer()
    if shape == "small":
        cfg = GPT2Config(vocab_size=50257, n_positions=512, n_embd=384, n_layer=6, n_head=6)
    else:
        cfg = GPT2Config()  # GPT-2 124M
    model = GPT2LMHeadModel(cfg)
    d = os.path.join(tmp, "model-" + shape)
    model.save_pretrained(d)
    tok.save_pretrained(d)
    return d


def bound(p, model_dir, prompt, completion):
    """The step's bound in seconds: 8 completions, LoRA r=8 on c_attn, with the reference pass."""
    return bounds.bound(BIN, p, os.path.join(model_dir, "config.json"), "--work", "grpo", "--batch", 8,
                        "--prompt", round(prompt), "--new-tokens", round(completion), "--rank", 8, "--adapted", 2,
                        "--reference")["bound_seconds"]


def ours(tmp, model_dir, data, steps, completion):
    work = os.path.join(tmp, "work-" + os.path.basename(model_dir))
    shutil.rmtree(work, ignore_errors=True)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    cmd = [BIN, "grpo", "-q", "--workdir", work, "--model", model_dir,
           "--tokenizer", os.path.join(SHARED, "gpt2-tokenizer"), "--data", data,
           "--max-steps", str(steps), "--num-generations", "2", "--batch", "2", "--grad-accum", "4",
           "--max-completion-length", str(completion), "--max-prompt-length", "256", "--beta", "0.04",
           "--threads", str(THREADS), "--save-every", "1000", "--sample-every", "0"]
    # Its peak resident memory from the kernel's accounting of this one child (wait4).
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise subprocess.CalledProcessError(os.waitstatus_to_exitcode(status), cmd)
    peak_mib = usage.ru_maxrss / 1024   # Linux reports KiB
    text = subprocess.run(["zstd", "-dcq", os.path.join(work, "grpo/metrics.jsonl.zst")], capture_output=True,
                          text=True, check=True).stdout
    m = [json.loads(l) for l in text.splitlines()][1:]
    step = sum(r["step_time"] for r in m) / len(m)
    gen = sum(r["generation_time"] for r in m) / len(m)
    length = sum(r["completions/mean_length"] for r in m) / len(m)
    return step, gen, length, peak_mib


def trl(model_dir, records, steps, completion):
    import torch
    torch.set_num_threads(THREADS)
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import GPT2LMHeadModel, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer
    R = rewards_module()

    def match_format_exactly(completions, **kw): return [R.match_format_exactly(c) for c in completions]
    def match_format_approximately(completions, **kw): return [R.match_format_approximately(c) for c in completions]
    def check_answer(completions, answer, **kw): return [R.check_answer(c, a) for c, a in zip(completions, answer)]
    def check_numbers(completions, answer, **kw): return [R.check_numbers(c, a) for c, a in zip(completions, answer)]

    tok = hf_tokenizer()
    tok.padding_side = "left"
    model = GPT2LMHeadModel.from_pretrained(model_dir)
    ds = Dataset.from_list([{"prompt": r["prompt_text"], "answer": r["answer"]} for r in records])
    args = GRPOConfig(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=2, gradient_accumulation_steps=4,
                      num_generations=2, max_completion_length=completion, temperature=1.0, learning_rate=3e-5,
                      max_steps=steps, logging_steps=1, save_strategy="no", report_to="none", use_cpu=True,
                      seed=42, beta=0.04, bf16=False, dataloader_num_workers=0)
    lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, target_modules=["c_attn"], fan_in_fan_out=True,
                      bias="none", task_type="CAUSAL_LM")
    stamps, lengths = [], []

    class Clock(TrainerCallback):
        def on_step_end(self, a, state, control, **kw): stamps.append(time.perf_counter())
        def on_log(self, a, state, control, logs=None, **kw):
            if logs and "completions/mean_length" in logs: lengths.append(logs["completions/mean_length"])

    tr = GRPOTrainer(model=model, reward_funcs=[match_format_exactly, match_format_approximately, check_answer,
                                                check_numbers], args=args, train_dataset=ds, processing_class=tok,
                     peft_config=lora, callbacks=[Clock()])
    tr.train()
    step = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
    return step, sum(lengths[1:]) / max(1, len(lengths) - 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--completion", type=int, default=64)
    ap.add_argument("--gpt2", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="pipeline-bench-grpo-")
    gsm = os.path.join(tmp, "gsm")
    subprocess.run([BIN, "gsm8k", "-q", "--workdir", gsm, os.path.join(SHARED, "gsm8k/train.jsonl")], check=True,
                   stdout=subprocess.DEVNULL)
    data = os.path.join(gsm, "gsm8k/train.jsonl.zst")
    text = subprocess.run(["zstd", "-dcq", data], capture_output=True, text=True, check=True).stdout
    records = [json.loads(l) for l in text.splitlines()[:200]]
    p = bounds.peak(BIN, THREADS)
    prompt_len = sum(len(hf_tokenizer()(r["prompt_text"])["input_ids"]) for r in records) / len(records)
    print(f"sgemm peak (system OpenBLAS, kernel {p['kernel']}, {THREADS} threads): {p['sgemm_gflops']:.1f} GFLOP/s; "
          f"read bandwidth {p['read_gbs']:.1f} GB/s; mean prompt {prompt_len:.1f} tokens")
    small = make_model(tmp, "small")
    o_step, o_gen, o_len, o_peak = ours(tmp, small, data, a.steps, a.completion)
    t_step, t_len = trl(small, records, a.steps, a.completion)
    import resource
    t_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # this process: torch, TRL, the model
    b = bound(p, small, prompt_len, o_len)
    print(f"GRPO step, GPT-2 small shape (6x384, vocab 50257), LoRA r=8 c_attn, 8 completions of <= {a.completion} tokens, beta 0.04:")
    print(f"  pipeline grpo: {o_step:.2f} s/step (generation {o_gen:.2f} s, training {o_step - o_gen:.2f} s), mean length {o_len:.1f}, peak resident {o_peak:.0f} MiB")
    print(f"  TRL GRPOTrainer + PEFT (torch, {THREADS} threads): {t_step:.2f} s/step, mean length {t_len:.1f}, peak resident {t_peak:.0f} MiB (the benchmark process)")
    print(f"  ratio {t_step / o_step:.2f}x; step bound {b:.3f} s: pipeline {100 * b / o_step:.1f}% of it, "
          f"TRL {100 * b / t_step:.1f}%")
    if a.gpt2:
        big = make_model(tmp, "gpt2")
        g_step, g_gen, g_len, g_peak = ours(tmp, big, data, 3, a.completion)
        gb = bound(p, big, prompt_len, g_len)
        print(f"GPT-2 124M, same settings: pipeline grpo {g_step:.1f} s/step (generation {g_gen:.1f} s), "
              f"{3600 / g_step:.0f} steps/hour; step bound {gb:.3f} s, pipeline {100 * gb / g_step:.1f}% of it; "
              f"peak resident {g_peak:.0f} MiB (goal: 3 GiB)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
