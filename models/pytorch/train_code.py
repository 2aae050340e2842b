"""Trains the default model: the reference encoder (reference.py, DESIGN.md's
sizes: dim 64, hidden 128, 2 heads of 32, 2 layers, byte vocabulary, learned
positions up to 4096) with a hashed byte n-gram embedding table (reference.py's
ngram_buckets: 2-, 3- and 4-grams, 32,768 rows) on source-code language
identification, with Skeinformer attention (skeinformer.py, the reference
implementation) in training.

  /usr/bin/python3 models/pytorch/data_code.py            # once: builds CACHE/dataset.pt
  /usr/bin/python3 models/pytorch/train_code.py --out DIR   # 25 minutes on 2 threads

(the command that trained the shipped weights, and why the n-gram table, are in
models/code-lang/MODEL.md, "Training"; --ngram-buckets 0 trains the plain reference encoder)

What the engine computes is what is trained: `skein classify` feeds a file's
first max_seq_len (4096) bytes and the model mean-pools over the file's real
tokens (pooling "TOKEN_MEAN", skein's `token_mean_pool`), so a training crop is
pooled the same way. Skeinformer attention runs, as in the engine, on each
sequence's real tokens only. Training crops are a file's prefix (half the
time) or a random window of the file, of a length drawn per batch from
--lengths; validation uses the engine's input (the prefix). LRA's MEAN pooling
(over the padded length) was tried first: it makes the pooled vector shrink
with the file's length; over 1,500 steps it reached a higher training loss
(1.35 vs 0.92) at about the same validation accuracy.

Prints progress; checkpoints to CACHE/code-lang.ckpt every few minutes and
keeps the best validation state, which is exported to --out at the end.
"""
import argparse
import collections
import math
import os
import random
import sys

# torch's --threads do the parallel work; OpenBLAS threads on top of them fight over the cores
# (train_code.py with 2 torch threads and Debian's OpenBLAS: 340 steps in 1.6 minutes with
# OpenBLAS's own threads, 720 with OpenBLAS on one). Set before torch loads the library.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import export_model  # noqa: E402
from reference import ModelForSC  # noqa: E402
from skeinformer_training import SkeinformerAttention, use_skeinformer  # noqa: E402
from training_loop import start_state, train as train_loop  # noqa: E402

MAX_SEQ_LEN = 4096


def model_config(num_classes, features, ngram_buckets, ngram_max, dropout):
    return {
        "vocab_size": 258, "embedding_dim": 64, "transformer_dim": 64, "transformer_hidden_dim": 128,
        "head_dim": 32, "num_head": 2, "num_layers": 2, "max_seq_len": MAX_SEQ_LEN,
        "pooling_mode": "TOKEN_MEAN", "num_classes": num_classes, "attn_type": "softmax",
        "dropout_prob": dropout, "attention_dropout": 0.0, "nb_features": features,
        "ngram_buckets": ngram_buckets, "ngram_max": ngram_max,
    }


def build_model(num_classes, features, ngram_buckets, ngram_max, dropout):
    config = model_config(num_classes, features, ngram_buckets, ngram_max, dropout)
    return use_skeinformer(ModelForSC(config), features), config


def forward(model, ids, mask, offset=0):
    """Logits as the engine computes them (reference.Model.forward and TOKEN_MEAN pooling), except
    that positions may start at `offset`: training crops from a file's middle sit at a random
    offset, so every position embedding up to 4096 is trained."""
    enc = model.model
    x = enc.embeddings(ids, offset)
    for i in range(enc.num_layers):
        x = getattr(enc, f"transformer_{i}")(x, mask)
    x = enc.norm(x) * mask[:, :, None]
    return model.seq_classifer.mlpblock(x.sum(dim=1) / mask.sum(dim=1, keepdim=True))


def to_batch(crops):
    n = max(len(c) for c in crops)
    ids = torch.zeros(len(crops), n, dtype=torch.long)
    mask = torch.zeros(len(crops), n)
    for i, c in enumerate(crops):
        ids[i, :len(c)] = torch.frombuffer(bytearray(c), dtype=torch.uint8).long() + 1
        mask[i, :len(c)] = 1
    return ids, mask


def sampler(files, rng):
    """Uniform over classes; within a class, a package's weight grows as sqrt(its file count)."""
    by_class = collections.defaultdict(lambda: collections.defaultdict(list))
    for f in files:
        by_class[f["label"]][f["package"]].append(f)
    classes = sorted(by_class)

    def draw():
        packages = by_class[rng.choice(classes)]
        names = sorted(packages)
        weights = [math.sqrt(len(packages[p])) for p in names]
        return rng.choice(packages[rng.choices(names, weights)[0]])
    return draw


