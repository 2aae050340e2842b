// The library example of README.md, verbatim: the test suite builds and runs it
// so the README cannot drift from the API.
#include <skein/skein.h>
#include <algorithm>
#include <cstdio>

int main() {
  auto model = skein::Model::load("models/code-lang");  // validates, memory-maps weights
  skein::SessionOptions options;
  options.threads = 2;                     // 0 = all cores
  skein::Session session(model, options);  // one session per thread
  std::string text = "#include <stdio.h>\n\nint main(void) {\n  puts(\"hello, world\");\n}\n";
  std::vector<int32_t> ids =
      model->tokenize({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  std::span<const int32_t> batch[] = {ids};   // real tokens only, no padding
  skein::RunResult out = session.run(batch);  // logits [1, num_classes]
  const std::vector<float>& logits = out.logits.data;
  auto best = std::max_element(logits.begin(), logits.end()) - logits.begin();
  std::printf("label %s\n", model->label(best).c_str());  // label C
  for (const auto& layer : session.profile().layers)
    std::printf("%s %.3f ms\n", layer.layer.c_str(), skein::median_ns(layer.latency_ns) / 1e6);
}
