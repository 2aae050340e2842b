// skein::Session: runs inputs through a Model. One session per thread; many
// sessions may share one Model.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "skein/export.h"
#include "skein/model.h"
#include "skein/profile.h"
#include "skein/tensor.h"

namespace skein {

struct SessionOptions {
  int threads = 0;    // OpenMP threads for this session's kernels; 0 = all cores
  uint64_t seed = 0;  // seed of randomized attention methods
  /// Attention method replacing the model's (e.g. "exact"); empty = the model's own.
  std::string attention;
  /// Feature count (sketch size) for methods that take one; 0 = keep the method's.
  int64_t features = 0;
  /// Largest activation arena (planned activations + kernel workspaces) a run
  /// may use, in bytes; a run planned above it fails before allocating.
  /// 0 = 80% of physical memory.
  int64_t max_memory_bytes = 0;
  /// Run each stretch of row-local nodes between attention layers (norms,
  /// projections, activations, residual adds) block by block over the rows,
  /// so that the tensors inside a stretch stay in cache and out of the arena.
  /// false runs every node over whole tensors (each node timed on its own).
  bool fuse_rows = true;
};

/// Outputs of one run, one row per batch item.
struct RunResult {
  Matrix logits;  // [batch, num_classes]
  Matrix pooled;  // [batch, width]: pooled encoder output (dual: [x0, x1, x0*x1, x0-x1])
};

class SessionImpl;

class SKEIN_API Session {
 public:
  Session(std::shared_ptr<const Model> model, SessionOptions options = {});
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  /// Runs a batch. `sequences` holds each item's real token ids (no padding);
  /// a dual model takes 2 × batch sequences, every item's first tower first,
  /// then every item's second tower. `padded_length` is the length the
  /// reference model would have padded to (MEAN pooling divides by it); 0 means
  /// the model's max_seq_len. Sequences must be non-empty and no longer than
  /// padded_length. Throws skein::Error on bad input or when the planned
  /// arena exceeds options().max_memory_bytes; the session stays usable.
  RunResult run(std::span<const std::span<const int32_t>> sequences, int64_t padded_length = 0);

  /// Per-node and per-layer profile accumulated over runs since reset_profile().
  Profile profile() const;
  void reset_profile();

  const SessionOptions& options() const;
  /// Name of the attention method this session runs (the model's or the override).
  std::string attention_method() const;
  /// Threads this session's kernels use (options().threads, or all cores for 0).
  int threads() const;
  const Model& model() const;

 private:
  std::unique_ptr<SessionImpl> impl_;
};

}  // namespace skein
