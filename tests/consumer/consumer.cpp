// Built by tests/consumer/run.sh against an installed skein (find_package and
// pkg-config): loads the model given on the command line, classifies one text
// and prints the version and logits, then checks that skein::Error thrown
// inside the library is caught here as skein::Error.
#include <skein/skein.h>

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer MODEL_DIR\n");
    return 2;
  }
  auto model = skein::Model::load(argv[1]);
  skein::SessionOptions options;
  options.threads = 1;
  skein::Session session(model, options);
  const std::string text = "An installed skein classifies this text.";
  std::vector<int32_t> ids =
      model->tokenize({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  std::span<const int32_t> batch[] = {ids};
  skein::RunResult out = session.run(batch);
  std::printf("skein %s\nlogits", skein::version());
  for (float l : out.logits.data) std::printf(" %.9g", static_cast<double>(l));
  std::printf("\n");
  try {
    skein::Model::load("/nonexistent/skein-model");
  } catch (const skein::Error& e) {
    std::printf("caught skein::Error\n");
    return 0;
  }
  std::fprintf(stderr, "no skein::Error for a missing model\n");
  return 1;
}
