#!/usr/bin/python3
"""A plain numpy interpreter of skein's model format (docs/FORMAT.md), with the
command line of `skein run`:

  /usr/bin/python3 tests/parity/graph_interpreter.py run --model DIR --ids IN.safetensors --out OUT.safetensors

It is a second, independent reading of the format: it runs model.json's nodes
on packed rows exactly as the format describes them, never looking at the
PyTorch module layout. `parity.py --skein tests/parity/graph_interpreter.py`
checks the exporter and the parity harness without the C++ engine.
Exact attention only.
"""
import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models", "pytorch"))
import safetensors_io  # noqa: E402

erf = np.vectorize(math.erf, otypes=[np.float64])


def sequences(ids, mask):
    """The real tokens of each row (mask must be 1s then 0s) and the padded width n."""
    seqs = []
    for row_ids, row_mask in zip(ids, mask):
        m = int(np.count_nonzero(row_mask))
        if not np.all(row_mask[:m] != 0):
            raise ValueError("mask: padding must come after the real tokens")
        seqs.append(row_ids[:m].astype(np.int64))
    return seqs, ids.shape[1]


class Interpreter:
    def __init__(self, model_dir, seqs, padded_width):
        with open(os.path.join(model_dir, "model.json")) as f:
            self.spec = json.load(f)
        if self.spec["attention"]["method"] != "exact":
            raise ValueError(f"attention method {self.spec['attention']['method']}: only exact is interpreted")
        self.weights = safetensors_io.read(os.path.join(model_dir, "model.safetensors"))
        self.seqs, self.n = seqs, padded_width
        self.offsets = None  # row offsets of each sequence in `tokens` tensors, set by the embedding

    def run(self):
        values = {}
        for node in self.spec["nodes"]:
            args = [values[name] if name != "ids" else None for name in node["inputs"]]
            w = {role: self.weights[name].astype(np.float32) for role, name in node["weights"].items()}
            values[node["outputs"][0]] = getattr(self, node["op"])(args, w, node["attrs"])
        out = self.spec["outputs"]
        return {"logits": values[out["logits"]], "pooled": values[out["pooled"]]}

    def embedding(self, _, w, attrs):
        rows, self.offsets = [], [0]
        for seq in self.seqs:
            if "cls_id" in attrs:  # append_cls: prepend the id, keep at most n tokens
                seq = np.concatenate([[attrs["cls_id"]], seq])[:self.n]
            rows.append(w["token"][seq] + w["position"][:len(seq)])
            self.offsets.append(self.offsets[-1] + len(seq))
        return np.concatenate(rows).astype(np.float32)

    def layer_norm(self, args, w, attrs):
        x = args[0].astype(np.float64)
        mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
        return ((x - mean) / np.sqrt(var + attrs["eps"]) * w["weight"] + w["bias"]).astype(np.float32)

    def linear(self, args, w, _):
        return (args[0] @ w["weight"].T + w["bias"]).astype(np.float32)

    def attention(self, args, _, attrs):
        q, k, v = args
        h, p = attrs["num_heads"], attrs["head_dim"]
        out = np.empty_like(q)
        for s, e in zip(self.offsets[:-1], self.offsets[1:]):
            for head in range(h):
                cols = slice(head * p, (head + 1) * p)
                scores = q[s:e, cols].astype(np.float64) @ k[s:e, cols].T / math.sqrt(p)
                probs = np.exp(scores - scores.max(axis=1, keepdims=True))
                out[s:e, cols] = (probs / probs.sum(axis=1, keepdims=True)) @ v[s:e, cols]
        return out

    def gelu(self, args, *_):
        x = args[0].astype(np.float64)
        return (0.5 * x * (1 + erf(x / math.sqrt(2)))).astype(np.float32)

    def relu(self, args, *_):
        return np.maximum(args[0], 0)

    def add(self, args, *_):
        return args[0] + args[1]

    def mul(self, args, *_):
        return args[0] * args[1]

    def sub(self, args, *_):
        return args[0] - args[1]

    def concat(self, args, *_):
        return np.concatenate(args, axis=1)

    def mean_pool(self, args, *_):
        x = args[0].astype(np.float64)
        return np.stack([x[s:e].sum(axis=0) / self.n for s, e in zip(self.offsets[:-1], self.offsets[1:])]
                        ).astype(np.float32)

    def cls_pool(self, args, *_):
        return args[0][self.offsets[:-1]]

    def tower(self, args, _, attrs):
        half = len(args[0]) // 2  # tower 0's sequences come first
        return args[0][attrs["index"] * half:(attrs["index"] + 1) * half]


def main():
    parser = argparse.ArgumentParser(description="Run a skein model directory with numpy.")
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--model", required=True)
    parser.add_argument("--ids", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    inputs = safetensors_io.read(args.ids)
    seqs, n = sequences(inputs["ids"], inputs["mask"])
    if "ids_1" in inputs:
        seqs_1, n_1 = sequences(inputs["ids_1"], inputs["mask_1"])
        if n_1 != n:
            raise ValueError(f"ids_1: padded width {n_1} != ids width {n}")
        seqs += seqs_1
    safetensors_io.write(args.out, Interpreter(args.model, seqs, n).run())


if __name__ == "__main__":
    main()
