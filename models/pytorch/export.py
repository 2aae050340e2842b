"""Exports a reference-layout model (see reference.py) to skein's model format
(docs/FORMAT.md): DIR/model.json and DIR/model.safetensors.

  /usr/bin/python3 models/pytorch/export.py --state-dict CKPT.pt --config CONFIG.json \
      --out DIR [--labels a,b,...] [--name NAME] [--dual]

CKPT.pt is a plain state dict or a dict holding one under "model_state_dict"
(what the LRA training code saves). CONFIG.json is the LRA code's model config
dictionary. Other scripts call export_model() directly.
"""
import argparse
import json
import os
import pickle
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402


class ExportError(ValueError):
    """A one-line error: `source` is what was wrong ("config", "state dict", "labels", "vocab"), the
    message names the key, tensor or value."""

    def __init__(self, source, message):
        super().__init__(f"{source}: {message}")
        self.source, self.message = source, message


REQUIRED_KEYS = ["vocab_size", "embedding_dim", "transformer_dim", "transformer_hidden_dim", "head_dim",
                 "num_head", "num_layers", "max_seq_len", "pooling_mode", "num_classes", "attn_type"]

# Config keys of each attention method in the LRA / Skeinformer code, copied into model.json.
METHOD_PARAMS = {
    "nystrom": ["num_landmarks", "conv_kernel_size"],
    "linformer": ["linformer_k"],
    "performer": ["rp_dim", "kernel_type"],
    "informer": ["in_nb_features"],
    "reformer": ["num_hash"],
    "bigbird": ["num_random_blocks", "block_size"],
}
# Skeinformer, its ablations and V-mean: their one parameter nb_features becomes "features".
SKETCH_METHODS = {"skeinformer", "skein_uniform", "skein_nonorm", "skein_simplenorm", "skein_nopilot", "vmean"}
SKETCH_PARAMS = ["nb_features", "sketched_kernel", "accumulation", "sampling_factor", "no_projection"]

# Keys the LRA / Skeinformer configs carry that do not change inference.
INERT_KEYS = ["learn_pos_emb", "tied_weights", "dropout_prob", "attention_dropout", "mixed_precision",
              "attention_grad_checkpointing", "bz_rate", "seq_len"]

# skein's addition to the reference: hashed token n-gram embeddings (reference.ngram_buckets).
NGRAM_KEYS = ["ngram_buckets", "ngram_max"]

KNOWN_KEYS = set(REQUIRED_KEYS + INERT_KEYS + SKETCH_PARAMS + NGRAM_KEYS + sum(METHOD_PARAMS.values(), []))


def ngram_table(config):
    """(rows, longest n) of the config's n-gram table, with reference.Embeddings' defaults;
    rows 0: no table."""
    return config.get("ngram_buckets", 0), config.get("ngram_max", 4)


def method_name(attn_type):
    """LRA run names carry a size suffix ("linformer-256"); the method is the part before it."""
    return re.sub(r"-\d+$", "", attn_type)


def attention_spec(config):
    """Maps the LRA attn_type (e.g. "softmax", "skeinformer", "nystrom-64") to the model.json attention object."""
    attn_type = config["attn_type"]
    if attn_type == "softmax":
        return {"method": "exact"}
    method = method_name(attn_type)
    if method in SKETCH_METHODS:
        if "nb_features" not in config:
            raise ExportError("config", f"attn_type {attn_type!r} needs nb_features")
        return {"method": method, "features": config["nb_features"]}
    return {"method": method, **{k: config[k] for k in METHOD_PARAMS.get(method, []) if k in config}}


def attention_weights(config, layer):
    """Trained tensors some attention methods own: role -> (state-dict name, shape)."""
    prefix = f"model.transformer_{layer}.mha.attn"
    method = method_name(config["attn_type"])
    h = config["num_head"]
    if method == "linformer":
        if "linformer_k" not in config:
            raise ExportError("config", f"attn_type {config['attn_type']!r} needs linformer_k")
        return {"E": (f"{prefix}.E", [h, config["linformer_k"], config["max_seq_len"]])}
    if method == "nystrom" and "conv_kernel_size" in config:
        return {"conv": (f"{prefix}.conv.weight", [h, 1, config["conv_kernel_size"], 1])}
    return {}


INT_KEYS = ["vocab_size", "embedding_dim", "transformer_dim", "transformer_hidden_dim", "head_dim",
            "num_head", "num_layers", "max_seq_len", "num_classes"]


