// skein classify: label text files with a model.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include <unistd.h>

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "profile_table.h"
#include "session_flags.h"
#include "skein/skein.h"
#include "text_input.h"

namespace skein::cli {
namespace {

// Files are classified in batches of this many: enough to fill the threads
// for short files, few enough that memory stays bounded for many files.
constexpr size_t kFilesPerBatch = 32;

struct FileResult {
  std::string path;
  std::string error;  // empty on success
  bool truncated = false;
  int64_t tokens = 0;
  int64_t total_bytes = -1;
  std::vector<float> logits;
};

int64_t argmax(const std::vector<float>& v) {
  return std::max_element(v.begin(), v.end()) - v.begin();
}

// Probability of the winning class under softmax of the logits.
double top_probability(const std::vector<float>& logits) {
  float top = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l - top));
  return 1.0 / sum;
}

void print_text(const Model& model, std::span<const FileResult> results) {
  for (const FileResult& r : results) {
    if (!r.error.empty()) continue;
    int64_t cls = argmax(r.logits);
    std::printf("%s\t%s\t%.4f\n", r.path.c_str(), model.label(cls).c_str(),
                top_probability(r.logits));
  }
}

void print_json(const Model& model, const std::vector<FileResult>& results) {
  nlohmann::json out = nlohmann::json::array();
  for (const FileResult& r : results) {
    nlohmann::json j = {{"file", r.path}};
    if (!r.error.empty()) {
      j["error"] = r.error;
    } else {
      int64_t cls = argmax(r.logits);
      j["label"] = model.label(cls);
      j["class"] = cls;
      j["probability"] = top_probability(r.logits);
      j["logits"] = r.logits;
      j["tokens"] = r.tokens;
      j["truncated"] = r.truncated;
    }
    out.push_back(std::move(j));
  }
  std::printf("%s\n", out.dump(2).c_str());
}

