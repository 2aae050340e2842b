// A Session's `threads` option bounds every parallel region of a run,
// oneDNN's included: a process that only ever runs a threads = 1 session over
// a long input must stay single-threaded (libgomp starts worker threads on
// the first region that asks for them). Then a threads = 2 session must
// start a second thread, which shows the check can see one. Run as its own
// process (ctest `session_threads`), since any earlier parallel region would
// already have started the workers.
#include <cstdio>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "model_fixture.h"
#include "skein/skein.h"

namespace {

// The "Threads:" line of /proc/self/status.
int os_threads() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

int run_with(const std::shared_ptr<const skein::Model>& model, int threads) {
  skein::SessionOptions options;
  options.threads = threads;
  skein::Session session(model, options);
  // The tiny model's 32 tokens, 64 sequences: enough rows for oneDNN and the
  // element-wise kernels to go parallel when allowed.
  std::vector<std::vector<int32_t>> sequences(64, std::vector<int32_t>(32, 7));
  std::vector<std::span<const int32_t>> batch(sequences.begin(), sequences.end());
  session.run(batch);
  return os_threads();
}

}  // namespace

int main() {
  const skein::testing::TinyModel tiny(2);
  const std::string dir = tiny.write("session_threads");
  const auto model = skein::Model::load(dir);
  const int one = run_with(model, 1);
  const int two = run_with(model, 2);
  std::printf("session_threads: %d OS thread(s) after a threads = 1 run, %d after threads = 2\n",
              one, two);
  if (one != 1 || two < 2) {
    std::fprintf(stderr, "session_threads: FAILED (expected 1, then at least 2)\n");
    return 1;
  }
  return 0;
}
