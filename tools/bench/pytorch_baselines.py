#!/usr/bin/python3
"""PyTorch attention baselines timed on this machine, for the ratios of docs/PERFORMANCE.md.

  /usr/bin/python3 tools/bench/pytorch_baselines.py [--lengths 16384,65536]
      [--methods softmax,nystrom,linformer,performer,informer] [--features 256]
      [--threads 2] [--repeat 3] [--json] [--check N]

Issue 4 quotes times of the paper's PyTorch code measured on another machine. The paper's
baseline files are not available here, so this script re-implements, in plain PyTorch, the
computations those files perform (the LRA code of the Nystromformer and Skeinformer
repositories, performer-pytorch's FAVOR+, Informer2020's ProbAttention), with the same
tensor shapes and the same operations, to time them side by side with skein on the same
CPU:

  softmax    softmax(Q·Kᵀ/√p − 1e6·(1 − mask))·V, the full n × n matrix (the paper's code)
  nystrom    Q, K scaled by p^-1/4; landmarks = segment means; softmax(Q·K̃ᵀ) ·
             pinv(softmax(Q̃·K̃ᵀ)) · (softmax(Q̃·Kᵀ)·V), pinv by 6 Newton–Schulz steps
  linformer  K' = E·K, V' = E·V with E [k, n]; softmax(Q·K'ᵀ/√p)·V'
  performer  FAVOR+ positive features with an orthogonal Gaussian projection drawn once
             (not timed), data scaled by p^-1/4, then the linear-attention products
  informer   ProbSparse: a [n, U] index sample, the [n, U, p] gathered keys (materialised,
             as the original code does), top-u queries by max − sum/L, their exact rows,
             V's mean elsewhere; U = u = c·⌈ln n⌉ with c = features // ⌈ln n⌉

Inputs: one sequence, 2 heads, p = 32, Q, K, V standard normal, no padding. Times are the
median wall time of --repeat calls after one warm-up, torch.set_num_threads(--threads),
under torch.no_grad(). A method whose tensors would exceed --max-gib is skipped.
--check N prints instead each method's relative Frobenius error against softmax attention
at n = N (Q, K, V scaled by 0.5), next to V-mean's: a sanity check of the implementations.
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch


def softmax_attention(q, k, v, mask, features):
    p = q.size(-1)
    dot = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(p)
    dot = dot - 1e6 * (1 - mask[:, None, None, :])
    return torch.matmul(torch.softmax(dot, dim=-1), v)


def newton_schulz_pinv(a, steps=6):
    eye = torch.eye(a.size(-1), dtype=a.dtype)
    x = a.transpose(-1, -2) / (a.abs().sum(-2).max() * a.abs().sum(-1).max())
    for _ in range(steps):
        ax = torch.matmul(a, x)
        x = 0.25 * torch.matmul(x, 13 * eye - torch.matmul(ax, 15 * eye - torch.matmul(ax, 7 * eye - ax)))
    return x


def nystrom_attention(q, k, v, mask, features):
    b, h, n, p = q.shape
    landmarks = features
    q = q * mask[:, None, :, None] / math.sqrt(math.sqrt(p))
    k = k * mask[:, None, :, None] / math.sqrt(math.sqrt(p))
    q_land = q.reshape(b, h, landmarks, n // landmarks, p).mean(dim=-2)
    k_land = k.reshape(b, h, landmarks, n // landmarks, p).mean(dim=-2)
    kernel_1 = torch.softmax(torch.matmul(q, k_land.transpose(-1, -2)), dim=-1)
    kernel_2 = torch.softmax(torch.matmul(q_land, k_land.transpose(-1, -2)), dim=-1)
    kernel_3 = torch.softmax(
        torch.matmul(q_land, k.transpose(-1, -2)) - 1e9 * (1 - mask[:, None, None, :]), dim=-1)
    return torch.matmul(torch.matmul(kernel_1, newton_schulz_pinv(kernel_2)), torch.matmul(kernel_3, v))


def make_linformer(n, features):
    e = torch.randn(features, n) / math.sqrt(features)

    def linformer_attention(q, k, v, mask, _):
        k = torch.matmul(e, k * mask[:, None, :, None])
        v = torch.matmul(e, v * mask[:, None, :, None])
        dot = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.size(-1))
        return torch.matmul(torch.softmax(dot, dim=-1), v)
    return linformer_attention


def orthogonal_gaussian(rows, cols):
    blocks = []
    for _ in range(math.ceil(rows / cols)):
        qmat, _ = torch.linalg.qr(torch.randn(cols, cols))
        blocks.append(qmat.t())
    matrix = torch.cat(blocks)[:rows]
    return torch.randn(rows, cols).norm(dim=1).diag() @ matrix


def make_performer(p, features):
    projection = orthogonal_gaussian(features, p)

    def favor_features(data, is_query, eps=1e-4):
        normalizer = data.size(-1) ** -0.25
        ratio = projection.size(0) ** -0.5
        dash = torch.einsum("bhnd,md->bhnm", data * normalizer, projection)
        diag = (data ** 2).sum(-1, keepdim=True) / 2.0 * normalizer ** 2
        if is_query:
            return ratio * (torch.exp(dash - diag - dash.amax(dim=-1, keepdim=True)) + eps)
        return ratio * (torch.exp(dash - diag - dash.amax(dim=(-1, -2), keepdim=True)) + eps)

    def performer_attention(q, k, v, mask, _):
        qf = favor_features(q, True)
        kf = favor_features(k * mask[:, None, :, None], False)
        k_sum = kf.sum(dim=-2)
        d_inv = 1.0 / torch.einsum("bhnm,bhm->bhn", qf, k_sum)
        context = torch.einsum("bhnm,bhne->bhme", kf, v)
        return torch.einsum("bhnm,bhme->bhne", qf, context) * d_inv.unsqueeze(-1)
    return performer_attention


def informer_counts(n, features):
    log_n = max(1, math.ceil(math.log(n)))
    factor = max(1, features // log_n)
    return min(n, factor * log_n)


def informer_attention(q, k, v, mask, features):
    b, h, n, p = q.shape
    samples = informer_counts(n, features)
    top = samples
    k_expand = k.unsqueeze(-3).expand(b, h, n, n, p)
    index = torch.randint(n, (n, samples))
    k_sample = k_expand[:, :, torch.arange(n).unsqueeze(1), index, :]
    qk_sample = torch.matmul(q.unsqueeze(-2), k_sample.transpose(-2, -1)).squeeze(-2)
    sparsity = qk_sample.max(-1)[0] - qk_sample.sum(-1) / n
    chosen = sparsity.topk(top, sorted=False)[1]
    q_reduce = q[torch.arange(b)[:, None, None], torch.arange(h)[None, :, None], chosen, :]
    scores = torch.matmul(q_reduce, k.transpose(-2, -1)) / math.sqrt(p)
    context = v.mean(dim=-2, keepdim=True).expand(b, h, n, p).clone()
    context[torch.arange(b)[:, None, None], torch.arange(h)[None, :, None], chosen, :] = \
        torch.matmul(torch.softmax(scores, dim=-1), v)
    return context


def peak_gib(method, n, features, heads, p):
    floats = {
        "softmax": 3 * heads * n * n,
        "nystrom": 4 * heads * n * features,
        "linformer": 3 * heads * n * features,
        "performer": 4 * heads * n * features,
        "informer": heads * n * informer_counts(n, features) * (p + 2),
    }[method]
    return floats * 4 / 2 ** 30


def method_fn(method, n, features, p):
    return {"softmax": softmax_attention, "nystrom": nystrom_attention,
            "linformer": make_linformer(n, features), "performer": make_performer(p, features),
            "informer": informer_attention}[method]


def check(n, methods, features, heads, p):
    q, k, v = (0.5 * torch.randn(1, heads, n, p) for _ in range(3))
    mask = torch.ones(1, n)
    with torch.no_grad():
        exact = softmax_attention(q, k, v, mask, features)
        vmean = v.mean(dim=-2, keepdim=True).expand_as(v)
        print(f"n = {n}: relative Frobenius error against softmax attention "
              f"(V-mean: {float((vmean - exact).norm() / exact.norm()):.3f})")
        for method in methods:
            out = method_fn(method, n, features, p)(q, k, v, mask, features)
            print(f"  {method:<10} {float((out - exact).norm() / exact.norm()):.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", default="16384,65536")
    parser.add_argument("--methods", default="softmax,nystrom,linformer,performer,informer")
    parser.add_argument("--features", type=int, default=256,
                        help="landmarks, k, random features, the Informer budget")
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--head-dim", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-gib", type=float, default=16.0, help="skip a method needing more")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--check", type=int, default=0, metavar="N",
                        help="print the methods' errors against softmax at n = N instead of timing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    methods = args.methods.split(",")
    known = {"softmax", "nystrom", "linformer", "performer", "informer"}
    for m in methods:
        if m not in known:
            sys.exit(f"pytorch_baselines: unknown method {m!r}; known: {', '.join(sorted(known))}")
    if args.check:
        check(args.check, methods, args.features, args.heads, args.head_dim)
        return
    if not args.json:
        print(f"{'method':<10} {'n':>8} {'median_ms':>10} {'min_ms':>10}  (torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads)")
    for n in (int(x) for x in args.lengths.split(",")):
        q, k, v = (torch.randn(1, args.heads, n, args.head_dim) for _ in range(3))
        mask = torch.ones(1, n)
        for method in methods:
            need = peak_gib(method, n, args.features, args.heads, args.head_dim)
            if need > args.max_gib:
                print(f"{method:<10} {n:>8} skipped: needs about {need:.1f} GiB (> --max-gib)", flush=True)
                continue
            fn = method_fn(method, n, args.features, args.head_dim)
            times = []
            with torch.no_grad():
                fn(q, k, v, mask, args.features)
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    fn(q, k, v, mask, args.features)
                    times.append((time.perf_counter() - start) * 1000)
            row = {"method": method, "n": n, "median_ms": statistics.median(times), "min_ms": min(times),
                   "threads": args.threads, "features": args.features}
            if args.json:
                print(json.dumps(row), flush=True)
            else:
                print(f"{method:<10} {n:>8} {row['median_ms']:>10.1f} {row['min_ms']:>10.1f}", flush=True)


if __name__ == "__main__":
    main()
