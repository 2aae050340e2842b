"""Parity: `skein run` against the PyTorch reference model (models/pytorch/reference.py).

  /usr/bin/python3 tests/parity/parity.py --skein build/skein --work /tmp/parity

For each model below: build it with random weights, export it, then for each
input batch write ids/mask to a safetensors file, run
`skein run --model DIR --ids IN.safetensors --out OUT.safetensors`, and compare
OUT's `logits` [batch, classes] and `pooled` [batch, width] with the reference
in eval mode. Exits 1 if any difference exceeds TOLERANCE or any run fails.

Input files: `ids` [batch, n] (I32 or I64) and `mask` [batch, n] (I32 or F32;
1 = real token, 0 = padding, padding always after the real tokens); dual-tower
models also get `ids_1` and `mask_1` for the second tower.
"""
import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "models", "pytorch"))
import safetensors_io  # noqa: E402
from export import export_model  # noqa: E402
from reference import ModelForSC, ModelForSCDual  # noqa: E402

# Absolute, on logits and pooled values of order 1. Reordered f32 sums (4096-term softmax
# denominators, 128-wide dot products) differ from PyTorch's by ~1e-6; 1e-4 leaves room for
# that and still catches any real mistake (a wrong position, scale, mask or weight).
TOLERANCE = 1e-4


def lra_config(**changes):
    """An LRA-style model config dictionary (the keys the public training code uses)."""
    config = {
        "learn_pos_emb": True, "tied_weights": False, "embedding_dim": 64, "transformer_dim": 64,
        "transformer_hidden_dim": 128, "head_dim": 32, "num_head": 2, "num_layers": 2,
        "vocab_size": 258, "max_seq_len": 4096, "dropout_prob": 0.1, "attention_dropout": 0.1,
        "pooling_mode": "MEAN", "num_classes": 2, "attn_type": "softmax",
    }
    config.update(changes)
    config["embedding_dim"] = config["transformer_dim"]
    return config


@dataclass
class ModelCase:
    name: str
    config: dict
    full: list  # sequence lengths n run as batch 1, no padding
    padded: list  # n of the padded batches: lengths n, n/2 + 3, 1; the last n also gets n/2 + 1, 3
    dual: bool = False
    via_cli: bool = False  # export from a torch.save'd checkpoint through export.py's command line
    ids_dtype: type = np.int32


CASES = [
    # n = 4096 once only: this PyTorch build's generic BLAS needs ~20 s for it.
    ModelCase("mean", lra_config(), full=[1, 7, 512, 4096], padded=[7, 512]),
    # Odd sizes on purpose: num_head * head_dim (64) != dim (48), 3 layers, 5 classes, n < max_seq_len.
    ModelCase("cls", lra_config(transformer_dim=48, transformer_hidden_dim=96, num_head=4, head_dim=16,
                                num_layers=3, vocab_size=260, max_seq_len=1024, pooling_mode="CLS",
                                num_classes=5),
              full=[1, 7, 512, 1024], padded=[7, 512]),
    ModelCase("ckpt", lra_config(vocab_size=512, max_seq_len=2048, num_classes=3, mixed_precision=True),
              full=[1, 7, 2048], padded=[512], via_cli=True, ids_dtype=np.int64),
    # Mean over each sequence's real tokens (token_mean_pool): padded batches must not dilute it.
    ModelCase("token_mean", lra_config(pooling_mode="TOKEN_MEAN", max_seq_len=1024, num_classes=4),
              full=[1, 7, 1024], padded=[7, 512]),
    # Linformer: the learned E of every layer goes through export.py and the loader.
    ModelCase("linformer", lra_config(attn_type="linformer", linformer_k=32, max_seq_len=1024),
              full=[1, 7, 1024], padded=[7, 512]),
    # Hashed n-gram embeddings (skein's addition): an odd table size, and with CLS the prepended
    # id starts the first n-grams, as in the reference.
    ModelCase("ngram", lra_config(pooling_mode="TOKEN_MEAN", max_seq_len=1024, ngram_buckets=1009,
                                  ngram_max=4),
              full=[1, 2, 7, 1024], padded=[7, 512]),
    ModelCase("ngram_cls", lra_config(pooling_mode="CLS", max_seq_len=512, ngram_buckets=64, ngram_max=2,
                                      num_classes=3),
              full=[1, 3, 512], padded=[7]),
    ModelCase("dual", lra_config(transformer_dim=32, transformer_hidden_dim=64, num_head=2, head_dim=16,
                                 vocab_size=300, max_seq_len=1024),
              full=[1, 7, 512], padded=[7, 512], dual=True),
]


def build_model(case, seed, work):
    """Returns (reference model in eval mode, exported model directory)."""
    torch.manual_seed(seed)
    model = (ModelForSCDual if case.dual else ModelForSC)(case.config)
    with torch.no_grad():  # LayerNorm starts at weight 1, bias 0, which would hide a dropped scale or shift
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.add_(0.2 * torch.randn_like(module.weight))
                module.bias.add_(0.2 * torch.randn_like(module.bias))
    model.eval()
    model_dir = os.path.join(work, "model")
    labels = [f"label_{i}" for i in range(case.config["num_classes"])]
    if case.via_cli:
        export_via_cli(model, case, work, model_dir, labels)
    else:
        export_model(model, case.config, model_dir, labels=labels, name=case.name)
    return model, model_dir


