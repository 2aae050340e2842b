"""Skeinformer attention for training the reference model (reference.py): the
formulas of skeinformer.py, batched over the sequences of one length, and a
module that replaces a model's softmax attention with it.

    model = ModelForSC(config)
    use_skeinformer(model, features=64)    # every layer's mha.attn
    set_exact(model, True)                 # back to softmax attention (evaluation)

/usr/bin/python3 models/pytorch/skeinformer_training.py checks the batched form
against skeinformer.py with the same injected indices.
"""
import collections
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from skeinformer import skeinformer_attention  # noqa: E402


def skeinformer_batched(q, k, v, features, pilot=None, columns=None):
    """skeinformer.skeinformer_attention (variant "skeinformer") over G sequences of one length
    at once: q, k, v [G, m, p]. Same formulas, same distributions; the indices may be injected
    ([G, d] each) to check it against the reference."""
    G, m, p = q.shape
    if m <= 1:
        return v.clone()
    d = min(features, m - 1)
    scale = 1.0 / math.sqrt(p)
    if pilot is None:
        pilot = torch.randint(0, m, (G, d))
    rows = pilot[..., None].expand(G, d, p)
    b = torch.softmax(q.gather(1, rows) @ k.transpose(1, 2) * scale, dim=-1)  # [G, d, m]
    weights = b.norm(dim=1) * v.norm(dim=2)  # [G, m]
    if columns is None:
        columns = torch.multinomial(weights.detach(), d, replacement=False)
    cols = columns[..., None].expand(G, columns.size(1), p)
    k_sel, v_sel = k.gather(1, cols), v.gather(1, cols)
    t = q @ k_sel.transpose(1, 2) * scale  # [G, m, d']
    row_max = t.max(dim=2, keepdim=True).values
    e = torch.exp(t - row_max)
    g = torch.exp(t.mean(dim=2, keepdim=True) - row_max)
    rest = (v.sum(dim=1) - v_sel.sum(dim=1))[:, None, :]
    out = (e @ v_sel + g * rest) / (e.sum(dim=2, keepdim=True) + (m - columns.size(1)) * g)
    return out.scatter(1, rows, b @ v)


class SkeinformerAttention(torch.nn.Module):
    """Drop-in for reference.SoftmaxAttention: Skeinformer per sequence and head over the real tokens
    (mask == 1, a prefix), zeros on padded rows; sequences of equal length run together.
    `exact` switches back to softmax attention."""

    def __init__(self, features, softmax):
        super().__init__()
        self.features, self.softmax, self.exact = features, softmax, False

    def forward(self, Q, K, V, mask):
        if self.exact:
            return self.softmax(Q, K, V, mask)
        groups = collections.defaultdict(list)
        for b, m in enumerate(mask.sum(dim=1).long().tolist()):
            groups[m].append(b)
        out = torch.zeros_like(V)
        H, p = Q.size(1), Q.size(3)
        for m, idx in groups.items():
            sel = torch.tensor(idx)
            q, k, v = (X.index_select(0, sel)[:, :, :m].reshape(-1, m, p) for X in (Q, K, V))
            out[idx, :, :m] = skeinformer_batched(q, k, v, self.features).reshape(len(idx), H, m, p)
        return out


def use_skeinformer(model, features):
    """Replaces the softmax attention of every layer of a reference model with Skeinformer."""
    for i in range(model.model.num_layers):
        mha = getattr(model.model, f"transformer_{i}").mha
        mha.attn = SkeinformerAttention(features, mha.attn)
    return model


def set_exact(model, exact):
    for module in model.modules():
        if isinstance(module, SkeinformerAttention):
            module.exact = exact


def self_check():
    """The batched Skeinformer equals the reference function with the same indices."""
    torch.manual_seed(1)
    q, k, v = torch.randn(3, 300, 32), torch.randn(3, 300, 32), torch.randn(3, 300, 32)
    pilot = torch.randint(0, 300, (3, 64))
    columns = torch.stack([torch.randperm(300)[:64] for _ in range(3)])
    got = skeinformer_batched(q, k, v, 64, pilot, columns)
    for i in range(3):
        want = skeinformer_attention(q[i], k[i], v[i], pilot=pilot[i], columns=columns[i], features=64)
        err = (got[i] - want).abs().max().item()
        assert err < 1e-5, f"batched Skeinformer differs from the reference by {err}"
    print("self-check: batched Skeinformer matches skeinformer.py")


if __name__ == "__main__":
    self_check()
