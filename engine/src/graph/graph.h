// The graph IR: a flat, ordered list of nodes over named 2-D activations.
// Built and fully validated by the loader (io/model_loader.cpp); read-only after.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ops/linear.h"

namespace skein {

enum class OpKind {
  Embedding,
  LayerNorm,
  Linear,
  Attention,
  Gelu,
  Relu,
  Add,
  Mul,
  Sub,
  Concat,
  MeanPool,
  TokenMeanPool,
  ClsPool,
  Tower,
};

const char* op_name(OpKind op);

/// What a tensor has one row per (see docs/FORMAT.md, "Tensors and rows").
enum class RowKind { Tokens, Sequences, Items };

const char* row_kind_name(RowKind kind);

/// A shape as text for messages, e.g. "[64, 32]".
std::string shape_text(const std::vector<int64_t>& shape);

/// A weight as a node sees it: f32 data inside the memory-mapped file.
struct WeightRef {
  std::string name;
  std::vector<int64_t> shape;
  const float* data = nullptr;
  int64_t bytes = 0;
};

struct TensorDesc {
  std::string name;
  RowKind rows = RowKind::Tokens;
  int64_t width = 0;
  int producer = -1;  // index of the node that writes it
  int last_use = -1;  // index of the last node that reads it (or the graph end for outputs)
};

struct Node {
  std::string name;
  std::string layer;
  OpKind op = OpKind::Add;
  std::vector<int> inputs;  // tensor indices; empty for Embedding (it reads the ids)
  int output = -1;
  std::vector<WeightRef> weights;  // in the op's role order (docs/FORMAT.md)
  // Attributes; each op reads only its own.
  float eps = 0;                        // LayerNorm
  int32_t cls_id = -1;                  // Embedding: prepended id, -1 = none
  int ngram_max = 0;                    // Embedding: longest hashed n-gram (weight "ngram")
  int num_heads = 0;                    // Attention
  int head_dim = 0;                     // Attention
  int tower_index = 0;                  // Tower
  std::unique_ptr<ops::Linear> linear;  // Linear: the prepared kernel
};

struct Graph {
  std::vector<TensorDesc> tensors;
  std::vector<Node> nodes;
  int logits = -1;                  // tensor index
  int pooled = -1;                  // tensor index
  std::vector<std::string> layers;  // layer labels in first-appearance order
};

}  // namespace skein
