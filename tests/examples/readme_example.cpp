// The library example of README.md, verbatim: the test suite builds and runs it
// so the README cannot drift from the API.
#include <skein/skein.h>
#include <cstdio>

int main() {
  auto model = skein::Model::load("models/default");  // validates, memory-maps weights
  skein::SessionOptions options;
  options.threads = 2;                     // 0 = all cores
  skein::Session session(model, options);  // one session per thread
  std::string text = "A long document ...";
  std::vector<int32_t> ids =
      model->tokenize({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  std::span<const int32_t> batch[] = {ids};   // real tokens only, no padding
  skein::RunResult out = session.run(batch);  // MEAN pooling divides by max_seq_len
  std::printf("label %s\n", model->label(out.logits.at(0, 1) > out.logits.at(0, 0)).c_str());
  for (const auto& layer : session.profile().layers)
    std::printf("%s %.3f ms\n", layer.layer.c_str(), skein::median_ns(layer.latency_ns) / 1e6);
}
