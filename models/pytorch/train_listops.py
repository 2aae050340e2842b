"""Trains the ListOps model: the reference encoder (reference.py, DESIGN.md's
sizes: dim 64, hidden 128, 2 heads of 32, 2 layers, max_seq_len 2000, MEAN
pooling as LRA's ListOps configuration) on the sequences of data_listops.py,
with Skeinformer attention (skeinformer_training.py) in training.

  /usr/bin/python3 models/pytorch/data_listops.py                 # once: CACHE/*.tsv
  /usr/bin/python3 models/pytorch/train_listops.py --minutes 45 --out models/listops

What the engine computes is what is trained: `skein classify` tokenizes a file
with model.json's `words` tokenizer, pads the batch to max_seq_len (2000) and
mean-pools over that padded length, so the pooled vector here is the sum over
real tokens divided by 2000; Skeinformer runs, as in the engine, on each
sequence's real tokens only. Batches hold sequences of similar length (at most
--tokens tokens); a fraction of them (--short, decaying to 0 over the first
half of the budget) comes from the `short` curriculum split (lengths 20-500).
The learned position embeddings start as sinusoids (--pos-init), which gives
every position a distinct, smoothly varying code from the first step.

Prints progress; checkpoints to CACHE/listops.ckpt at every validation
(--resume continues from it) and keeps the best state on the first
--val-files validation sequences. At the end, that state and the last one are
both measured on the whole validation split (--final-val-files) and the better
is exported to --out with the words tokenizer (200 sequences are too few to
choose by alone: one sequence is half a point).
"""
import argparse
import math
import os
import sys

# torch's --threads do the parallel work; OpenBLAS threads on top of them fight over the cores
# (train_code.py with 2 torch threads and Debian's OpenBLAS: 340 steps in 1.6 minutes with
# OpenBLAS's own threads, 720 with OpenBLAS on one). Set before torch loads the library.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data_listops import VOCAB  # noqa: E402
from export import export_model  # noqa: E402
from reference import ModelForSC  # noqa: E402
from skeinformer_training import set_exact, use_skeinformer  # noqa: E402
from training_loop import start_state, train as train_loop  # noqa: E402

MAX_SEQ_LEN = 2000
TOKEN_ID = {t: i for i, t in enumerate(VOCAB)}


def model_config(features, pooling):
    return {
        "vocab_size": len(VOCAB), "embedding_dim": 64, "transformer_dim": 64, "transformer_hidden_dim": 128,
        "head_dim": 32, "num_head": 2, "num_layers": 2, "max_seq_len": MAX_SEQ_LEN,
        "pooling_mode": pooling, "num_classes": 10, "attn_type": "softmax",
        "dropout_prob": 0.0, "attention_dropout": 0.0, "nb_features": features,
    }


def sinusoids(n, dim, scale):
    """The Transformer's sinusoidal position code (sin on even, cos on odd columns) times scale."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(n, dim)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)
    return table * scale


def build_model(features, pos_init, pooling):
    config = model_config(features, pooling)
    model = ModelForSC(config)
    if pos_init > 0:
        with torch.no_grad():
            model.model.embeddings.position_embeddings.weight.copy_(sinusoids(MAX_SEQ_LEN, 64, pos_init))
            model.model.embeddings.word_embeddings.weight.normal_(0.0, pos_init)
    return use_skeinformer(model, features), config


def forward(model, ids, mask):
    """Logits as the engine computes them: MEAN pools over a padded length of MAX_SEQ_LEN,
    TOKEN_MEAN over each sequence's real tokens."""
    x = model.model(ids, mask)
    if model.pooling_mode == "TOKEN_MEAN":
        return model.seq_classifer.mlpblock(x.sum(dim=1) / mask.sum(dim=1, keepdim=True))
    return model.seq_classifer.mlpblock(x.sum(dim=1) / MAX_SEQ_LEN)


def load(cache, split):
    rows = []
    with open(os.path.join(cache, f"{split}.tsv")) as f:
        for line in f:
            label, text = line.rstrip("\n").split("\t")
            rows.append((int(label), [TOKEN_ID[t] for t in text.split()]))
    return rows


def to_batch(rows):
    n = max(len(ids) for _, ids in rows)
    ids = torch.zeros(len(rows), n, dtype=torch.long)
    mask = torch.zeros(len(rows), n)
    for i, (_, seq) in enumerate(rows):
        ids[i, :len(seq)] = torch.tensor(seq)
        mask[i, :len(seq)] = 1
    return ids, mask, torch.tensor([label for label, _ in rows])


