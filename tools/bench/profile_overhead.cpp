// The cost of the profiler's per-node timing scope (a benchmark, not a test).
// engine/src/graph/executor.cpp times every node as
//   start = steady_clock::now(); run(node); elapsed = now() - start;
//   node_done(node, ns)   // a std::function storing ns into a vector (session.cpp)
// This program runs that scope around an empty, non-inlined "node" many times,
// and the same loop without the scope, and prints the difference per node:
// the time profiling adds to each node of a forward pass (and the nanoseconds
// it cannot see, since the clock reads bracket the node).
//
//   cmake --build build --target profile_overhead && build/tools/bench/profile_overhead
//   [ITERATIONS]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// A node that does nothing, opaque to the optimiser.
__attribute__((noinline)) void empty_node(size_t i) {
  asm volatile("" : : "r"(i) : "memory");
}

double ns_per_iteration(Clock::time_point start, int64_t iterations) {
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() /
         static_cast<double>(iterations);
}

// Without the scope: the node calls alone.
double bare(int64_t iterations, size_t nodes) {
  const auto start = Clock::now();
  for (int64_t i = 0; i < iterations; ++i) empty_node(static_cast<size_t>(i) % nodes);
  return ns_per_iteration(start, iterations);
}

// With the executor's scope and the session's callback.
double scoped(int64_t iterations, std::vector<int64_t>& node_ns) {
  const std::function<void(size_t, int64_t)> node_done = [&](size_t node, int64_t ns) {
    node_ns[node] = ns;
  };
  const size_t nodes = node_ns.size();
  const auto start = Clock::now();
  for (int64_t i = 0; i < iterations; ++i) {
    const size_t node = static_cast<size_t>(i) % nodes;
    auto t0 = Clock::now();
    empty_node(node);
    auto elapsed = Clock::now() - t0;
    node_done(node, std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
  }
  return ns_per_iteration(start, iterations);
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t iterations = argc > 1 ? std::atoll(argv[1]) : 1000000;
  if (iterations < 1) {
    std::fprintf(stderr, "profile_overhead: ITERATIONS must be a positive integer\n");
    return 2;
  }
  std::vector<int64_t> node_ns(40);  // about the node count of a 2-layer encoder
  // Best of 7 rounds: other load only adds time.
  double best_bare = 1e30, best_scoped = 1e30;
  for (int round = 0; round < 7; ++round) {
    best_bare = std::min(best_bare, bare(iterations, node_ns.size()));
    best_scoped = std::min(best_scoped, scoped(iterations, node_ns));
  }
  int64_t seen = 0;
  for (int64_t ns : node_ns) seen = std::max(seen, ns);
  std::printf(
      "%lld iterations, best of 7 rounds: empty node %.2f ns, with the timing scope %.2f ns\n"
      "timing-scope overhead: %.2f ns per node (largest recorded empty-node time %lld ns)\n",
      static_cast<long long>(iterations), best_bare, best_scoped, best_scoped - best_bare,
      static_cast<long long>(seen));
  return 0;
}
