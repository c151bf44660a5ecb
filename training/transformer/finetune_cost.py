"""Estimates what fine-tuning MiniLM-L6 (encoder + a logistic head) would cost on one CPU
thread: times a few training steps (forward, backward, AdamW) on batches drawn from the
dump, and scales to an epoch. Trains nothing that is kept.

    python finetune_cost.py --dump /tmp/crossroads-transformer/oof.tsv --model /tmp/crossroads-transformer/model
"""

import argparse
import os
import random
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np
import torch

from common import read_dump
from embed import encode_batch, load

BATCH = 16
STEPS = 12


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dump", required=True)
    parser.add_argument("--model", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(7)
    rows = read_dump(args.dump)
    texts = [r["text"] for r in rows]
    labels = [float(r["label"] == "crisis") for r in rows]
    tokenizer, model = load(args.model)
    model.train()
    head = torch.nn.Linear(model.config.hidden_size, 2)
    optimiser = torch.optim.AdamW(list(model.parameters()) + list(head.parameters()), lr=2e-5)
    random.seed(7)
    times, tokens = [], []
    for step in range(STEPS + 2):
        pick = random.sample(range(len(texts)), BATCH)
        ids, mask = encode_batch(tokenizer, [texts[i] for i in pick])
        target = torch.tensor([labels[i] for i in pick])
        started = time.perf_counter()
        hidden = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
        m = mask.unsqueeze(-1).float()
        pooled = (hidden * m).sum(1) / m.sum(1)
        logits = head(torch.nn.functional.normalize(pooled, dim=1) * 20)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], target)
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        if step >= 2:
            times.append(time.perf_counter() - started)
            tokens.append(int(mask.sum()))
    per_step = float(np.mean(times))
    train_rows = int(len(texts) * 4 / 5)
    epoch = per_step * train_rows / BATCH
    print(f"{STEPS} steps of {BATCH} random messages: {per_step:.2f} s per step (mean {np.mean(tokens) / BATCH:.0f} real tokens per message, padded to the longest in the batch)")
    print(f"one epoch over {train_rows} rows (four folds): {epoch / 60:.0f} min; over all {len(texts)}: {per_step * len(texts) / BATCH / 60:.0f} min")
    print(f"5 folds x 3 epochs + a final 3-epoch fit: {(epoch * 15 + per_step * len(texts) / BATCH * 3) / 3600:.1f} h on one thread")


if __name__ == "__main__":
    main()
