// The per-node and per-layer profile a Session records while it runs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "skein/export.h"

namespace skein {

/// What one node of the graph cost. Latencies are wall-clock nanoseconds of the
/// node's kernel, one sample per run since the profile was last reset.
struct NodeProfile {
  std::string name;   // node name from model.json, e.g. "attn-0"
  std::string op;     // op name, e.g. "attention"
  std::string layer;  // layer label, e.g. "0", "embed", "head"
  std::vector<int64_t> latency_ns;
  /// Planned activation bytes live while the node ran (its inputs, output,
  /// every other tensor still needed later, and its workspace), last run.
  int64_t live_bytes = 0;
  int64_t workspace_bytes = 0;  // the part of live_bytes that is kernel scratch
  int64_t weight_bytes = 0;     // bytes of the weights the node reads
  double flops = 0;             // floating-point operations of the last run (0 = unknown)
  /// Index of the fused run (SessionOptions::fuse_rows) the node ran in, or -1
  /// when it ran on its own. A fused node's latency is its share of the run's
  /// wall time, in proportion to the thread time it took over the run's blocks.
  int fused_run = -1;
};

/// Nodes grouped by their layer label, in first-appearance order.
struct LayerProfile {
  std::string layer;
  std::vector<int64_t> latency_ns;   // per run: the sum of the layer's node latencies
  int64_t peak_live_bytes = 0;       // max live_bytes over the layer's nodes (activation arena)
  int64_t peak_workspace_bytes = 0;  // max workspace over the layer's nodes
  int64_t weight_bytes = 0;          // weights the layer reads
  int64_t rss_high_water_bytes = 0;  // process peak RSS (VmHWM) when the layer finished, last run
  double flops = 0;
};

/// Median and 90th percentile of latency samples (0 when there are none).
SKEIN_API int64_t median_ns(const std::vector<int64_t>& samples);
SKEIN_API int64_t percentile_ns(const std::vector<int64_t>& samples, double p);

struct Profile {
  std::vector<NodeProfile> nodes;
  std::vector<LayerProfile> layers;
  int64_t arena_bytes = 0;  // size of the planned activation arena, last run
  int64_t runs = 0;
};

}  // namespace skein
