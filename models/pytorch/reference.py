"""The reference model: the Long Range Arena encoder of the Skeinformer and
Nystromformer papers, in the module layout of their public code
(mlpen/Nystromformer, LRA/code/model.py and model_wrapper.py), so that state
dicts saved by that code load here unchanged and skein can be checked against
this file.

Pre-LayerNorm encoder: token + learned position embedding; per layer
X += ff(Attn(norm1(X))), X += mlp(norm2(X)) with a GELU MLP; final LayerNorm,
output multiplied by the mask; pooling MEAN (over the padded length, as the LRA
code), TOKEN_MEAN (over the real tokens; skein's own addition) or CLS;
head Linear -> ReLU -> Linear. The dual-tower variant (LRA retrieval) encodes
two sequences with the same encoder and classifies
[X0, X1, X0 * X1, X0 - X1].

Attention: softmax (what skein's exact attention must reproduce) and
Linformer (attn_type "linformer" or "linformer-K", with linformer_k: a learned
E [num_head, linformer_k, max_seq_len] per layer, `mha.attn.E`, applied to the
masked K and V as in the LRA code). The config is the LRA code's dictionary;
the keys read here are vocab_size, embedding_dim (== transformer_dim),
transformer_dim, transformer_hidden_dim, head_dim, num_head, num_layers,
max_seq_len, pooling_mode ("MEAN", "TOKEN_MEAN" or "CLS"), num_classes, attn_type, and
optionally dropout_prob / attention_dropout (training only; 0 when absent),
tied_weights (must be false) and ngram_buckets / ngram_max (skein's addition:
hashed token n-gram embeddings, see ngram_buckets(); absent or 0 = none).

Inputs: ids [batch, n] integer token ids, mask [batch, n] with 1 for real tokens
and 0 for padding. forward() returns (logits, pooled); call .eval() first.
"""
import math
import re

import torch
from torch import nn


FNV_OFFSET, FNV_PRIME, MASK32 = 2166136261, 16777619, 0xFFFFFFFF


def ngram_buckets(ids, n, buckets):
    """The table row of the n-gram of token ids that ends at each position: ids [B, L] -> [B, L]
    (-1 where t < n - 1: the n-gram would start before the sequence). The hash, in 32-bit
    unsigned arithmetic, which skein's embedding reproduces: h = FNV-1a over (n, ids[t-n+1], ...,
    ids[t]), one 32-bit word each; then h ^= h >> 16, h *= 0x45d9f3b, h ^= h >> 16; row h % buckets.
    Every product stays below 2^63, so int64 tensors compute it exactly."""
    h = torch.full_like(ids, FNV_OFFSET)
    h = ((h ^ n) * FNV_PRIME) & MASK32
    length = ids.size(1)
    for k in range(n - 1, -1, -1):  # ids[t - k], oldest first
        shifted = torch.zeros_like(ids)
        shifted[:, k:] = ids[:, :length - k]
        h = ((h ^ shifted) * FNV_PRIME) & MASK32
    h = h ^ (h >> 16)
    h = (h * 0x45D9F3B) & MASK32
    h = h ^ (h >> 16)
    rows = h % buckets
    rows[:, :n - 1] = -1
    return rows


class Embeddings(nn.Module):
    """Token embedding plus learned position embedding (positions offset..offset+n-1), plus,
    with config ngram_buckets > 0, one row of a shared hashed table per token n-gram, n = 2 ..
    ngram_max, ending at each position (`ngram_embeddings`, [ngram_buckets, dim])."""

    def __init__(self, config):
        super().__init__()
        if config["embedding_dim"] != config["transformer_dim"]:
            raise ValueError(f"config: embedding_dim {config['embedding_dim']} != "
                             f"transformer_dim {config['transformer_dim']}")
        dim = config["embedding_dim"]
        self.word_embeddings = nn.Embedding(config["vocab_size"], dim)
        nn.init.normal_(self.word_embeddings.weight, std=0.02)
        self.position_embeddings = nn.Embedding(config["max_seq_len"], dim)
        nn.init.normal_(self.position_embeddings.weight, std=0.02)
        self.buckets = config.get("ngram_buckets", 0)
        self.ngram_max = config.get("ngram_max", 4) if self.buckets else 0
        if self.buckets:
            if self.ngram_max < 2:
                raise ValueError(f"config: ngram_max {self.ngram_max}: must be at least 2")
            self.ngram_embeddings = nn.Embedding(self.buckets, dim)
            nn.init.normal_(self.ngram_embeddings.weight, std=0.02)
        self.dropout = nn.Dropout(p=config.get("dropout_prob", 0.0))

    def forward(self, input_ids, offset=0):
        positions = torch.arange(offset, offset + input_ids.size(1), device=input_ids.device)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions)[None]
        for n in range(2, self.ngram_max + 1):
            rows = ngram_buckets(input_ids, n, self.buckets)
            x = x + self.ngram_embeddings(rows.clamp(min=0)) * (rows >= 0)[..., None]
        return self.dropout(x)


