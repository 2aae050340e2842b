"""Builds models/untrained, the untrained placeholder model: the reference model with
random weights (fixed seed), exported to skein's format. Tests and the profiler load it
as a model of the right shape; its predictions mean nothing (the trained default model
is models/code-lang).

  /usr/bin/python3 models/pytorch/make_untrained.py [--out models/untrained] [--max-seq-len 4096] [--seed 0]
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import export_model  # noqa: E402
from reference import ModelForSC  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def untrained_config(max_seq_len):
    """The paper's LRA encoder size over a byte vocabulary: ids 1..256 are bytes, 0 is padding,
    257 is spare (and would be the CLS id)."""
    return {
        "vocab_size": 258, "embedding_dim": 64, "transformer_dim": 64, "transformer_hidden_dim": 128,
        "head_dim": 32, "num_head": 2, "num_layers": 2, "max_seq_len": max_seq_len,
        "pooling_mode": "MEAN", "num_classes": 2, "attn_type": "softmax",
        "dropout_prob": 0.1, "attention_dropout": 0.1,
    }


def main():
    parser = argparse.ArgumentParser(description="Write the randomly initialised untrained model.")
    parser.add_argument("--out", default=os.path.join(REPO, "models", "untrained"), help="output model directory")
    parser.add_argument("--max-seq-len", type=int, default=4096, help="position embedding rows")
    parser.add_argument("--seed", type=int, default=0, help="torch seed for the initial weights")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    config = untrained_config(args.max_seq_len)
    model = ModelForSC(config).eval()
    export_model(model, config, args.out, labels=["class_0", "class_1"], name="untrained")


if __name__ == "__main__":
    main()
