#include "skein/model.h"

#include <sstream>

#include "graph/model_impl.h"
#include "io/model_loader.h"
#include "skein/error.h"

namespace skein {
Model::Model(std::unique_ptr<ModelImpl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

std::shared_ptr<const Model> Model::load(const std::string& dir) {
  return std::shared_ptr<const Model>(new Model(load_model(dir)));
}

const std::string& Model::path() const {
  return impl_->path;
}
const std::string& Model::name() const {
  return impl_->name;
}
const ModelConfig& Model::config() const {
  return impl_->config;
}

std::string Model::label(int64_t index) const {
  if (index >= 0 && index < static_cast<int64_t>(impl_->labels.size())) {
    return impl_->labels[static_cast<size_t>(index)];
  }
  return std::to_string(index);
}

std::vector<int32_t> Model::tokenize(std::span<const uint8_t> bytes) const {
  return impl_->tokenizer.encode(bytes);
}

int64_t Model::input_byte_limit() const {
  return impl_->tokenizer.byte_limit(impl_->config.max_seq_len);
}

int64_t Model::input_prefix_bytes(std::span<const uint8_t> text) const {
  return impl_->tokenizer.prefix_bytes(text, impl_->config.max_seq_len);
}

const std::vector<std::string>& Model::vocabulary() const {
  return impl_->tokenizer.vocabulary();
}

int64_t Model::parameter_count() const {
  int64_t count = 0;
  for (const TensorInfo& t : impl_->weights.tensors()) count += t.numel;
  return count;
}

int64_t Model::weight_bytes() const {
  int64_t bytes = 0;
  for (const TensorInfo& t : impl_->weights.tensors()) bytes += static_cast<int64_t>(t.nbytes);
  return bytes;
}

std::string Model::describe() const {
  const ModelConfig& c = impl_->config;
  const Graph& g = impl_->graph;
  std::ostringstream out;
  out << "model " << impl_->path << (impl_->name.empty() ? "" : " (" + impl_->name + ")") << "\n"
      << "  config: vocab " << c.vocab_size << ", dim " << c.dim << ", hidden " << c.hidden_dim
      << ", heads " << c.num_heads << " x " << c.head_dim << ", layers " << c.num_layers
      << ", max_seq_len " << c.max_seq_len << ", pooling " << c.pooling << ", classes "
      << c.num_classes << (c.dual ? ", dual" : "") << "\n"
      << "  tokenizer: " << impl_->tokenizer.describe() << "\n"
      << "  attention: " << impl_->attention.dump() << "\n"
      << "  parameters: " << parameter_count() << " (" << weight_bytes() << " bytes, mapped)\n"
      << "  graph: " << g.nodes.size() << " nodes\n";
  for (const Node& n : g.nodes) {
    const TensorDesc& o = g.tensors[n.output];
    out << "    [" << n.layer << "] " << n.name << " = " << op_name(n.op) << "(";
    if (n.op == OpKind::Embedding) out << "ids";
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      out << (i ? ", " : "") << g.tensors[n.inputs[i]].name;
    }
    out << ") -> " << o.name << " " << row_kind_name(o.rows) << "[" << o.width << "]";
    for (const WeightRef& w : n.weights) out << " " << w.name << shape_text(w.shape);
    if (n.cls_id >= 0) out << " cls_id " << n.cls_id;
    if (n.ngram_max > 0) out << " ngram_max " << n.ngram_max;
    out << "\n";
  }
  return out.str();
}

}  // namespace skein
