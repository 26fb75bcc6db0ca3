"""tiktoken's "gpt2" encoding built from the local GPT-2 files (the machine has no access to OpenAI's blob store).

The files in shared/data/gpt2-tokenizer are the ones tiktoken pins by sha256; the hashes are checked here too.
"""
import hashlib
import os

import tiktoken
from tiktoken.load import data_gym_to_mergeable_bpe_ranks
from tiktoken_ext.openai_public import r50k_pat_str


def gpt2_encoding(gpt2_dir):
    vocab = os.path.join(gpt2_dir, "vocab.json")
    merges = os.path.join(gpt2_dir, "merges.txt")
    for path, digest in ((merges, "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"),
                         (vocab, "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783")):
        with open(path, "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != digest:
                raise SystemExit(f"{path}: not the GPT-2 file tiktoken pins")
    ranks = data_gym_to_mergeable_bpe_ranks(vocab_bpe_file=merges, encoder_json_file=vocab)
    return tiktoken.Encoding(name="gpt2", explicit_n_vocab=50257, pat_str=r50k_pat_str,
                             mergeable_ranks=ranks, special_tokens={"<|endoftext|>": 50256})
