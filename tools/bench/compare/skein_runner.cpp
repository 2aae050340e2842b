// The skein side of tools/bench/compare: loads a model and one input batch,
// then answers the driver's commands on stdin with one JSON line each on
// stdout (the protocol every runner of the comparison speaks):
//   logits    one forward pass; {"logits": [[...], ...], "ms": t}
//   time K    K forward passes; {"ms": [t1, ..., tK], "cpu_ms": [process CPU time of each]}
//   quit      {"vmhwm_bytes": peak RSS (VmHWM), "rss_after_load_bytes": ...}, exit
// Timed: Session::run on token ids already in memory (wall time, steady_clock),
// nothing else. The session (arena, workspaces) is built once, before timing.
//
//   compare_skein_runner --model DIR --inputs IN.safetensors --threads T
//                        [--attention NAME] [--features D] [--seed S]
// IN holds ids [batch, n] (int64) and mask [batch, n] (f32, 1 = real token).
#include <time.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "skein/skein.h"

namespace {

using nlohmann::json;

// Bytes of a "VmXXX:  N kB" line of /proc/self/status, 0 when absent.
int64_t proc_status_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1)) * 1024;
  }
  return 0;
}

// Each row's real tokens (the mask's leading ones), as int32 ids.
std::vector<std::vector<int32_t>> read_rows(const skein::SafetensorsFile& file, int64_t& n) {
  const skein::TensorInfo* ids = file.find("ids");
  const skein::TensorInfo* mask = file.find("mask");
  if (!ids || !mask || ids->dtype != skein::Dtype::I64 || mask->dtype != skein::Dtype::F32 ||
      ids->shape.size() != 2 || mask->shape != ids->shape) {
    throw skein::Error(file.path() + ": expected ids [batch, n] I64 and mask [batch, n] F32");
  }
  const auto* id = reinterpret_cast<const int64_t*>(ids->data);
  const auto* real = reinterpret_cast<const float*>(mask->data);
  n = ids->shape[1];
  std::vector<std::vector<int32_t>> rows;
  for (int64_t b = 0; b < ids->shape[0]; ++b) {
    std::vector<int32_t> row;
    for (int64_t t = 0; t < n && real[b * n + t] != 0.0f; ++t)
      row.push_back(static_cast<int32_t>(id[b * n + t]));
    rows.push_back(std::move(row));
  }
  return rows;
}

double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// CPU time of the whole process (all threads), ms.
double cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

void reply(const json& j) {
  std::cout << j.dump() << std::endl;  // endl: the driver waits for the line
}

int serve(int argc, char** argv) {
  cxxopts::Options options("compare_skein_runner", "skein runner of tools/bench/compare");
  // clang-format off
  options.add_options()
      ("model", "model directory", cxxopts::value<std::string>())
      ("inputs", "ids and mask (safetensors)", cxxopts::value<std::string>())
      ("threads", "threads", cxxopts::value<int>()->default_value("2"))
      ("attention", "attention method replacing the model's", cxxopts::value<std::string>()->default_value(""))
      ("features", "feature count of sampling methods (0 = default)", cxxopts::value<int64_t>()->default_value("0"))
      ("seed", "seed of randomized methods", cxxopts::value<uint64_t>()->default_value("0"));
  // clang-format on
  cxxopts::ParseResult args = options.parse(argc, argv);
  if (!args.count("model") || !args.count("inputs"))
    throw skein::Error("compare_skein_runner: --model and --inputs are required");

  auto model = skein::Model::load(args["model"].as<std::string>());
  int64_t n = 0;
  std::vector<std::vector<int32_t>> rows =
      read_rows(skein::SafetensorsFile::open(args["inputs"].as<std::string>()), n);
  std::vector<std::span<const int32_t>> batch(rows.begin(), rows.end());
  skein::SessionOptions o;
  o.threads = args["threads"].as<int>();
  o.attention = args["attention"].as<std::string>();
  o.features = args["features"].as<int64_t>();
  o.seed = args["seed"].as<uint64_t>();
  skein::Session session(model, o);
  const int64_t rss_after_load = proc_status_bytes("VmRSS");
  reply({{"ready", true}, {"attention", session.attention_method()}});

  std::string command;
  while (std::getline(std::cin, command)) {
    if (command == "logits") {
      auto start = std::chrono::steady_clock::now();
      skein::RunResult out = session.run(batch, n);
      double ms = elapsed_ms(start);
      json logits = json::array();
      for (int64_t r = 0; r < out.logits.rows; ++r) {
        json row = json::array();
        for (int64_t c = 0; c < out.logits.cols; ++c) row.push_back(out.logits.at(r, c));
        logits.push_back(row);
      }
      reply({{"logits", logits}, {"ms", ms}});
    } else if (command.rfind("time ", 0) == 0) {
      int repeats = std::stoi(command.substr(5));
      json times = json::array(), cpu_times = json::array();
      for (int i = 0; i < repeats; ++i) {
        double cpu_start = cpu_ms();
        auto start = std::chrono::steady_clock::now();
        session.run(batch, n);
        times.push_back(elapsed_ms(start));
        cpu_times.push_back(cpu_ms() - cpu_start);
      }
      reply({{"ms", times}, {"cpu_ms", cpu_times}});
    } else if (command == "quit") {
      reply(
          {{"vmhwm_bytes", proc_status_bytes("VmHWM")}, {"rss_after_load_bytes", rss_after_load}});
      return 0;
    } else {
      throw skein::Error("compare_skein_runner: unknown command '" + command + "'");
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return serve(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare_skein_runner: %s\n", e.what());
    return 2;
  }
}