def draw_batch(rows_by_length, tokens, max_batch, rng):
    """Neighbours in length order from a random start: sequences of similar length."""
    start = rng.randrange(len(rows_by_length))
    batch = max(1, min(max_batch, tokens // len(rows_by_length[start][1])))
    start = min(start, len(rows_by_length) - batch)
    return rows_by_length[start:start + batch]


@torch.no_grad()
def evaluate(model, rows, batch=8):
    model.eval()
    set_exact(model, True)
    correct = 0
    order = sorted(rows, key=lambda r: len(r[1]))
    for i in range(0, len(order), batch):
        ids, mask, target = to_batch(order[i:i + batch])
        correct += int((forward(model, ids, mask).argmax(1) == target).sum())
    set_exact(model, False)
    return correct / max(len(rows), 1)


def main():
    parser = argparse.ArgumentParser(description="Train the ListOps model.")
    parser.add_argument("--cache", default="/work/cache/listops")
    parser.add_argument("--out", default=None, help="export the best model to this directory")
    parser.add_argument("--minutes", type=float, default=45, help="training time budget (wall clock)")
    parser.add_argument("--features", type=int, default=64, help="Skeinformer d in training")
    parser.add_argument("--batch", type=int, default=32, help="max sequences per batch")
    parser.add_argument("--tokens", type=int, default=8192, help="max tokens per batch")
    parser.add_argument("--short", type=float, default=0.7,
                        help="initial fraction of batches from the short split, decaying to 0 at half the budget")
    parser.add_argument("--pos-init", type=float, default=0.5,
                        help="sinusoidal position init scale, token embeddings N(0, scale^2) (0: reference init)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--pooling", choices=["MEAN", "TOKEN_MEAN"], default="MEAN",
                        help="MEAN: over the padded length (LRA); TOKEN_MEAN: over the real tokens")
    parser.add_argument("--val-every", type=float, default=6, help="minutes between validations")
    parser.add_argument("--val-files", type=int, default=200, help="validation sequences during training")
    parser.add_argument("--final-val-files", type=int, default=1000,
                        help="validation sequences that choose between the best and the last state")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from CACHE/listops.ckpt")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    train = sorted(load(args.cache, "train"), key=lambda r: len(r[1]))
    short = sorted(load(args.cache, "short"), key=lambda r: len(r[1]))
    val_all = load(args.cache, "val")
    val = val_all[:args.val_files]
    print(f"train {len(train)} + short {len(short)} sequences, val {len(val)}", flush=True)

    torch.manual_seed(args.seed)
    model, config = build_model(args.features, args.pos_init, args.pooling)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    ckpt_path = os.path.join(args.cache, "listops.ckpt")
    state, rng = start_state(ckpt_path, model, opt, args.resume, args.seed)

    def step(elapsed, budget):
        p_short = args.short * max(0.0, 1.0 - 2.0 * elapsed / budget)
        rows = draw_batch(short if rng.random() < p_short else train, args.tokens, args.batch, rng)
        ids, mask, target = to_batch(rows)
        logits = forward(model, ids, mask)
        note = f" ({len(rows)} seqs, {int(mask.sum())} tokens in the last batch) short {p_short:.2f}"
        return F.cross_entropy(logits, target), int((logits.argmax(1) == target).sum()), len(rows), note

    state = train_loop(model, opt, state, ckpt_path, minutes=args.minutes, lr=args.lr, warmup_steps=50,
                       val_every=args.val_every, step=step, validate=lambda: evaluate(model, val))
    if args.out and state["best_state"] is not None:
        final_val = val_all[:args.final_val_files]
        last_acc = evaluate(model, final_val)
        last_state = {k: v.clone() for k, v in model.state_dict().items()}
        model.load_state_dict(state["best_state"])
        best_acc = evaluate(model, final_val)
        print(f"on {len(final_val)} validation sequences: best state {best_acc:.3f}, last state {last_acc:.3f}")
        if last_acc > best_acc:
            model.load_state_dict(last_state)
        export_model(model, dict(config, attn_type="softmax"), args.out, labels=[str(c) for c in range(10)],
                     name=os.path.basename(os.path.abspath(args.out)),
                     vocab=VOCAB)
        print(f"exported the {'last' if last_acc > best_acc else 'best'} state "
              f"({max(last_acc, best_acc):.3f} on {len(final_val)} validation sequences) to {args.out}")


if __name__ == "__main__":
    main()