def crop(data, length, rng):
    if len(data) <= length:
        return data
    if rng.random() < 0.5:
        return data[:length]
    start = rng.randrange(len(data) - length + 1)
    return data[start:start + length]


@torch.no_grad()
def evaluate(model, files, class_index, features=256, batch=16):
    """Accuracy on the files' prefixes with Skeinformer at d = `features`, the sketch size the
    accuracy is reported at, and a fixed seed: validations compare states, not column draws."""
    model.eval()
    layers = [m for m in model.modules() if isinstance(m, SkeinformerAttention)]
    trained = [layer.features for layer in layers]
    for layer in layers:
        layer.features = features
    correct = 0
    order = sorted(files, key=lambda f: len(f["bytes"]))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        for i in range(0, len(order), batch):
            chunk = order[i:i + batch]
            ids, mask = to_batch([f["bytes"][:MAX_SEQ_LEN] for f in chunk])
            pred = forward(model, ids, mask).argmax(dim=1)
            correct += sum(int(p) == class_index[f["label"]] for p, f in zip(pred.tolist(), chunk))
    for layer, d in zip(layers, trained):
        layer.features = d
    return correct / max(len(files), 1)


def main():
    parser = argparse.ArgumentParser(description="Train the code language identification model.")
    parser.add_argument("--cache", default="/work/cache/code-lang")
    parser.add_argument("--out", default=None, help="export the best model to this directory")
    parser.add_argument("--minutes", type=float, default=25, help="training time budget (wall clock)")
    parser.add_argument("--features", type=int, default=64, help="Skeinformer d in training")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=8192, help="max tokens per batch (long crops shrink it)")
    parser.add_argument("--lengths", default="256,512,1024,2048,4096", help="crop lengths, one drawn per batch")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--val-every", type=float, default=4, help="minutes between validations")
    parser.add_argument("--val-files", type=int, default=500)
    parser.add_argument("--ngram-buckets", type=int, default=32768,
                        help="rows of the hashed n-gram embedding table (0: none, the plain reference encoder)")
    parser.add_argument("--ngram-max", type=int, default=4, help="longest hashed n-gram")
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from CACHE/code-lang.ckpt")
    parser.add_argument("--init", default=None,
                        help="start from this checkpoint's best validation state (fresh optimiser and schedule)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    data = torch.load(os.path.join(args.cache, "dataset.pt"))
    classes = data["classes"]
    class_index = {c: i for i, c in enumerate(classes)}
    train = [f for f in data["files"] if f["split"] == "train"]
    val = [f for f in data["files"] if f["split"] == "val"]
    random.Random(args.seed).shuffle(val)
    val = val[:args.val_files]
    print(f"train {len(train)} files, val {len(val)} (of the split), classes {len(classes)}", flush=True)

    torch.manual_seed(args.seed)
    model, config = build_model(len(classes), args.features, args.ngram_buckets, args.ngram_max, args.dropout)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    ckpt_path = os.path.join(args.cache, "code-lang.ckpt")
    if args.init:
        if args.resume:
            parser.error("--init starts a new run; it cannot be combined with --resume")
        saved = torch.load(args.init)
        model.load_state_dict(saved["state"]["best_state"] or saved["model"])
        print(f"initialised from {args.init} (its best validation: {saved['state']['best']:.3f})", flush=True)
    state, rng = start_state(ckpt_path, model, opt, args.resume, args.seed)
    lengths = [int(x) for x in args.lengths.split(",")]
    draw = sampler(train, rng)

    def step(elapsed, budget):
        length = rng.choice(lengths)
        batch = max(4, min(args.batch, args.tokens // length))
        files = [draw() for _ in range(batch)]
        ids, mask = to_batch([crop(f["bytes"], length, rng) for f in files])
        offset = rng.randrange(MAX_SEQ_LEN - ids.size(1) + 1) if rng.random() < 0.5 else 0
        target = torch.tensor([class_index[f["label"]] for f in files])
        logits = forward(model, ids, mask, offset)
        return F.cross_entropy(logits, target), int((logits.argmax(1) == target).sum()), batch, ""

    state = train_loop(model, opt, state, ckpt_path, minutes=args.minutes, lr=args.lr, warmup_steps=30,
                       val_every=args.val_every, step=step, validate=lambda: evaluate(model, val, class_index))
    if args.out and state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
        export_config = dict(config, attn_type="softmax")
        export_model(model, export_config, args.out, labels=classes, name=os.path.basename(args.out))
        print(f"exported the best validation state ({state['best']:.3f}) to {args.out}")


if __name__ == "__main__":
    main()
