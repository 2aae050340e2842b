"""Parity of the shipped ListOps model: `skein classify --format json` on the
model's examples against the PyTorch reference model (reference.py) holding the
exported weights, with token ids from data_listops.py's vocabulary. Checks the
words tokenizer and the whole forward at once.

  /usr/bin/python3 tests/parity/listops_parity.py --skein build/skein --model models/listops
"""
import argparse
import glob
import json
import os
import subprocess
import sys

import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "models", "pytorch"))
import safetensors_io  # noqa: E402
from data_listops import VOCAB  # noqa: E402
from reference import ModelForSC  # noqa: E402

TOLERANCE = 1e-4  # as parity.py: absolute, on logits of order 1


def reference_model(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        doc = json.load(f)
    c = doc["config"]
    if doc["tokenizer"] != {"type": "words", "vocab": VOCAB}:
        raise SystemExit(f"listops_parity: {model_dir}/model.json: tokenizer is not data_listops.VOCAB")
    config = {"vocab_size": c["vocab_size"], "embedding_dim": c["dim"], "transformer_dim": c["dim"],
              "transformer_hidden_dim": c["hidden_dim"], "head_dim": c["head_dim"], "num_head": c["num_heads"],
              "num_layers": c["num_layers"], "max_seq_len": c["max_seq_len"], "pooling_mode": c["pooling"].upper(),
              "num_classes": c["num_classes"], "attn_type": "softmax"}
    model = ModelForSC(config)
    state = {k: torch.from_numpy(v) for k, v in safetensors_io.read(os.path.join(model_dir, "model.safetensors")).items()}
    model.load_state_dict(state)
    return model.eval(), c["max_seq_len"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skein", required=True)
    parser.add_argument("--model", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, max_len = reference_model(args.model)
    files = sorted(glob.glob(os.path.join(args.model, "examples", "*.txt")))
    if not files:
        raise SystemExit(f"listops_parity: no examples in {args.model}/examples")
    proc = subprocess.run([args.skein, "classify", "--model", args.model, "--format", "json"] + files,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"listops_parity: skein classify failed: {proc.stderr.strip()}")
    worst, failures = 0.0, 0
    for r in json.loads(proc.stdout):
        with open(r["file"]) as f:
            ids = [VOCAB.index(t) for t in f.read().split()][:max_len]
        # The engine pads to max_seq_len and mean-pools over it: so does the reference here.
        x = torch.zeros(1, max_len, dtype=torch.long)
        mask = torch.zeros(1, max_len)
        x[0, :len(ids)] = torch.tensor(ids)
        mask[0, :len(ids)] = 1
        with torch.no_grad():
            want = model(x, mask)[0][0]
        diff = (torch.tensor(r["logits"]) - want).abs().max().item()
        worst = max(worst, diff)
        ok = diff <= TOLERANCE and r["tokens"] == len(ids)
        failures += not ok
        print(f"{os.path.basename(r['file'])}: {len(ids)} tokens, label {r['label']}, "
              f"max |logits diff| {diff:.2e} {'ok' if ok else 'FAIL'}")
    print(f"listops_parity: {len(files) - failures}/{len(files)} files within {TOLERANCE:g} (worst {worst:.2e})")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
