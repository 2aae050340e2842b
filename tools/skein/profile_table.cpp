#include "profile_table.h"

#include <algorithm>

namespace skein::cli {
namespace {

double mib(int64_t bytes) {
  return static_cast<double>(bytes) / (1024.0 * 1024.0);
}
double ms(int64_t ns) {
  return static_cast<double>(ns) / 1e6;
}

}  // namespace

void print_layer_table(std::FILE* out, const Profile& profile, int threads) {
  std::fprintf(out,
               "per-layer profile: %lld run(s), %d thread(s); latency = wall time of the layer's "
               "nodes (median, p90)\n"
               "activations = planned arena bytes live while the layer ran (workspace included); "
               "weights = mapped weight bytes read; RSS = process peak resident memory\n",
               static_cast<long long>(profile.runs), threads);
  std::fprintf(out, "%-8s %12s %12s %10s %16s %14s %12s %10s\n", "layer", "median ms", "p90 ms",
               "share", "activations MiB", "workspace MiB", "weights MiB", "GFLOP/s");
  int64_t total_median = 0;
  for (const LayerProfile& l : profile.layers) total_median += median_ns(l.latency_ns);
  int64_t peak_live = 0;
  for (const LayerProfile& l : profile.layers) {
    int64_t med = median_ns(l.latency_ns);
    peak_live = std::max(peak_live, l.peak_live_bytes);
    double share =
        total_median > 0 ? 100.0 * static_cast<double>(med) / static_cast<double>(total_median) : 0;
    double gflops = l.flops > 0 && med > 0 ? l.flops / static_cast<double>(med) : 0;
    std::fprintf(out, "%-8s %12.3f %12.3f %9.1f%% %16.2f %14.2f %12.3f", l.layer.c_str(), ms(med),
                 ms(percentile_ns(l.latency_ns, 0.9)), share, mib(l.peak_live_bytes),
                 mib(l.peak_workspace_bytes), mib(l.weight_bytes));
    if (gflops > 0) {
      std::fprintf(out, " %10.1f\n", gflops);
    } else {
      std::fprintf(out, " %10s\n", "-");
    }
  }
  int64_t weights = 0;
  for (const LayerProfile& l : profile.layers) weights += l.weight_bytes;
  int64_t rss = profile.layers.empty() ? 0 : profile.layers.back().rss_high_water_bytes;
  std::fprintf(out,
               "total    %12.3f ms (sum of layer medians); activation arena %.2f MiB (peak live "
               "%.2f MiB); weights %.3f MiB; process RSS high-water %.1f MiB\n",
               ms(total_median), mib(profile.arena_bytes), mib(peak_live), mib(weights), mib(rss));
}

}  // namespace skein::cli
