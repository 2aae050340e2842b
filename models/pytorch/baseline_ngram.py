"""The baseline the default model must beat: a linear classifier (multinomial
logistic regression) over hashed byte 1- to 4-gram frequencies of a file's
first 4096 bytes (what the engine sees), on the same package-held-out split.

  /usr/bin/python3 models/pytorch/baseline_ngram.py [--cache /work/cache/code-lang]

Prints validation and test accuracy (overall and per class).
"""
import argparse
import collections
import os

import numpy as np
import torch
import torch.nn.functional as F

PREFIX = 4096


def ngram_ids(data, buckets):
    """Hashed ids of every byte n-gram, n = 1..4, of data[:PREFIX]."""
    b = np.frombuffer(data[:PREFIX], dtype=np.uint8).astype(np.uint64)
    ids = []
    code = np.zeros(len(b), dtype=np.uint64)
    for n in range(1, 5):
        if len(b) < n:
            break
        code = code[:len(b) - n + 1] * np.uint64(256) + b[n - 1:]
        mixed = (code + np.uint64(n << 32)) * np.uint64(0x9E3779B97F4A7C15)
        ids.append((mixed >> np.uint64(40)) % np.uint64(buckets))
    return np.concatenate(ids).astype(np.int64)


def featurize(files, buckets):
    ids, offsets = [], []
    pos = 0
    for f in files:
        g = ngram_ids(f["bytes"], buckets)
        offsets.append(pos)
        ids.append(g)
        pos += len(g)
    return torch.from_numpy(np.concatenate(ids)), torch.tensor(offsets)


def subset(files, n):
    """Indices of the files eval_engine.py --per-package n reads: per class and package, the first
    n by the name data_code.py gives the copy."""
    names = sorted((f["label"], f["package"] + "__" + f["path"].replace("/", "_"), i) for i, f in enumerate(files))
    taken, chosen = collections.Counter(), []
    for label, name, i in names:
        taken[(label, files[i]["package"])] += 1
        if taken[(label, files[i]["package"])] <= n:
            chosen.append(i)
    return torch.tensor(chosen)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", default="/work/cache/code-lang")
    parser.add_argument("--buckets", type=int, default=1 << 18)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-package", type=int, default=8,
                        help="also report the test subset eval_engine.py --per-package N reads")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    data = torch.load(os.path.join(args.cache, "dataset.pt"))
    classes = data["classes"]
    index = {c: i for i, c in enumerate(classes)}
    splits = {s: [f for f in data["files"] if f["split"] == s] for s in ("train", "val", "test")}
    feats = {s: featurize(fs, args.buckets) for s, fs in splits.items()}
    labels = {s: torch.tensor([index[f["label"]] for f in fs]) for s, fs in splits.items()}
    # Class-balanced loss weights, as the neural model samples classes uniformly.
    counts = torch.bincount(labels["train"], minlength=len(classes)).float()
    weight = counts.sum() / (len(classes) * counts.clamp(min=1))

    model = torch.nn.EmbeddingBag(args.buckets, len(classes), mode="mean")
    torch.nn.init.zeros_(model.weight)
    bias = torch.zeros(len(classes), requires_grad=True)
    opt = torch.optim.Adam(list(model.parameters()) + [bias], lr=0.05)
    n = len(splits["train"])

    def predict(split):
        ids, offsets = feats[split]
        with torch.no_grad():
            return (model(ids, offsets) + bias).argmax(1)

    def accuracy(split):
        return (predict(split) == labels[split]).float().mean().item()

    ids, offsets = feats["train"]
    ends = torch.cat([offsets[1:], torch.tensor([len(ids)])])
    for epoch in range(args.epochs):
        perm = torch.randperm(n)
        for i in range(0, n, 256):
            rows = perm[i:i + 256]
            bag = torch.cat([ids[offsets[r]:ends[r]] for r in rows.tolist()])
            offs = torch.tensor([0] + [int(ends[r] - offsets[r]) for r in rows.tolist()][:-1]).cumsum(0)
            loss = F.cross_entropy(model(bag, offs) + bias, labels["train"][rows], weight=weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if (epoch + 1) % 2 == 0 or epoch + 1 == args.epochs:
            print(f"epoch {epoch + 1}: train {accuracy('train'):.3f} val {accuracy('val'):.3f}", flush=True)
    pred = predict("test")
    per = collections.defaultdict(lambda: [0, 0])
    for p, t in zip(pred.tolist(), labels["test"].tolist()):
        per[classes[t]][0] += int(p == t)
        per[classes[t]][1] += 1
    print(f"hashed byte 1-4-gram linear baseline: val {accuracy('val'):.4f} "
          f"test {accuracy('test'):.4f} ({len(splits['test'])} files)")
    chosen = subset(splits["test"], args.per_package)
    sub = pred[chosen] == labels["test"][chosen]
    print(f"test subset (first {args.per_package} files per package and class, as eval_engine.py "
          f"--per-package): {sub.float().mean().item():.4f} ({int(sub.sum())}/{len(chosen)})")
    print("per class (test): " + ", ".join(f"{c} {a}/{n}" for c, (a, n) in sorted(per.items())))


if __name__ == "__main__":
    main()
