// The C API (skein/skein_c.h) over the C++ one: every entry point catches all
// exceptions, records the message as this thread's last error and returns
// NULL or -1.
#include "skein/skein_c.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "skein/skein.h"

struct skein_model {
  std::shared_ptr<const skein::Model> model;
  std::vector<std::string> labels;  // one per class, so skein_model_label can return pointers
};

struct skein_session {
  skein::Session session;
};

struct skein_result {
  skein::RunResult result;
};

namespace {

thread_local std::string last_error;

// Runs `body`; on any exception records its message and returns `failed`.
template <typename T, typename Body>
T guarded(T failed, Body&& body) {
  try {
    last_error.clear();
    return body();
  } catch (const std::exception& e) {
    last_error = e.what();
  } catch (...) {
    last_error = "skein: unknown C++ exception";
  }
  return failed;
}

void require(const void* handle, const char* what) {
  if (!handle) throw skein::Error(std::string(what) + " is NULL");
}

const float* matrix_data(const skein::Matrix& m, int64_t* rows, int64_t* cols) {
  if (rows) *rows = m.rows;
  if (cols) *cols = m.cols;
  return m.data.data();
}

}  // namespace

extern "C" {

const char* skein_version(void) {
  return skein::version();
}

const char* skein_last_error(void) {
  return last_error.c_str();
}

skein_model* skein_model_load(const char* dir) {
  return guarded<skein_model*>(nullptr, [&] {
    require(dir, "skein_model_load: dir");
    auto handle = std::make_unique<skein_model>();
    handle->model = skein::Model::load(dir);
    for (int64_t c = 0; c < handle->model->config().num_classes; ++c) {
      handle->labels.push_back(handle->model->label(c));
    }
    return handle.release();
  });
}

void skein_model_free(skein_model* model) {
  delete model;
}

int64_t skein_model_num_classes(const skein_model* model) {
  return model ? model->model->config().num_classes : -1;
}

int64_t skein_model_max_seq_len(const skein_model* model) {
  return model ? model->model->config().max_seq_len : -1;
}

const char* skein_model_label(const skein_model* model, int64_t index) {
  return guarded<const char*>(nullptr, [&] {
    require(model, "skein_model_label: model");
    if (index < 0 || index >= static_cast<int64_t>(model->labels.size())) {
      throw skein::Error("skein_model_label: class " + std::to_string(index) + " is outside [0, " +
                         std::to_string(model->labels.size()) + ")");
    }
    return model->labels[static_cast<size_t>(index)].c_str();
  });
}

int64_t skein_model_tokenize(const skein_model* model, const uint8_t* bytes, size_t size,
                             int32_t* ids, int64_t capacity) {
  return guarded<int64_t>(-1, [&] {
    require(model, "skein_model_tokenize: model");
    if (size > 0) require(bytes, "skein_model_tokenize: bytes");
    if (capacity > 0) require(ids, "skein_model_tokenize: ids");
    const std::vector<int32_t> tokens = model->model->tokenize({bytes, size});
    const int64_t count = static_cast<int64_t>(tokens.size());
    std::copy_n(tokens.begin(), std::clamp<int64_t>(capacity, 0, count), ids);
    return count;
  });
}

skein_session_options skein_session_options_default(void) {
  const skein::SessionOptions d;
  skein_session_options o;
  o.threads = d.threads;
  o.seed = d.seed;
  o.attention = nullptr;
  o.features = d.features;
  o.max_memory_bytes = d.max_memory_bytes;
  return o;
}

skein_session* skein_session_create(const skein_model* model,
                                    const skein_session_options* options) {
  return guarded<skein_session*>(nullptr, [&] {
    require(model, "skein_session_create: model");
    const skein_session_options o = options ? *options : skein_session_options_default();
    skein::SessionOptions so;
    so.threads = o.threads;
    so.seed = o.seed;
    so.attention = o.attention ? o.attention : "";
    so.features = o.features;
    so.max_memory_bytes = o.max_memory_bytes;
    return new skein_session{skein::Session(model->model, so)};
  });
}

void skein_session_free(skein_session* session) {
  delete session;
}

skein_result* skein_session_run(skein_session* session, const int32_t* ids, int64_t rows, int64_t n,
                                const int64_t* lengths) {
  return guarded<skein_result*>(nullptr, [&] {
    require(session, "skein_session_run: session");
    require(ids, "skein_session_run: ids");
    if (rows < 1 || n < 1) {
      throw skein::Error("skein_session_run: ids must be [rows, n] with rows, n >= 1, got [" +
                         std::to_string(rows) + ", " + std::to_string(n) + "]");
    }
    std::vector<std::span<const int32_t>> sequences;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t len = lengths ? lengths[r] : n;
      if (len < 1 || len > n) {
        throw skein::Error("skein_session_run: length " + std::to_string(len) + " of row " +
                           std::to_string(r) + " is outside [1, n = " + std::to_string(n) + "]");
      }
      sequences.emplace_back(ids + r * n, static_cast<size_t>(len));
    }
    return new skein_result{session->session.run(sequences, n)};
  });
}

const float* skein_result_logits(const skein_result* result, int64_t* rows, int64_t* cols) {
  return guarded<const float*>(nullptr, [&] {
    require(result, "skein_result_logits: result");
    return matrix_data(result->result.logits, rows, cols);
  });
}

const float* skein_result_pooled(const skein_result* result, int64_t* rows, int64_t* cols) {
  return guarded<const float*>(nullptr, [&] {
    require(result, "skein_result_pooled: result");
    return matrix_data(result->result.pooled, rows, cols);
  });
}

void skein_result_free(skein_result* result) {
  delete result;
}

}  // extern "C"
