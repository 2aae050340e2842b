// The attention interface: every method (exact, skeinformer, ...) is one class
// behind it, created by name through make_attention().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace skein {

/// Alignment of the workspace span run() receives, and of the pieces methods carve from it.
inline constexpr size_t kWorkspaceAlignment = 64;

/// `bytes` rounded up to a multiple of kWorkspaceAlignment.
inline size_t aligned_size(size_t bytes) {
  return (bytes + kWorkspaceAlignment - 1) / kWorkspaceAlignment * kWorkspaceAlignment;
}

/// Shapes of one attention call, enough to size its workspace.
struct AttentionShape {
  int64_t num_seqs = 0;      // sequences in the packed batch
  int64_t total_tokens = 0;  // rows of q, k, v
  int64_t max_len = 0;       // longest sequence
  int num_heads = 0;
  int head_dim = 0;
  // Rows k of the model's learned sequence projection (linformer's E), 0 when
  // the model has none.
  int64_t projection_rows = 0;
};

/// One multi-head attention call over a packed batch. q, k, v and out are
/// row-major [total_tokens, num_heads * head_dim]; head h owns columns
/// [h * head_dim, (h + 1) * head_dim). Sequence s owns rows
/// [seq_offsets[s], seq_offsets[s + 1]); attention never crosses sequences.
struct AttentionProblem {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  float* out = nullptr;
  std::span<const int64_t> seq_offsets;  // num_seqs + 1 entries, starting at 0
  AttentionShape shape;
  // Randomized methods derive one stream per (seed, layer, sequence, head)
  // from these, so results do not depend on thread count or schedule.
  uint64_t seed = 0;
  int64_t layer = 0;  // ordinal of this attention node in the graph
  // The model's learned sequence projection of this node, [num_heads,
  // shape.projection_rows, projection_len] row-major (linformer's E); null
  // when the model has none.
  const float* projection = nullptr;
  int64_t projection_len = 0;
};

class AttentionMethod {
 public:
  virtual ~AttentionMethod() = default;
  virtual std::string name() const = 0;
  /// Scratch bytes run() needs for `shape` when called with `threads` OpenMP threads.
  virtual size_t workspace_bytes(const AttentionShape& shape, int threads) const = 0;
  /// Computes problem.out. Runs its own OpenMP parallel region (never call it
  /// from inside one). `workspace` holds at least workspace_bytes() bytes,
  /// 64-byte aligned.
  virtual void run(const AttentionProblem& problem, std::span<std::byte> workspace) const = 0;
  /// Floating-point operations of one call, for the profiler's GFLOP/s; 0 when
  /// the method does not count them.
  virtual double flops(std::span<const int64_t> /*seq_offsets*/, int /*num_heads*/,
                       int /*head_dim*/) const {
    return 0;
  }
};

/// Creates the method called `name` with its parameters (the model.json
/// "attention" object). Throws skein::Error naming an unknown method or a bad
/// parameter.
std::unique_ptr<AttentionMethod> make_attention(const nlohmann::json& spec);

/// Every method name make_attention() knows, in registry order.
std::vector<std::string> attention_method_names();

}  // namespace skein