def check_config(config):
    """Raises on a missing or unusable key; returns the sorted list of keys it does not know."""
    missing = [k for k in REQUIRED_KEYS if k not in config]
    if missing:
        raise ExportError("config", f"missing required key(s): {', '.join(missing)}")
    for key in INT_KEYS:
        value = config[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ExportError("config", f"{key} {value!r}: expected a positive integer")
    if not isinstance(config["attn_type"], str):
        raise ExportError("config", f"attn_type {config['attn_type']!r}: expected a string")
    if config["embedding_dim"] != config["transformer_dim"]:
        raise ExportError("config", f"embedding_dim {config['embedding_dim']} != transformer_dim "
                                    f"{config['transformer_dim']}")
    if config["pooling_mode"] not in ("MEAN", "TOKEN_MEAN", "CLS"):
        raise ExportError("config", f"pooling_mode {config['pooling_mode']!r}: "
                                    "expected 'MEAN', 'TOKEN_MEAN' or 'CLS'")
    if config.get("tied_weights", False):
        raise ExportError("config", "tied_weights true is not supported (one set of weights per layer)")
    buckets, longest = ngram_table(config)
    if not isinstance(buckets, int) or isinstance(buckets, bool) or not 0 <= buckets <= 1 << 31:
        raise ExportError("config", f"ngram_buckets {buckets!r}: expected an integer in [0, 2^31]")
    if buckets and longest not in range(2, 9):
        raise ExportError("config", f"ngram_max {longest!r}: expected an integer in [2, 8]")
    return sorted(set(config) - KNOWN_KEYS)


def expected_tensors(config, dual):
    """State-dict name -> shape of every tensor the reference layout holds, in graph order."""
    dim, hidden = config["transformer_dim"], config["transformer_hidden_dim"]
    inner = config["num_head"] * config["head_dim"]
    shapes = {"model.embeddings.word_embeddings.weight": [config["vocab_size"], dim],
              "model.embeddings.position_embeddings.weight": [config["max_seq_len"], dim]}
    ngram_rows = ngram_table(config)[0]
    if ngram_rows:
        shapes["model.embeddings.ngram_embeddings.weight"] = [ngram_rows, dim]

    def linear(name, n_in, n_out):
        shapes[f"{name}.weight"] = [n_out, n_in]
        shapes[f"{name}.bias"] = [n_out]

    def norm(name):
        shapes[f"{name}.weight"] = [dim]
        shapes[f"{name}.bias"] = [dim]

    for i in range(config["num_layers"]):
        p = f"model.transformer_{i}"
        norm(f"{p}.norm1")
        for w in ("W_q", "W_k", "W_v"):
            linear(f"{p}.mha.{w}", dim, inner)
        shapes.update(attention_weights(config, i).values())
        linear(f"{p}.mha.ff", inner, dim)
        norm(f"{p}.norm2")
        linear(f"{p}.mlpblock.0", dim, hidden)
        linear(f"{p}.mlpblock.3", hidden, dim)
    norm("model.norm")
    linear("seq_classifer.mlpblock.0", 4 * dim if dual else dim, hidden)
    linear("seq_classifer.mlpblock.2", hidden, config["num_classes"])
    return shapes


def name_list(names, limit=6):
    """Comma-separated names, the first `limit` of them, so the error stays one readable line."""
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def check_tensors(tensors, shapes, config, dual):
    """Raises naming every missing, extra or mis-shaped tensor."""
    problems = []
    missing = [n for n in shapes if n not in tensors]
    extra = [n for n in tensors if n not in shapes]
    misshaped = [f"{n} {list(tensors[n].shape)} (expected {s})" for n, s in shapes.items()
                 if n in tensors and list(tensors[n].shape) != s]
    if missing:
        problems.append(f"missing {name_list(missing)}")
    if extra:
        problems.append(f"unexpected {name_list(extra)}")
    if misshaped:
        problems.append(f"wrong shape {name_list(misshaped)}")
    if problems:
        head = tensors.get("seq_classifer.mlpblock.0.weight")
        if not dual and head is not None and head.shape[-1] == 4 * config["transformer_dim"]:
            problems.append("the head takes 4 * dim features: a two-tower model? pass --dual")
        raise ExportError("state dict", "; ".join(problems))


def build_nodes(config, dual):
    """The graph, in execution order; every node's output tensor is named after the node."""
    nodes = []

    def add(name, op, layer, inputs, weights=None, attrs=None, output=None):
        nodes.append({"name": name, "op": op, "layer": layer, "inputs": inputs, "outputs": [output or name],
                      "weights": weights or {}, "attrs": attrs or {}})
        return output or name

    def wb(prefix):
        return {"weight": f"{prefix}.weight", "bias": f"{prefix}.bias"}

    ln = {"eps": 1e-5}  # torch.nn.LayerNorm's default, used by the reference
    embed_attrs = {"cls_id": config["vocab_size"] - 1} if config["pooling_mode"] == "CLS" else {}
    embed_weights = {"token": "model.embeddings.word_embeddings.weight",
                     "position": "model.embeddings.position_embeddings.weight"}
    buckets, longest = ngram_table(config)
    if buckets:
        embed_weights["ngram"] = "model.embeddings.ngram_embeddings.weight"
        embed_attrs["ngram_max"] = longest
    x = add("embed", "embedding", "embed", ["ids"], embed_weights, embed_attrs)
    for i in range(config["num_layers"]):
        layer, p = str(i), f"model.transformer_{i}"
        h = add(f"attn_norm-{i}", "layer_norm", layer, [x], wb(f"{p}.norm1"), ln)
        qkv = [add(f"{name}-{i}", "linear", layer, [h], wb(f"{p}.mha.{w}"))
               for name, w in (("q", "W_q"), ("k", "W_k"), ("v", "W_v"))]
        method_weights = {role: name for role, (name, _) in attention_weights(config, i).items()}
        a = add(f"attn-{i}", "attention", layer, qkv, method_weights,
                {"num_heads": config["num_head"], "head_dim": config["head_dim"]})
        a = add(f"attn_out-{i}", "linear", layer, [a], wb(f"{p}.mha.ff"))
        x = add(f"attn_res-{i}", "add", layer, [a, x])
        h = add(f"ffn_norm-{i}", "layer_norm", layer, [x], wb(f"{p}.norm2"), ln)
        h = add(f"ffn_up-{i}", "linear", layer, [h], wb(f"{p}.mlpblock.0"))
        h = add(f"gelu-{i}", "gelu", layer, [h])
        h = add(f"ffn_down-{i}", "linear", layer, [h], wb(f"{p}.mlpblock.3"))
        x = add(f"ffn_res-{i}", "add", layer, [h, x])
    x = add("norm-final", "layer_norm", "final", [x], wb("model.norm"), ln)
    pool_op = config["pooling_mode"].lower() + "_pool"
    if dual:
        # The encoder ran on 2B sequences, tower 0's first: split them, then build the pair features.
        x = add("pool-final", pool_op, "final", [x])
        x0 = add("tower_0-final", "tower", "final", [x], attrs={"index": 0})
        x1 = add("tower_1-final", "tower", "final", [x], attrs={"index": 1})
        prod = add("pair_mul-final", "mul", "final", [x0, x1])
        diff = add("pair_sub-final", "sub", "final", [x0, x1])
        x = add("pair_concat-final", "concat", "final", [x0, x1, prod, diff], output="pooled")
    else:
        x = add("pool-final", pool_op, "final", [x], output="pooled")
    x = add("head_up", "linear", "head", [x], wb("seq_classifer.mlpblock.0"))
    x = add("head_relu", "relu", "head", [x])
    add("head_out", "linear", "head", [x], wb("seq_classifer.mlpblock.2"), output="logits")
    return nodes


def words_tokenizer(vocab, config):
    """The model.json `words` tokenizer: whitespace-separated token i of vocab becomes id i."""
    if not vocab or not all(isinstance(t, str) and t.split() == [t] for t in vocab):
        raise ExportError("vocab", "expected a non-empty list of tokens without whitespace")
    duplicates = sorted({t for t in vocab if vocab.count(t) > 1})
    if duplicates:
        raise ExportError("vocab", f"duplicate token(s) {name_list(duplicates)}")
    if len(vocab) > config["vocab_size"]:
        raise ExportError("vocab", f"{len(vocab)} tokens, config vocab_size is {config['vocab_size']}")
    return {"type": "words", "vocab": list(vocab)}


def model_json(config, dual, labels, name, tokenizer=None):
    doc = {
        "format": "skein",
        "format_version": 1,
        "name": name,
        "config": {
            "vocab_size": config["vocab_size"], "dim": config["transformer_dim"],
            "hidden_dim": config["transformer_hidden_dim"], "num_heads": config["num_head"],
            "head_dim": config["head_dim"], "num_layers": config["num_layers"],
            "max_seq_len": config["max_seq_len"], "pooling": config["pooling_mode"].lower(),
            "num_classes": config["num_classes"], "dual": dual,
        },
        "tokenizer": tokenizer or {"type": "bytes", "offset": 1},
        "attention": attention_spec(config),
        "labels": labels,
        "outputs": {"logits": "logits", "pooled": "pooled"},
    }
    if labels is None:
        del doc["labels"]
    # One node per line keeps the file readable and diffable.
    head = json.dumps(doc, indent=2)[:-2]  # drop the closing "\n}" to append the nodes
    nodes = ",\n    ".join(json.dumps(n) for n in build_nodes(config, dual))
    return f'{head},\n  "nodes": [\n    {nodes}\n  ]\n}}\n'


def state_dict_of(model_or_state_dict):
    """Accepts a module, a state dict, or a checkpoint dict holding one under "model_state_dict"."""
    if isinstance(model_or_state_dict, torch.nn.Module):
        return model_or_state_dict.state_dict()
    if "model_state_dict" in model_or_state_dict:
        return model_or_state_dict["model_state_dict"]
    return model_or_state_dict


def to_f32(name, tensor):
    if not torch.is_tensor(tensor) or not tensor.is_floating_point():
        raise ExportError("state dict", f"{name} is not a floating-point tensor")
    return tensor.detach().cpu().float().contiguous().numpy()


def export_model(model_or_state_dict, config, out_dir, labels=None, name=None, dual=None, vocab=None):
    """Writes out_dir/model.json and out_dir/model.safetensors. dual=None infers it from the head's width.
    vocab (a list of tokens) selects the `words` tokenizer; without it the tokenizer is bytes + 1."""
    unknown = check_config(config)
    if unknown:
        print(f"export: note: ignoring unknown config key(s): {', '.join(unknown)}", file=sys.stderr)
    state = state_dict_of(model_or_state_dict)
    if dual is None:
        head = state.get("seq_classifer.mlpblock.0.weight")
        dual = head is not None and head.shape[-1] == 4 * config["transformer_dim"]
    if labels is not None and len(labels) != config["num_classes"]:
        raise ExportError("labels", f"{len(labels)} given, config num_classes is {config['num_classes']}")
    tokenizer = words_tokenizer(vocab, config) if vocab is not None else None
    shapes = expected_tensors(config, dual)
    check_tensors(state, shapes, config, dual)
    tensors = {n: to_f32(n, state[n]) for n in shapes}
    name = name or os.path.basename(os.path.abspath(out_dir))
    os.makedirs(out_dir, exist_ok=True)
    safetensors_io.write(os.path.join(out_dir, "model.safetensors"), tensors,
                         metadata={"producer": "skein models/pytorch/export.py"})
    with open(os.path.join(out_dir, "model.json"), "w") as f:
        f.write(model_json(config, dual, labels, name, tokenizer))


def load_config(path):
    try:
        with open(path) as f:
            config = json.load(f)
    except json.JSONDecodeError as e:
        raise ExportError("config", f"not valid JSON: {e}")
    if not isinstance(config, dict):
        raise ExportError("config", f"expected a JSON object, got {type(config).__name__}")
    return config


def load_state_dict(path):
    try:
        state = torch.load(path, map_location="cpu")
    except (RuntimeError, pickle.UnpicklingError, EOFError) as e:
        raise ExportError("state dict", f"not a torch.save file: {str(e).splitlines()[0]}")
    if not isinstance(state, dict):
        raise ExportError("state dict", f"expected a dict of tensors, got {type(state).__name__}")
    return state


def load_vocab(path):
    with open(path) as f:
        return f.read().splitlines()


def main():
    parser = argparse.ArgumentParser(description="Export a reference-layout PyTorch model to skein's format.")
    parser.add_argument("--state-dict", required=True, help="torch.save'd state dict or {'model_state_dict': ...}")
    parser.add_argument("--config", required=True, help="JSON file with the LRA model config dictionary")
    parser.add_argument("--out", required=True, help="output model directory")
    parser.add_argument("--labels", help="comma-separated class names, num_classes of them")
    parser.add_argument("--name", help="model name (default: the output directory's name)")
    parser.add_argument("--dual", action="store_true", help="two-tower model (LRA retrieval head)")
    parser.add_argument("--vocab", help="file of tokens, one a line (line i is id i): the words tokenizer; "
                                        "default: bytes, id = byte + 1")
    args = parser.parse_args()
    sources = {"config": args.config, "state dict": args.state_dict, "vocab": args.vocab}
    try:
        config = load_config(args.config)
        state = load_state_dict(args.state_dict)
        labels = args.labels.split(",") if args.labels else None
        vocab = load_vocab(args.vocab) if args.vocab else None
        export_model(state, config, args.out, labels=labels, name=args.name, dual=args.dual, vocab=vocab)
    except ExportError as e:
        print(f"export: {sources.get(e.source, e.source)}: {e.message}", file=sys.stderr)
        sys.exit(1)
    except OSError as e:
        print(f"export: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
