// skein profile: per-layer and per-node latency and memory of a model over a
// sweep of sequence lengths, attention methods and thread counts.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "graph/model_impl.h"
#include "graph/planner.h"
#include "io/synthetic_model.h"
#include "method_names.h"
#include "profile_table.h"
#include "session_flags.h"
#include "skein/skein.h"
#include "svg_plot.h"

namespace skein::cli {
namespace {

using nlohmann::json;

struct Config {
  int64_t seq_len = 0;
  std::string attention;  // "" = the model's
  int threads = 0;
};

struct Measurement {
  Config config;
  Profile profile;
  int threads = 0;         // resolved
  std::string attention;   // resolved method name
  bool row_fusion = true;  // SessionOptions::fuse_rows
};

template <typename T>
std::vector<T> parse_list(const std::string& text, const std::string& flag) {
  std::vector<T> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) throw Error(flag + ": empty item in '" + text + "'");
    if constexpr (std::is_same_v<T, std::string>) {
      out.push_back(item);
    } else {
      size_t used = 0;
      long long v = -1;
      try {
        v = std::stoll(item, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != item.size() || v < 1) {
        throw Error(flag + ": expected positive integers, got '" + item + "'");
      }
      out.push_back(static_cast<T>(v));
    }
  }
  if (out.empty()) throw Error(flag + ": empty list");
  return out;
}

// "dim=64,hidden=128,heads=2,layers=2" (also head_dim, classes, vocab).
ModelConfig parse_synthetic(const std::string& spec, int64_t max_seq_len) {
  ModelConfig c;
  c.vocab_size = 258;
  c.dim = 64;
  c.hidden_dim = 128;
  c.num_heads = 2;
  c.num_layers = 2;
  c.num_classes = 2;
  c.pooling = "mean";
  c.max_seq_len = max_seq_len;
  int64_t head_dim = 0;
  for (const std::string& item : parse_list<std::string>(spec, "--synthetic")) {
    size_t eq = item.find('=');
    std::string key = item.substr(0, eq);
    int64_t value =
        eq == std::string::npos ? 0 : parse_list<int64_t>(item.substr(eq + 1), "--synthetic")[0];
    if (key == "dim")
      c.dim = value;
    else if (key == "hidden")
      c.hidden_dim = value;
    else if (key == "heads")
      c.num_heads = value;
    else if (key == "head_dim")
      head_dim = value;
    else if (key == "layers")
      c.num_layers = value;
    else if (key == "classes")
      c.num_classes = value;
    else if (key == "vocab")
      c.vocab_size = value;
    else
      throw Error("--synthetic: unknown key '" + key +
                  "' (known: dim, hidden, heads, head_dim, layers, classes, vocab)");
  }
  c.head_dim = head_dim > 0 ? head_dim : c.dim / c.num_heads;
  if (c.head_dim < 1) throw Error("--synthetic: heads exceed dim; give head_dim");
  return c;
}

// Loads the synthetic model through a temporary directory: the same loader and
// validation as a real model. The mapping outlives the removed files.
std::shared_ptr<const Model> load_synthetic(const ModelConfig& cfg) {
  auto dir =
      std::filesystem::temp_directory_path() / ("skein_synthetic_" + std::to_string(::getpid()));
  make_synthetic_model(cfg, 1, true).write(dir.string());
  auto model = Model::load(dir.string());
  std::filesystem::remove_all(dir);
  return model;
}

double ms(int64_t ns) {
  return static_cast<double>(ns) / 1e6;
}

// Per-run whole-forward latency: the sum of the layer latencies of each run.
std::vector<int64_t> forward_ns(const Profile& p) {
  std::vector<int64_t> totals(static_cast<size_t>(p.runs), 0);
  for (const LayerProfile& l : p.layers) {
    for (size_t r = 0; r < l.latency_ns.size(); ++r) totals[r] += l.latency_ns[r];
  }
  return totals;
}

int64_t peak_activation_bytes(const Profile& p) {
  int64_t peak = 0;
  for (const LayerProfile& l : p.layers) peak = std::max(peak, l.peak_live_bytes);
  return peak;
}

json timing(const std::vector<int64_t>& samples) {
  return {{"median_ms", ms(median_ns(samples))},
          {"p90_ms", ms(percentile_ns(samples, 0.9))},
          {"min_ms", ms(percentile_ns(samples, 0.0))}};
}

json to_json(const Measurement& m, const Model& model, int64_t batch) {
  const Profile& p = m.profile;
  const std::vector<int64_t> totals = forward_ns(p);
  json layers = json::array(), nodes = json::array();
  for (const LayerProfile& l : p.layers) {
    int64_t med = median_ns(l.latency_ns);
    json j = timing(l.latency_ns);
    j["layer"] = l.layer;
    j["peak_live_bytes"] = l.peak_live_bytes;
    j["peak_workspace_bytes"] = l.peak_workspace_bytes;
    j["weight_bytes"] = l.weight_bytes;
    j["rss_high_water_bytes"] = l.rss_high_water_bytes;
    j["flops"] = l.flops;
    j["gflops_per_s"] = med > 0 ? l.flops / static_cast<double>(med) : 0.0;
    layers.push_back(std::move(j));
  }
  for (const NodeProfile& n : p.nodes) {
    json j = timing(n.latency_ns);
    j["name"] = n.name;
    j["op"] = n.op;
    j["layer"] = n.layer;
    j["live_bytes"] = n.live_bytes;
    j["workspace_bytes"] = n.workspace_bytes;
    j["weight_bytes"] = n.weight_bytes;
    j["flops"] = n.flops;
    j["fused_run"] = n.fused_run;
    nodes.push_back(std::move(j));
  }
  json out = {{"seq_len", m.config.seq_len},
              {"batch", batch},
              {"attention", m.attention},
              {"threads", m.threads},
              {"row_fusion", m.row_fusion},
              {"runs", p.runs},
              {"total", timing(totals)},
              {"arena_bytes", p.arena_bytes},
              {"weight_bytes", model.weight_bytes()},
              {"layers", layers},
              {"nodes", nodes}};
  return out;
}

void write_csv(std::FILE* out, const std::vector<Measurement>& all, int64_t batch) {
  std::fprintf(out,
               "seq_len,batch,attention,threads,runs,layer,median_ms,p90_ms,min_ms,"
               "peak_live_bytes,peak_workspace_bytes,weight_bytes,rss_high_water_bytes,flops\n");
  for (const Measurement& m : all) {
    for (const LayerProfile& l : m.profile.layers) {
      std::fprintf(
          out, "%lld,%lld,%s,%d,%lld,%s,%.6f,%.6f,%.6f,%lld,%lld,%lld,%lld,%.0f\n",
          static_cast<long long>(m.config.seq_len), static_cast<long long>(batch),
          m.attention.c_str(), m.threads, static_cast<long long>(m.profile.runs), l.layer.c_str(),
          ms(median_ns(l.latency_ns)), ms(percentile_ns(l.latency_ns, 0.9)),
          ms(percentile_ns(l.latency_ns, 0.0)), static_cast<long long>(l.peak_live_bytes),
          static_cast<long long>(l.peak_workspace_bytes), static_cast<long long>(l.weight_bytes),
          static_cast<long long>(l.rss_high_water_bytes), l.flops);
    }
  }
}

// Chrome trace: one complete ("X") event per node per run. Nodes run back to
// back, so each run's events are laid end to end from its measured durations;
// the tiny gaps between nodes (timer reads) are not shown. Each event's args
// carry the node's input, output and weight shapes ([rows, width]) and bytes.
void write_trace(const std::string& path, const std::vector<Measurement>& all, const Model& model,
                 int64_t batch) {
  const Graph& graph = model.impl().graph;
  json events = json::array();
  double ts_us = 0;
  for (size_t c = 0; c < all.size(); ++c) {
    const Measurement& m = all[c];
    const RowCounts rows{batch * m.config.seq_len, batch, model.config().dual ? batch / 2 : batch};
    auto shape = [&](int tensor) {
      const TensorDesc& t = graph.tensors[static_cast<size_t>(tensor)];
      return json::array({rows.of(t.rows), t.width});
    };
    std::string process = "n=" + std::to_string(m.config.seq_len) + " " + m.attention +
                          " threads=" + std::to_string(m.threads);
    events.push_back(
        {{"name", "process_name"}, {"ph", "M"}, {"pid", c + 1}, {"args", {{"name", process}}}});
    for (int64_t r = 0; r < m.profile.runs; ++r) {
      for (size_t i = 0; i < m.profile.nodes.size(); ++i) {
        const NodeProfile& n = m.profile.nodes[i];
        const Node& node = graph.nodes[i];
        json inputs = json::array(), weights = json::object();
        for (int t : node.inputs) inputs.push_back(shape(t));
        for (const WeightRef& w : node.weights) weights[w.name] = w.shape;
        const json output = shape(node.output);
        double dur_us = static_cast<double>(n.latency_ns[static_cast<size_t>(r)]) / 1e3;
        events.push_back({{"name", n.name},
                          {"cat", n.op},
                          {"ph", "X"},
                          {"ts", ts_us},
                          {"dur", dur_us},
                          {"pid", c + 1},
                          {"tid", 1},
                          {"args",
                           {{"layer", n.layer},
                            {"run", r},
                            {"input_shapes", inputs},
                            {"output_shape", output},
                            {"weight_shapes", weights},
                            {"output_bytes", output[0].get<int64_t>() * output[1].get<int64_t>() *
                                                 static_cast<int64_t>(sizeof(float))},
                            {"live_bytes", n.live_bytes},
                            {"workspace_bytes", n.workspace_bytes},
                            {"weight_bytes", n.weight_bytes},
                            {"fused_run", n.fused_run}}}});
        ts_us += dur_us;
      }
    }
  }
  std::ofstream out(path);
  out << json{{"traceEvents", events}, {"displayTimeUnit", "ms"}}.dump();
  if (!out) throw Error(path + ": cannot write the trace");
}

std::string threads_text(int threads) {
  return std::to_string(threads) + (threads == 1 ? " thread" : " threads");
}

// Two log-log panels against sequence length: whole-forward median latency and
// peak activation memory, one series per attention method (and per thread
// count when several were swept).
void write_plot(const std::string& path, const std::vector<Measurement>& all, int64_t batch,
                bool several_thread_counts, const std::string& model_name) {
  Panel latency, memory;
  latency.title = "forward latency (median)";
  latency.x = {"sequence length n", AxisScale::kLog, true};
  latency.y = {"ms", AxisScale::kLog, false};
  memory.title = "peak activation memory (arena, incl. workspace)";
  memory.x = latency.x;
  memory.y = {"MiB", AxisScale::kLog, false};
  for (const Measurement& m : all) {
    std::string name = m.attention;
    if (several_thread_counts) {
      name += ", " + threads_text(m.threads);
    }
    auto series = std::find_if(latency.series.begin(), latency.series.end(),
                               [&](const Series& s) { return s.name == name; });
    if (series == latency.series.end()) {
      latency.series.push_back({name, {}, {}, {}});
      memory.series.push_back({name, {}, {}, {}});
      series = latency.series.end() - 1;
    }
    const auto index = static_cast<size_t>(series - latency.series.begin());
    const auto n = static_cast<double>(m.config.seq_len);
    latency.series[index].x.push_back(n);
    latency.series[index].y.push_back(ms(median_ns(forward_ns(m.profile))));
    memory.series[index].x.push_back(n);
    memory.series[index].y.push_back(static_cast<double>(peak_activation_bytes(m.profile)) /
                                     (1024.0 * 1024.0));
  }
  // Sweeps run length-major; draw each line in increasing n.
  for (Panel* panel : {&latency, &memory}) {
    for (Series& s : panel->series) {
      std::vector<size_t> order(s.x.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s.x[a] < s.x[b]; });
      Series sorted{s.name, {}, {}, {}};
      for (size_t i : order) {
        sorted.x.push_back(s.x[i]);
        sorted.y.push_back(s.y[i]);
      }
      s = std::move(sorted);
    }
  }
  write_svg(path,
            "skein profile: " + model_name + ", batch " + std::to_string(batch) +
                (several_thread_counts ? "" : ", " + threads_text(all.front().threads)),
            {latency, memory});
}

