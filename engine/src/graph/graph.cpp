#include "graph/graph.h"

namespace skein {

const char* op_name(OpKind op) {
  switch (op) {
    case OpKind::Embedding:
      return "embedding";
    case OpKind::LayerNorm:
      return "layer_norm";
    case OpKind::Linear:
      return "linear";
    case OpKind::Attention:
      return "attention";
    case OpKind::Gelu:
      return "gelu";
    case OpKind::Relu:
      return "relu";
    case OpKind::Add:
      return "add";
    case OpKind::Mul:
      return "mul";
    case OpKind::Sub:
      return "sub";
    case OpKind::Concat:
      return "concat";
    case OpKind::MeanPool:
      return "mean_pool";
    case OpKind::TokenMeanPool:
      return "token_mean_pool";
    case OpKind::ClsPool:
      return "cls_pool";
    case OpKind::Tower:
      return "tower";
  }
  return "?";
}

const char* row_kind_name(RowKind kind) {
  switch (kind) {
    case RowKind::Tokens:
      return "tokens";
    case RowKind::Sequences:
      return "sequences";
    case RowKind::Items:
      return "items";
  }
  return "?";
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace skein