class SoftmaxAttention(nn.Module):
    """Exact attention; padded keys get -1e6 added before the softmax, as in the LRA code."""

    def __init__(self, config):
        super().__init__()
        self.drop_attn = nn.Dropout(p=config.get("attention_dropout", 0.0))
        self.head_dim = config["head_dim"]

    def forward(self, Q, K, V, mask):
        dot = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(self.head_dim)
        dot = dot - 1e6 * (1 - mask[:, None, None, :])
        return torch.matmul(self.drop_attn(torch.softmax(dot, dim=-1)), V)


class LinformerAttention(nn.Module):
    """softmax(Q (E K)^T / sqrt(p)) (E V) with padded rows of K and V zeroed, so a row of m
    real tokens uses the first m columns of E."""

    def __init__(self, config):
        super().__init__()
        self.head_dim = config["head_dim"]
        self.E = nn.Parameter(torch.empty(config["num_head"], config["linformer_k"], config["max_seq_len"]))
        nn.init.normal_(self.E, std=0.02)

    def forward(self, Q, K, V, mask):
        n = Q.size(2)
        E = self.E[:, :, :n]
        K = torch.matmul(E, K * mask[:, None, :, None])
        V = torch.matmul(E, V * mask[:, None, :, None])
        dot = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(self.head_dim)
        return torch.matmul(torch.softmax(dot, dim=-1), V)


class Attention(nn.Module):
    """Multi-head attention: W_q, W_k, W_v project dim -> num_head * head_dim, ff projects back."""

    def __init__(self, config):
        super().__init__()
        linformer = re.fullmatch(r"linformer(-\d+)?", config["attn_type"]) is not None
        if config["attn_type"] != "softmax" and not linformer:
            raise ValueError(f"config: attn_type {config['attn_type']!r}: the reference model "
                             f"implements 'softmax' and 'linformer' only")
        dim = config["transformer_dim"]
        self.num_head = config["num_head"]
        self.head_dim = config["head_dim"]
        inner = self.num_head * self.head_dim
        self.W_q = nn.Linear(dim, inner)
        self.W_k = nn.Linear(dim, inner)
        self.W_v = nn.Linear(dim, inner)
        self.attn = LinformerAttention(config) if linformer else SoftmaxAttention(config)
        self.ff = nn.Linear(inner, dim)

    def forward(self, X, mask):
        Q = self.split_heads(self.W_q(X))
        K = self.split_heads(self.W_k(X))
        V = self.split_heads(self.W_v(X))
        return self.ff(self.combine_heads(self.attn(Q, K, V, mask)))

    def split_heads(self, X):
        return X.reshape(X.size(0), X.size(1), self.num_head, self.head_dim).transpose(1, 2)

    def combine_heads(self, X):
        X = X.transpose(1, 2)
        return X.reshape(X.size(0), X.size(1), self.num_head * self.head_dim)


class Transformer(nn.Module):
    """One pre-LayerNorm encoder layer."""

    def __init__(self, config):
        super().__init__()
        dim, hidden = config["transformer_dim"], config["transformer_hidden_dim"]
        p = config.get("dropout_prob", 0.0)
        self.norm1 = nn.LayerNorm(dim)
        self.mha = Attention(config)
        self.dropout1 = nn.Dropout(p=p)
        self.norm2 = nn.LayerNorm(dim)
        self.mlpblock = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(p=p), nn.Linear(hidden, dim), nn.Dropout(p=p))

    def forward(self, X, mask):
        X = self.dropout1(self.mha(self.norm1(X), mask)) + X
        return self.mlpblock(self.norm2(X)) + X


class Model(nn.Module):
    """The encoder: embeddings, transformer_0 .. transformer_{L-1}, final norm; padded rows are zeroed."""

    def __init__(self, config):
        super().__init__()
        if config.get("tied_weights", False):
            raise ValueError("config: tied_weights true is not supported (one set of weights per layer)")
        self.num_layers = config["num_layers"]
        self.embeddings = Embeddings(config)
        for idx in range(self.num_layers):
            setattr(self, f"transformer_{idx}", Transformer(config))
        self.norm = nn.LayerNorm(config["transformer_dim"])

    def forward(self, input_ids, mask):
        X = self.embeddings(input_ids)
        for idx in range(self.num_layers):
            X = getattr(self, f"transformer_{idx}")(X, mask)
        return self.norm(X) * mask[:, :, None]