// n random tokens through the model's tokenizer: random bytes, or random words of its vocabulary.
std::vector<int32_t> random_ids(int64_t n, uint32_t seed, const Model& model) {
  std::mt19937 rng(seed);
  const std::vector<std::string>& words = model.vocabulary();
  std::vector<uint8_t> text;
  for (int64_t i = 0; i < n; ++i) {
    if (words.empty()) {
      text.push_back(static_cast<uint8_t>(rng() & 0xff));
    } else {
      const std::string& w = words[rng() % words.size()];
      text.insert(text.end(), w.begin(), w.end());
      text.push_back(' ');
    }
  }
  return model.tokenize(text);
}

}  // namespace

int profile_command(int argc, char** argv) {
  cxxopts::Options options("skein profile",
                           "Per-layer latency and memory over sequence lengths and attention "
                           "methods.");
  // clang-format off
  options.add_options()
      ("m,model", "model directory", cxxopts::value<std::string>())
      ("synthetic", "random reference-layout model instead, e.g. dim=64,hidden=128,heads=2,layers=2 "
                    "(sinusoidal positions: any length)", cxxopts::value<std::string>())
      ("n,seq-len", "comma-separated sequence lengths", cxxopts::value<std::string>()->default_value("1024,4096"))
      ("attention", "comma-separated attention methods (default: the model's)", cxxopts::value<std::string>()->default_value(""))
      ("features", "feature count of the methods that take one (0 = the method's default)", cxxopts::value<int64_t>()->default_value("0"))
      ("seed", "seed of randomized attention methods", cxxopts::value<uint64_t>()->default_value("0"))
      ("b,batch", "sequences per run, each of the full length", cxxopts::value<int64_t>()->default_value("1"))
      ("t,threads", "comma-separated thread counts (0 = all cores)", cxxopts::value<std::string>()->default_value("0"))
      ("r,repeat", "measured runs per configuration", cxxopts::value<int>()->default_value("5"))
      ("warmup", "unmeasured runs first", cxxopts::value<int>()->default_value("1"))
      ("max-memory", "refuse configurations planning a larger activation arena, e.g. 4G (default: 80% of RAM)", cxxopts::value<std::string>()->default_value(""))
      ("unfused", "run every node over whole tensors, each timed on its own, instead of the row-local nodes between attention layers block by block (slower)")
      ("json", "print JSON instead of the table")
      ("csv", "print CSV (one row per configuration and layer) instead of the table")
      ("trace", "write a Chrome trace (Perfetto, chrome://tracing) to FILE", cxxopts::value<std::string>())
      ("svg", "write an SVG plot to FILE: forward latency and peak activation memory against "
              "sequence length, one line per attention method (and thread count), log-log axes",
       cxxopts::value<std::string>())
      ("h,help", "show this help");
  // clang-format on
  cxxopts::ParseResult args = options.parse(argc, argv);
  if (args.count("help")) {
    std::printf("%s\n", options.help().c_str());
    std::printf(
        "Latency is wall time per node (steady_clock around each kernel; the timing scope\n"
        "adds 0.05-0.2 us per node, see docs/PROFILING.md), summed per layer and per run;\n"
        "medians, p90 and minimum over --repeat runs. Fields: docs/PROFILING.md.\n"
        "Memory: activations = planned arena bytes live while the layer ran, workspace = its\n"
        "kernel-scratch part, weights = mapped weight bytes, RSS = process peak resident "
        "memory.\n");
    return kExitOk;
  }
  if (args.count("model") == args.count("synthetic")) {
    throw Error("give exactly one of --model DIR and --synthetic SPEC");
  }
  if (args.count("json") && args.count("csv")) throw Error("give at most one of --json and --csv");
  auto lengths = parse_list<int64_t>(args["seq-len"].as<std::string>(), "--seq-len");
  std::vector<std::string> methods = {""};
  if (!args["attention"].as<std::string>().empty()) {
    methods = parse_list<std::string>(args["attention"].as<std::string>(), "--attention");
  }
  std::vector<int> thread_counts;
  for (const std::string& t :
       parse_list<std::string>(args["threads"].as<std::string>(), "--threads")) {
    thread_counts.push_back(t == "0" ? 0 : parse_list<int>(t, "--threads")[0]);
  }
  int64_t batch = args["batch"].as<int64_t>();
  int repeat = args["repeat"].as<int>(), warmup = args["warmup"].as<int>();
  if (batch < 1) throw Error("--batch must be at least 1");
  if (repeat < 1) throw Error("--repeat must be at least 1");
  if (warmup < 0) throw Error("--warmup must be at least 0");
  int64_t max_len = *std::max_element(lengths.begin(), lengths.end());

  std::shared_ptr<const Model> model =
      args.count("model")
          ? Model::load(args["model"].as<std::string>())
          : load_synthetic(parse_synthetic(args["synthetic"].as<std::string>(), max_len));
  if (max_len > model->config().max_seq_len) {
    throw Error("--seq-len " + std::to_string(max_len) + " exceeds the model's max_seq_len " +
                std::to_string(model->config().max_seq_len));
  }

  std::vector<Config> configs;
  for (int64_t n : lengths) {
    for (const std::string& method : methods) {
      for (int t : thread_counts) configs.push_back({n, method, t});
    }
  }
  std::vector<Measurement> results;
  for (size_t i = 0; i < configs.size(); ++i) {
    const Config& c = configs[i];
    SessionOptions o;
    o.threads = c.threads;
    o.attention = c.attention;
    o.features =
        c.attention.empty() || takes_features(c.attention) ? args["features"].as<int64_t>() : 0;
    o.seed = args["seed"].as<uint64_t>();
    o.max_memory_bytes = parse_bytes(args["max-memory"].as<std::string>(), "--max-memory");
    o.fuse_rows = !args.count("unfused");
    Session session(model, o);
    std::vector<std::vector<int32_t>> ids;
    for (int64_t b = 0; b < batch; ++b)
      ids.push_back(random_ids(c.seq_len, static_cast<uint32_t>(b), *model));
    std::vector<std::span<const int32_t>> sequences(ids.begin(), ids.end());
    std::fprintf(stderr, "[%zu/%zu] n=%lld batch=%lld attention=%s threads=%d ...", i + 1,
                 configs.size(), static_cast<long long>(c.seq_len), static_cast<long long>(batch),
                 session.attention_method().c_str(), session.threads());
    std::fflush(stderr);
    auto start = std::chrono::steady_clock::now();
    for (int w = 0; w < warmup; ++w) session.run(sequences, c.seq_len);
    session.reset_profile();
    for (int r = 0; r < repeat; ++r) session.run(sequences, c.seq_len);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, " %.2f s\n", seconds);
    results.push_back(
        {c, session.profile(), session.threads(), session.attention_method(), o.fuse_rows});
  }

  if (args.count("json")) {
    json out = json::array();
    for (const Measurement& m : results) out.push_back(to_json(m, *model, batch));
    std::printf("%s\n", out.dump(2).c_str());
  } else if (args.count("csv")) {
    write_csv(stdout, results, batch);
  } else {
    for (const Measurement& m : results) {
      std::printf("\n== n = %lld, batch %lld, attention %s\n",
                  static_cast<long long>(m.config.seq_len), static_cast<long long>(batch),
                  m.attention.c_str());
      print_layer_table(stdout, m.profile, m.threads);
    }
  }
  if (args.count("trace")) write_trace(args["trace"].as<std::string>(), results, *model, batch);
  if (args.count("svg")) {
    const std::string name = args.count("model")
                                 ? std::filesystem::path(args["model"].as<std::string>())
                                       .lexically_normal()
                                       .filename()
                                       .string()
                                 : "synthetic " + args["synthetic"].as<std::string>();
    write_plot(args["svg"].as<std::string>(), results, batch, thread_counts.size() > 1, name);
  }
  return kExitOk;
}

}  // namespace skein::cli
