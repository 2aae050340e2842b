"""Models of tools/bench/compare: the PyTorch reference model (models/pytorch/reference.py)
loaded with a skein model directory's weights, the synthetic long-sequence model, and the
ONNX export. Reference-layout models only: their safetensors names are the reference's
state-dict names (what models/pytorch/export.py writes).
"""
import json
import os
import sys
import warnings

import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(REPO, "models", "pytorch"))
import safetensors_io  # noqa: E402
from export import export_model  # noqa: E402
from make_untrained import untrained_config  # noqa: E402
from reference import ModelForSC  # noqa: E402


class ModelError(ValueError):
    """A one-line error naming the model file and what is wrong with it."""


def reference_config(model_dir):
    """The LRA config dictionary of a skein model directory (single tower, reference layout)."""
    path = os.path.join(model_dir, "model.json")
    with open(path) as f:
        doc = json.load(f)
    c = doc["config"]
    if c.get("dual"):
        raise ModelError(f"{path}: dual-tower models are not compared (single tower only)")
    return {
        "vocab_size": c["vocab_size"], "embedding_dim": c["dim"], "transformer_dim": c["dim"],
        "transformer_hidden_dim": c["hidden_dim"], "head_dim": c["head_dim"], "num_head": c["num_heads"],
        "num_layers": c["num_layers"], "max_seq_len": c["max_seq_len"],
        "pooling_mode": c["pooling"].upper(), "num_classes": c["num_classes"], "attn_type": "softmax",
    }


def load_reference(model_dir):
    """The reference model in eval mode with the directory's weights (strict: every tensor)."""
    model = ModelForSC(reference_config(model_dir)).eval()
    path = os.path.join(model_dir, "model.safetensors")
    state = {name: torch.from_numpy(array.copy()) for name, array in safetensors_io.read(path).items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ModelError(f"{path}: not the reference layout: {' '.join(str(e).split())[:300]}")
    return model


def sinusoidal(rows, dim):
    """The fixed encodings of "Attention Is All You Need" (sin on even, cos on odd features),
    the same table as engine/src/io/synthetic_model.cpp's."""
    t = torch.arange(rows, dtype=torch.float64)[:, None]
    c = torch.arange(dim)
    freq = torch.pow(10000.0, -(c // 2 * 2).double() / dim)
    angle = t * freq[None, :]
    return torch.where(c % 2 == 0, torch.sin(angle), torch.cos(angle)).float()


def make_synthetic(out_dir, max_seq_len, seed=0):
    """Writes a reference-layout model (models/untrained's sizes, random weights from `seed`)
    whose position table holds sinusoidal encodings, so any length up to max_seq_len means
    the same as in training-free use. Skips the work when out_dir already holds it."""
    json_path = os.path.join(out_dir, "model.json")
    if os.path.exists(json_path):
        with open(json_path) as f:
            if json.load(f)["config"]["max_seq_len"] == max_seq_len:
                return out_dir
    torch.manual_seed(seed)
    config = untrained_config(max_seq_len)
    model = ModelForSC(config).eval()
    with torch.no_grad():
        model.model.embeddings.position_embeddings.weight.copy_(sinusoidal(max_seq_len, config["transformer_dim"]))
    export_model(model, config, out_dir, labels=[f"class_{i}" for i in range(config["num_classes"])],
                 name=f"synthetic-{max_seq_len}")
    return out_dir


def export_onnx(model_dir, onnx_path, opset=17):
    """torch.onnx.export of the exact-attention reference model with the directory's weights;
    batch and length are dynamic. Inputs ids [batch, n] int64, mask [batch, n] float32.
    Returns False when an export newer than the weights was already there."""
    if os.path.exists(onnx_path) and os.path.getmtime(onnx_path) >= os.path.getmtime(
            os.path.join(model_dir, "model.safetensors")):
        return False
    model = load_reference(model_dir)
    ids = torch.ones(1, 8, dtype=torch.int64)
    mask = torch.ones(1, 8, dtype=torch.float32)
    os.makedirs(os.path.dirname(onnx_path), exist_ok=True)
    tmp = onnx_path + ".tmp"
    with warnings.catch_warnings():  # the tracer's notes on shape arithmetic: dynamic axes handle them
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (ids, mask), tmp, input_names=["ids", "mask"],
                          output_names=["logits", "pooled"],
                          dynamic_axes={"ids": {0: "batch", 1: "n"}, "mask": {0: "batch", 1: "n"},
                                        "logits": {0: "batch"}, "pooled": {0: "batch"}},
                          opset_version=opset, do_constant_folding=True)
    os.replace(tmp, onnx_path)
    return True


def attention_bytes(batch, heads, n):
    """Bytes of one [batch, heads, n, n] float32 score matrix (what exact PyTorch/ONNX materialize)."""
    return 4 * batch * heads * n * n