def pooling(inp, mode, mask):
    """CLS: the first row. MEAN: mean over the padded length (padded rows are zero).
    TOKEN_MEAN: mean over the real tokens (mask == 1)."""
    if mode == "CLS":
        return inp[:, 0, :]
    if mode == "MEAN":
        return inp.mean(dim=1)
    if mode == "TOKEN_MEAN":
        return inp.sum(dim=1) / mask.sum(dim=1, keepdim=True)
    raise ValueError(f"config: pooling_mode {mode!r}: expected 'MEAN', 'TOKEN_MEAN' or 'CLS'")


def append_cls(inp, mask, vocab_size):
    """Prepends the CLS id (vocab_size - 1) and drops the last position, keeping the length n."""
    batch_size = inp.size(0)
    cls_id = torch.full((batch_size, 1), vocab_size - 1, dtype=inp.dtype, device=inp.device)
    cls_mask = torch.ones((batch_size, 1), dtype=mask.dtype, device=mask.device)
    return torch.cat([cls_id, inp[:, :-1]], dim=-1), torch.cat([cls_mask, mask[:, :-1]], dim=-1)


class SCHead(nn.Module):
    """Sequence classification head: pool, then Linear -> ReLU -> Linear."""

    def __init__(self, config):
        super().__init__()
        self.pooling_mode = config["pooling_mode"]
        self.mlpblock = nn.Sequential(
            nn.Linear(config["transformer_dim"], config["transformer_hidden_dim"]),
            nn.ReLU(),
            nn.Linear(config["transformer_hidden_dim"], config["num_classes"]))

    def forward(self, inp, mask):
        pooled = pooling(inp, self.pooling_mode, mask)
        return self.mlpblock(pooled), pooled


class SCHeadDual(nn.Module):
    """Two-tower head: classifies [X0, X1, X0 * X1, X0 - X1] of the two pooled sequences."""

    def __init__(self, config):
        super().__init__()
        self.pooling_mode = config["pooling_mode"]
        self.mlpblock = nn.Sequential(
            nn.Linear(config["transformer_dim"] * 4, config["transformer_hidden_dim"]),
            nn.ReLU(),
            nn.Linear(config["transformer_hidden_dim"], config["num_classes"]))

    def forward(self, inp_0, inp_1, mask_0, mask_1):
        X_0 = pooling(inp_0, self.pooling_mode, mask_0)
        X_1 = pooling(inp_1, self.pooling_mode, mask_1)
        pooled = torch.cat([X_0, X_1, X_0 * X_1, X_0 - X_1], dim=-1)
        return self.mlpblock(pooled), pooled


def _prepare(ids, mask, pooling_mode, vocab_size):
    """Casts to the dtypes the modules expect and applies append_cls for CLS pooling."""
    ids, mask = ids.long(), mask.float()
    if pooling_mode == "CLS":
        ids, mask = append_cls(ids, mask, vocab_size)
    return ids, mask


class ModelForSC(nn.Module):
    """Single-sequence classifier. forward(ids [B, n], mask [B, n]) -> (logits [B, C], pooled [B, dim])."""

    def __init__(self, config):
        super().__init__()
        self.pooling_mode = config["pooling_mode"]
        self.vocab_size = config["vocab_size"]
        self.model = Model(config)
        self.seq_classifer = SCHead(config)  # sic: the public code's spelling, kept for its state dicts

    def forward(self, input_ids_0, mask_0):
        input_ids_0, mask_0 = _prepare(input_ids_0, mask_0, self.pooling_mode, self.vocab_size)
        return self.seq_classifer(self.model(input_ids_0, mask_0), mask_0)


class ModelForSCDual(nn.Module):
    """Two-tower classifier (LRA retrieval). forward(ids_0, ids_1, mask_0, mask_1), the public
    code's argument order -> (logits [B, C], pooled [B, 4 * dim])."""

    def __init__(self, config):
        super().__init__()
        self.pooling_mode = config["pooling_mode"]
        self.vocab_size = config["vocab_size"]
        self.model = Model(config)
        self.seq_classifer = SCHeadDual(config)

    def forward(self, input_ids_0, input_ids_1, mask_0, mask_1):
        input_ids_0, mask_0 = _prepare(input_ids_0, mask_0, self.pooling_mode, self.vocab_size)
        input_ids_1, mask_1 = _prepare(input_ids_1, mask_1, self.pooling_mode, self.vocab_size)
        return self.seq_classifer(self.model(input_ids_0, mask_0), self.model(input_ids_1, mask_1),
                                  mask_0, mask_1)