// The model's token ids of a file's bytes; an unknown word names the file.
std::vector<int32_t> tokenize_file(const Model& model, const std::string& path,
                                   std::span<const uint8_t> bytes) {
  try {
    return model.tokenize(bytes);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

void classify_batch(Session& session, const Model& model, std::vector<FileResult>& results,
                    std::span<const std::string> paths, int repeat) {
  const ModelConfig& cfg = model.config();
  std::vector<std::vector<int32_t>> ids;
  std::vector<size_t> which;
  for (const std::string& path : paths) {
    FileResult r;
    r.path = path;
    try {
      TextInput text = read_model_input(model, path);
      r.truncated = text.truncated;
      r.total_bytes = text.total_bytes;
      std::vector<int32_t> tokens = tokenize_file(model, path, text.bytes);
      r.tokens = static_cast<int64_t>(tokens.size());
      ids.push_back(std::move(tokens));
      which.push_back(results.size());
      if (r.truncated) {
        std::string size =
            r.total_bytes >= 0 ? std::to_string(r.total_bytes) + " bytes" : "more input";
        std::fprintf(stderr,
                     "skein classify: warning: %s has %s; classified its first %lld tokens "
                     "(the model's max_seq_len)\n",
                     path.c_str(), size.c_str(), static_cast<long long>(cfg.max_seq_len));
      }
    } catch (const Error& e) {
      r.error = e.what();
      std::fprintf(stderr, "skein classify: %s\n", e.what());
    }
    results.push_back(std::move(r));
  }
  if (ids.empty()) return;
  std::vector<std::span<const int32_t>> batch(ids.begin(), ids.end());
  RunResult out = session.run(batch);
  // Extra runs only feed the profile: the same inputs give the same logits.
  for (int r = 1; r < repeat; ++r) session.run(batch);
  for (size_t i = 0; i < which.size(); ++i) {
    const float* row = out.logits.data.data() + static_cast<int64_t>(i) * out.logits.cols;
    results[which[i]].logits.assign(row, row + out.logits.cols);
  }
}

}  // namespace

int classify_command(int argc, char** argv) {
  cxxopts::Options options("skein classify", "Classify text files with a model.");
  options.positional_help("FILE...  (- reads stdin)");
  // clang-format off
  options.add_options()
      ("m,model", "model directory (model.json + model.safetensors)", cxxopts::value<std::string>())
      ("f,format", "output format: text (file, label, probability per line) or json",
       cxxopts::value<std::string>()->default_value("text"))
      ("p,profile", "print the per-layer latency and memory table (to stderr with --format json)")
      ("r,repeat", "run each batch this many times; the profile reports medians over the runs "
                   "(the first run includes one-time kernel setup)",
       cxxopts::value<int>()->default_value("1"))
      ("h,help", "show this help")
      ("files", "text files", cxxopts::value<std::vector<std::string>>());
  // clang-format on
  add_session_flags(options);
  options.parse_positional({"files"});
  cxxopts::ParseResult args = options.parse(argc, argv);
  if (args.count("help")) {
    std::printf("%s\n", options.help().c_str());
    std::printf(
        "Each file's bytes become token ids per the model's tokenizer (bytes: one id per byte;\n"
        "words: one per whitespace-separated token, an unknown token is an error); a file of\n"
        "more than the model's max_seq_len tokens is truncated to its first max_seq_len, with\n"
        "a warning.\n"
        "Files that cannot be read, are empty or are binary (a NUL byte in the bytes read) are\n"
        "reported on stderr and skipped; the exit code is then 1.\n"
        "Files run in batches of 32. Text results are printed as each batch finishes; with\n"
        "--format json (one array at the end) a terminal shows a file counter on stderr.\n");
    return kExitOk;
  }
  if (!args.count("model")) throw Error("missing --model DIR");
  if (!args.count("files")) throw Error("no input files (give FILE... or - for stdin)");
  std::string format = args["format"].as<std::string>();
  if (format != "text" && format != "json") {
    throw Error("--format must be text or json, got '" + format + "'");
  }
  int repeat = args["repeat"].as<int>();
  if (repeat < 1) throw Error("--repeat must be at least 1, got " + std::to_string(repeat));
  auto files = args["files"].as<std::vector<std::string>>();
  if (std::count(files.begin(), files.end(), "-") > 1)
    throw Error("stdin (-) given more than once");

  auto model = Model::load(args["model"].as<std::string>());
  if (model->config().dual) {
    throw Error(model->path() + ": a dual-tower model classifies pairs; use skein run");
  }
  Session session(model, session_options(args));

  // Text lines appear batch by batch, so a long run shows its progress on
  // stdout; JSON is one array at the end, so a terminal gets a counter on stderr.
  const bool show_progress =
      format == "json" && files.size() > kFilesPerBatch && isatty(STDERR_FILENO);
  std::vector<FileResult> results;
  for (size_t begin = 0; begin < files.size(); begin += kFilesPerBatch) {
    size_t count = std::min(kFilesPerBatch, files.size() - begin);
    classify_batch(session, *model, results, std::span(files).subspan(begin, count), repeat);
    if (format == "text") {
      print_text(*model, std::span(results).subspan(begin, count));
      std::fflush(stdout);
    } else if (show_progress) {
      std::fprintf(stderr, "\rskein classify: %zu/%zu files", begin + count, files.size());
      if (begin + count == files.size()) std::fputc('\n', stderr);
    }
  }
  if (format == "json") print_json(*model, results);
  if (args.count("profile")) {
    // JSON output stays machine-readable: the table then goes to stderr.
    std::fflush(stdout);
    print_layer_table(format == "json" ? stderr : stdout, session.profile(), session.threads());
  }
  bool any_failed = std::any_of(results.begin(), results.end(),
                                [](const FileResult& r) { return !r.error.empty(); });
  return any_failed ? kExitSomeInputsFailed : kExitOk;
}

}  // namespace skein::cli
