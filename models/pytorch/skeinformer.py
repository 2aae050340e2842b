"""Skeinformer attention (Chen et al., NAACL 2022) in PyTorch, one head, as
DESIGN.md "Skeinformer, in our words" states it; the reference skein's C++
kernels (engine/src/attention/skeinformer.*) are checked against with the same
injected indices (tests/parity/skeinformer_parity.py).

    out = skeinformer_attention(q, k, v, variant="skeinformer",
                                pilot=None, columns=None, features=256, generator=None)

q, k, v: [m, p] (one head, the sequence's real tokens only). pilot: the pilot
row indices J (with repetition); columns: the selected keys J' (distinct).
Indices not given are drawn with `generator` (torch's own sampler, so the
draws differ from skein's Philox streams; the distributions are the same).

Variants (the paper's Table 1 ablations):
  skeinformer       pilot sampling, importance columns, adaptive row
                    normalization, pilot reutilization
  skein-uniform     uniform columns without replacement, no pilot
  skein-nonorm      exact row sums D: R_i = sum_{j in J'} e^{t_ij} v_j / (d' pi_j) / D_i,
                    pi_j = w_j / sum_k w_k (quadratic, for study)
  skein-simplenorm  softmax over the sampled columns only
  skein-nopilot     skeinformer without pilot reutilization
"""
import math

import torch

VARIANTS = ("skeinformer", "skein-uniform", "skein-nonorm", "skein-simplenorm", "skein-nopilot")


def column_weights(q, k, v, pilot):
    """B_J = softmax(s Q_J K^T) and w_i = ||B_J[:, i]||_2 ||V_i||_2."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    b = torch.softmax(q[pilot] @ k.T * scale, dim=-1)
    return b, b.norm(dim=0) * v.norm(dim=1)


def skeinformer_attention(q, k, v, variant="skeinformer", pilot=None, columns=None,
                          features=256, generator=None):
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    m, p = q.shape
    if m <= 1:
        return v.clone()
    d = min(features, m - 1)
    scale = 1.0 / math.sqrt(p)
    uses_pilot = variant != "skein-uniform"
    reuses_pilot = variant in ("skeinformer", "skein-simplenorm", "skein-nonorm")

    if uses_pilot:
        if pilot is None:
            pilot = torch.randint(0, m, (d,), generator=generator)
        pilot = torch.as_tensor(pilot, dtype=torch.long)
        b_pilot, weights = column_weights(q, k, v, pilot)
    else:
        weights = torch.ones(m, dtype=q.dtype)
    if columns is None:
        positive = int((weights > 0).sum())
        # Successive draws without replacement with probability ∝ w.
        columns = torch.multinomial(weights, min(d, positive), replacement=False,
                                    generator=generator)
    columns = torch.as_tensor(columns, dtype=torch.long)
    d_sel = columns.numel()
    if d_sel == 0:
        return v.mean(dim=0, keepdim=True).expand(m, p).clone()

    k_sel, v_sel = k[columns], v[columns]
    t = q @ k_sel.T * scale  # [m, d']
    if variant == "skein-nonorm":
        probs = torch.softmax(q @ k.T * scale, dim=-1)[:, columns]  # e^{t_ij} / D_i
        importance = weights.sum() / (d_sel * weights[columns])      # 1 / (d' pi_j)
        out = probs @ (v_sel * importance[:, None])
    else:
        row_max = t.max(dim=1, keepdim=True).values
        e = torch.exp(t - row_max)
        if variant == "skein-simplenorm":
            out = (e @ v_sel) / e.sum(dim=1, keepdim=True)
        else:
            # Adaptive row normalization: every unselected column gets the
            # geometric mean exp(mean_j t_ij) of the selected ones.
            g = torch.exp(t.mean(dim=1, keepdim=True) - row_max)
            rest = v.sum(dim=0) - v_sel.sum(dim=0)
            out = (e @ v_sel + g * rest) / (e.sum(dim=1, keepdim=True) + (m - d_sel) * g)
    if reuses_pilot:
        out[pilot] = b_pilot @ v
    return out
