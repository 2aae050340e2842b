// skein run: token ids from a safetensors file in, logits and pooled out.
#include <cstdio>
#include <string>
#include <vector>

#include <cxxopts.hpp>

#include "commands.h"
#include "io/safetensors.h"
#include "session_flags.h"
#include "skein/skein.h"

namespace skein::cli {
namespace {

// One tower's input: rows of ids with their real lengths.
struct TokenRows {
  std::vector<std::vector<int32_t>> rows;
  int64_t padded_length = 0;
};

const TensorInfo& require_tensor(const SafetensorsFile& file, const std::string& name) {
  const TensorInfo* t = file.find(name);
  if (!t) throw Error(file.path() + ": no tensor '" + name + "'");
  return *t;
}

int64_t int_at(const TensorInfo& t, int64_t i) {
  switch (t.dtype) {
    case Dtype::I32:
      return reinterpret_cast<const int32_t*>(t.data)[i];
    case Dtype::I64:
      return reinterpret_cast<const int64_t*>(t.data)[i];
    default:
      return 0;
  }
}

bool mask_at(const TensorInfo& t, int64_t i) {
  if (t.dtype == Dtype::F32) return reinterpret_cast<const float*>(t.data)[i] != 0.0f;
  return int_at(t, i) != 0;
}

TokenRows read_tower(const SafetensorsFile& file, const std::string& ids_name,
                     const std::string& mask_name) {
  const TensorInfo& ids = require_tensor(file, ids_name);
  std::string where = file.path() + ": tensor '" + ids_name + "'";
  if (ids.dtype != Dtype::I32 && ids.dtype != Dtype::I64) {
    throw Error(where + " has dtype " + std::string(dtype_name(ids.dtype)) +
                ", expected I32 or I64");
  }
  if (ids.shape.size() != 2 || ids.shape[0] < 1 || ids.shape[1] < 1) {
    throw Error(where + " must have shape [batch, n] with batch, n >= 1");
  }
  int64_t batch = ids.shape[0];
  int64_t n = ids.shape[1];
  const TensorInfo* mask = file.find(mask_name);
  if (mask) {
    std::string mwhere = file.path() + ": tensor '" + mask_name + "'";
    if (mask->dtype != Dtype::I32 && mask->dtype != Dtype::I64 && mask->dtype != Dtype::F32) {
      throw Error(mwhere + " has dtype " + std::string(dtype_name(mask->dtype)) +
                  ", expected I32, I64 or F32");
    }
    if (mask->shape != ids.shape)
      throw Error(mwhere + " must have the shape of '" + ids_name + "'");
  }
  TokenRows out;
  out.padded_length = n;
  for (int64_t b = 0; b < batch; ++b) {
    int64_t len = n;
    if (mask) {
      len = 0;
      while (len < n && mask_at(*mask, b * n + len)) ++len;
      for (int64_t t = len; t < n; ++t) {
        if (mask_at(*mask, b * n + t)) {
          throw Error(file.path() + ": tensor '" + mask_name + "' row " + std::to_string(b) +
                      ": real token at position " + std::to_string(t) +
                      " after padding; padding must follow the real tokens");
        }
      }
    }
    std::vector<int32_t> row(static_cast<size_t>(len));
    for (int64_t t = 0; t < len; ++t) {
      int64_t id = int_at(ids, b * n + t);
      if (id < INT32_MIN || id > INT32_MAX) {
        throw Error(where + " row " + std::to_string(b) + ": id " + std::to_string(id) +
                    " is out of range");
      }
      row[t] = static_cast<int32_t>(id);
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

}  // namespace

int run_command(int argc, char** argv) {
  cxxopts::Options options("skein run",
                           "Run token ids through a model; write logits and pooled outputs.");
  // clang-format off
  options.add_options()
      ("m,model", "model directory", cxxopts::value<std::string>())
      ("ids", "input safetensors: ids [batch, n] int32/int64, optional mask [batch, n] "
              "(int32/int64/f32, nonzero = real token); dual models also ids_1, mask_1",
       cxxopts::value<std::string>())
      ("out", "output safetensors: logits [batch, classes], pooled [batch, width] (f32)",
       cxxopts::value<std::string>())
      ("h,help", "show this help");
  // clang-format on
  add_session_flags(options);
  cxxopts::ParseResult args = options.parse(argc, argv);
  if (args.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return kExitOk;
  }
  for (const char* required : {"model", "ids", "out"}) {
    if (!args.count(required)) throw Error(std::string("missing --") + required);
  }
  auto model = Model::load(args["model"].as<std::string>());
  SafetensorsFile input = SafetensorsFile::open(args["ids"].as<std::string>());
  TokenRows tower0 = read_tower(input, "ids", "mask");
  std::vector<std::vector<int32_t>> rows = std::move(tower0.rows);
  size_t batch = rows.size();
  if (model->config().dual) {
    TokenRows tower1 = read_tower(input, "ids_1", "mask_1");
    if (tower1.rows.size() != batch || tower1.padded_length != tower0.padded_length) {
      throw Error(input.path() + ": 'ids_1' must have the shape of 'ids'");
    }
    for (auto& r : tower1.rows) rows.push_back(std::move(r));
  }
  if (tower0.padded_length > model->config().max_seq_len) {
    throw Error(input.path() + ": sequence length " + std::to_string(tower0.padded_length) +
                " exceeds the model's max_seq_len " + std::to_string(model->config().max_seq_len));
  }

  Session session(model, session_options(args));
  std::vector<std::span<const int32_t>> sequences(rows.begin(), rows.end());
  RunResult result = session.run(sequences, tower0.padded_length);
  write_safetensors(
      args["out"].as<std::string>(),
      {{"logits", Dtype::F32, {result.logits.rows, result.logits.cols}, result.logits.data.data()},
       {"pooled",
        Dtype::F32,
        {result.pooled.rows, result.pooled.cols},
        result.pooled.data.data()}});
  return kExitOk;
}

}  // namespace skein::cli