def export_via_cli(model, case, work, model_dir, labels):
    """Saves the checkpoint as the LRA training code does, reloads it, exports it with export.py."""
    ckpt, config_path = os.path.join(work, "CKPT.pt"), os.path.join(work, "CONFIG.json")
    torch.save({"model_state_dict": model.state_dict()}, ckpt)
    with open(config_path, "w") as f:
        json.dump(case.config, f, indent=2)
    model.load_state_dict(torch.load(ckpt)["model_state_dict"])  # strict: the public layout loads as is
    cmd = [sys.executable, os.path.join(REPO, "models", "pytorch", "export.py"), "--state-dict", ckpt,
           "--config", config_path, "--out", model_dir, "--labels", ",".join(labels), "--name", case.name]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"export.py failed: {proc.stderr.strip()}")


def token_batch(rng, lengths, n, vocab_size):
    """ids and mask [batch, n]: random non-special ids for the real tokens, then zero padding."""
    ids = np.zeros((len(lengths), n), np.int64)
    mask = np.zeros((len(lengths), n), np.int64)
    for b, m in enumerate(lengths):
        ids[b, :m] = rng.integers(1, vocab_size - 1, size=m)  # vocab_size - 1 is the CLS id
        mask[b, :m] = 1
    return ids, mask


def batches(case):
    """(tower-0 lengths, tower-1 lengths, n) for every run of a model."""
    runs = [([n], [n], n) for n in case.full]
    runs += [([n, n // 2 + 3, 1], [1, n, n // 3 + 2], n) for n in case.padded]
    n = case.padded[-1]  # no sequence fills the width: mean pooling must still divide by n
    runs.append(([n // 2 + 1, 3], [2, n // 4], n))
    return runs


def reference_outputs(model, dual, tensors):
    t = {k: torch.from_numpy(v) for k, v in tensors.items()}
    with torch.no_grad():
        if dual:
            logits, pooled = model(t["ids"], t["ids_1"], t["mask"], t["mask_1"])
        else:
            logits, pooled = model(t["ids"], t["mask"])
    return logits.numpy(), pooled.numpy()


def max_abs_diff(outputs, name, want):
    """max |got - want|; inf when the output is missing, mis-shaped, not f32 or not finite."""
    got = outputs.get(name)
    if got is None or got.shape != want.shape or got.dtype != np.float32:
        raise RuntimeError(f"output {name}: got {None if got is None else (got.dtype, got.shape)}, "
                           f"expected float32 {want.shape}")
    if not np.isfinite(got).all():
        return float("inf")
    return float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))


def run_skein(skein, model_dir, in_path, out_path):
    cmd = [skein, "run", "--model", model_dir, "--ids", in_path, "--out", out_path]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"]
        raise RuntimeError(f"skein run failed: {lines[-1]}")
    return safetensors_io.read(out_path)


def run_case(case, seed, skein, work, worst):
    """Runs every batch of one model; returns the number of failed runs."""
    os.makedirs(work, exist_ok=True)
    model, model_dir = build_model(case, seed, work)
    rng = np.random.default_rng(seed)
    failures = 0
    for k, (lengths, lengths_1, n) in enumerate(batches(case)):
        mask_dtype = np.int32 if k % 2 == 0 else np.float32
        ids, mask = token_batch(rng, lengths, n, case.config["vocab_size"])
        tensors = {"ids": ids.astype(case.ids_dtype), "mask": mask.astype(mask_dtype)}
        if case.dual:
            ids_1, mask_1 = token_batch(rng, lengths_1, n, case.config["vocab_size"])
            tensors.update({"ids_1": ids_1.astype(case.ids_dtype), "mask_1": mask_1.astype(mask_dtype)})
        in_path, out_path = os.path.join(work, f"in-{k}.safetensors"), os.path.join(work, f"out-{k}.safetensors")
        safetensors_io.write(in_path, tensors)
        want_logits, want_pooled = reference_outputs(model, case.dual, tensors)
        lengths_text = f"{lengths}" + (f" + {lengths_1}" if case.dual else "")
        dtypes = f"ids={safetensors_io.NAMES[tensors['ids'].dtype]} mask={safetensors_io.NAMES[tensors['mask'].dtype]}"
        label = f"{case.name:<5} n={n:<5} lengths={lengths_text:<30} {dtypes}"
        try:
            outputs = run_skein(skein, model_dir, in_path, out_path)
            d_logits = max_abs_diff(outputs, "logits", want_logits)
            d_pooled = max_abs_diff(outputs, "pooled", want_pooled)
        except (RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
            print(f"{label}  FAIL  {e}", flush=True)
            failures += 1
            continue
        ok = d_logits <= TOLERANCE and d_pooled <= TOLERANCE
        failures += not ok
        worst["logits"] = max(worst["logits"], d_logits)
        worst["pooled"] = max(worst["pooled"], d_pooled)
        print(f"{label}  logits {d_logits:.2e}  pooled {d_pooled:.2e}  {'ok' if ok else 'FAIL'}", flush=True)
    return failures


def main():
    parser = argparse.ArgumentParser(description="Compare `skein run` with the PyTorch reference model.")
    parser.add_argument("--skein", required=True, help="path to the skein binary")
    parser.add_argument("--work", required=True, help="scratch directory for models and tensors")
    args = parser.parse_args()
    torch.set_num_threads(2)

    worst = {"logits": 0.0, "pooled": 0.0}
    failures = 0
    runs = sum(len(batches(c)) for c in CASES)
    for seed, case in enumerate(CASES, start=1):
        try:
            failures += run_case(case, seed, args.skein, os.path.join(args.work, case.name), worst)
        except RuntimeError as e:  # the model could not be exported: every run of it fails
            print(f"{case.name:<5} FAIL  {e}", flush=True)
            failures += len(batches(case))
    print(f"parity: {runs - failures}/{runs} runs within {TOLERANCE:g}; max |logits diff| {worst['logits']:.2e}, "
          f"max |pooled diff| {worst['pooled']:.2e}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
