// The Python module `skein`: Model, Session and attention() over the C++ API,
// with NumPy arrays in and out. skein::Error becomes skein.Error (a
// RuntimeError) with the same message; the GIL is released while kernels run.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "skein/skein.h"
#include "text_input.h"

namespace py = pybind11;

namespace {

// Files and byte strings are classified in batches of this many, as by
// `skein classify` (randomized attention seeds depend on the row in a batch).
constexpr size_t kItemsPerBatch = 32;

struct PyModel {
  std::shared_ptr<const skein::Model> model;
};

std::string shape_text(const py::array& a) {
  std::string s = "[";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + "]";
}

std::string dtype_text(const py::array& a) {
  return py::str(a.dtype()).cast<std::string>();
}

// Real tokens per row of a [rows, n] mask (nonzero = real token); padding must
// follow the real tokens and every row needs at least one.
std::vector<int64_t> mask_lengths(const py::object& mask_obj, int64_t rows, int64_t n,
                                  const std::string& name) {
  if (mask_obj.is_none()) return std::vector<int64_t>(static_cast<size_t>(rows), n);
  const py::array raw = py::array::ensure(mask_obj);
  if (!raw) throw skein::Error(name + " must be a NumPy array");
  if (raw.ndim() != 2 || raw.shape(0) != rows || raw.shape(1) != n) {
    throw skein::Error(name + " has shape " + shape_text(raw) + ", expected [" +
                       std::to_string(rows) + ", " + std::to_string(n) + "]");
  }
  const auto mask = py::array_t<bool, py::array::c_style | py::array::forcecast>::ensure(raw);
  const bool* m = mask.data();
  std::vector<int64_t> lengths(static_cast<size_t>(rows));
  for (int64_t b = 0; b < rows; ++b) {
    int64_t len = 0;
    while (len < n && m[b * n + len]) ++len;
    for (int64_t t = len; t < n; ++t) {
      if (m[b * n + t]) {
        throw skein::Error(name + " row " + std::to_string(b) + ": real token at position " +
                           std::to_string(t) +
                           " after padding; padding must follow the real tokens");
      }
    }
    if (len == 0) throw skein::Error(name + " row " + std::to_string(b) + " has no real token");
    lengths[static_cast<size_t>(b)] = len;
  }
  return lengths;
}

// One tower: the real token ids of each row of a [batch, n] integer array.
std::vector<std::vector<int32_t>> read_ids(const py::object& ids_obj, const py::object& mask_obj,
                                           const std::string& name, const std::string& mask_name,
                                           int64_t& n) {
  const py::array raw = py::array::ensure(ids_obj);
  if (!raw) throw skein::Error(name + " must be a NumPy array");
  const char kind = raw.dtype().kind();
  if (kind != 'i' && kind != 'u') {
    throw skein::Error(name + " has dtype " + dtype_text(raw) + ", expected an integer dtype");
  }
  if (raw.ndim() != 2 || raw.shape(0) < 1 || raw.shape(1) < 1) {
    throw skein::Error(name + " has shape " + shape_text(raw) +
                       ", expected [batch, n] with batch, n >= 1");
  }
  const int64_t rows = raw.shape(0);
  n = raw.shape(1);
  const std::vector<int64_t> lengths = mask_lengths(mask_obj, rows, n, mask_name);
  const auto ids = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(raw);
  std::vector<std::vector<int32_t>> out;
  for (int64_t b = 0; b < rows; ++b) {
    std::vector<int32_t> row(static_cast<size_t>(lengths[static_cast<size_t>(b)]));
    for (size_t t = 0; t < row.size(); ++t) {
      const int64_t id = ids.data()[b * n + static_cast<int64_t>(t)];
      // An unsigned id above INT64_MAX wraps to a negative int64.
      if ((kind == 'u' && id < 0) || id < std::numeric_limits<int32_t>::min() ||
          id > std::numeric_limits<int32_t>::max()) {
        throw skein::Error(name + " row " + std::to_string(b) + ": id " + std::to_string(id) +
                           " is out of range");
      }
      row[t] = static_cast<int32_t>(id);
    }
    out.push_back(std::move(row));
  }
  return out;
}

py::array_t<float> to_numpy(const skein::Matrix& m) {
  py::array_t<float> a({m.rows, m.cols});
  std::memcpy(a.mutable_data(), m.data.data(), m.data.size() * sizeof(float));
  return a;
}

py::tuple session_run(skein::Session& session, const py::object& ids, const py::object& mask,
                      const py::object& ids_1, const py::object& mask_1) {
  const skein::Model& model = session.model();
  int64_t n = 0;
  std::vector<std::vector<int32_t>> rows = read_ids(ids, mask, "ids", "mask", n);
  if (model.config().dual) {
    if (ids_1.is_none()) throw skein::Error("a dual-tower model needs ids_1 (the second tower)");
    int64_t n1 = 0;
    std::vector<std::vector<int32_t>> second = read_ids(ids_1, mask_1, "ids_1", "mask_1", n1);
    if (second.size() != rows.size() || n1 != n) {
      throw skein::Error("ids_1 must have the shape of ids");
    }
    for (auto& r : second) rows.push_back(std::move(r));
  } else if (!ids_1.is_none()) {
    throw skein::Error("ids_1 is only for dual-tower models");
  }
  if (n > model.config().max_seq_len) {
    throw skein::Error("sequence length " + std::to_string(n) +
                       " exceeds the model's max_seq_len " +
                       std::to_string(model.config().max_seq_len));
  }
  std::vector<std::span<const int32_t>> sequences(rows.begin(), rows.end());
  skein::RunResult result;
  {
    py::gil_scoped_release release;
    result = session.run(sequences, n);
  }
  return py::make_tuple(to_numpy(result.logits), to_numpy(result.pooled));
}

// One classify() item: raw bytes, or a path whose beginning is read; either is cut to the
// model's first max_seq_len tokens (Model::input_prefix_bytes).
struct Item {
  py::object source;
  std::string path;  // empty for bytes
  std::vector<uint8_t> bytes;
  bool truncated = false;
};

Item read_item(const py::handle& obj, const skein::Model& model) {
  Item item;
  item.source = py::reinterpret_borrow<py::object>(obj);
  if (py::isinstance<py::bytes>(obj) || py::isinstance<py::bytearray>(obj)) {
    const std::string data = py::bytes(item.source).cast<std::string>();
    const int64_t cut = model.input_prefix_bytes(
        std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
    const size_t keep = cut < 0 ? data.size() : static_cast<size_t>(cut);
    item.truncated = keep < data.size();
    item.bytes.assign(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(keep));
    if (item.bytes.empty()) throw skein::Error("classify: empty input");
    return item;
  }
  item.path = py::module_::import("os").attr("fspath")(obj).cast<std::string>();
  skein::cli::TextInput text = skein::cli::read_model_input(model, item.path);
  item.bytes = std::move(text.bytes);
  item.truncated = text.truncated;
  return item;
}

// An item's token ids (at most max_seq_len: read_item kept that prefix); an unknown word names
// the file, if any.
std::vector<int32_t> item_ids(const skein::Model& model, const Item& item) {
  try {
    return model.tokenize(item.bytes);
  } catch (const skein::Error& e) {
    throw skein::Error((item.path.empty() ? "classify" : item.path) + ": " + e.what());
  }
}

py::list session_classify(skein::Session& session, const py::object& items_obj) {
  const skein::Model& model = session.model();
  if (model.config().dual) {
    throw skein::Error(model.path() + ": a dual-tower model classifies pairs; use run()");
  }
  py::list items_list;
  if (py::isinstance<py::str>(items_obj) || py::isinstance<py::bytes>(items_obj) ||
      py::isinstance<py::bytearray>(items_obj) || py::hasattr(items_obj, "__fspath__")) {
    items_list.append(items_obj);
  } else {
    for (const py::handle h : items_obj) items_list.append(h);
  }
  py::list out;
  const size_t count = items_list.size();
  for (size_t begin = 0; begin < count; begin += kItemsPerBatch) {
    std::vector<Item> items;
    std::vector<std::vector<int32_t>> ids;
    for (size_t i = begin; i < std::min(count, begin + kItemsPerBatch); ++i) {
      items.push_back(read_item(items_list[i], model));
      ids.push_back(item_ids(model, items.back()));
    }
    std::vector<std::span<const int32_t>> batch(ids.begin(), ids.end());
    skein::RunResult result;
    {
      py::gil_scoped_release release;
      result = session.run(batch);
    }
    for (size_t i = 0; i < items.size(); ++i) {
      const float* row = result.logits.data.data() + static_cast<int64_t>(i) * result.logits.cols;
      std::vector<float> logits(row, row + result.logits.cols);
      const auto top = std::max_element(logits.begin(), logits.end());
      double sum = 0;
      for (float l : logits) sum += std::exp(static_cast<double>(l - *top));
      const int64_t cls = top - logits.begin();
      py::dict d;
      d["input"] = items[i].source;
      d["label"] = model.label(cls);
      d["class"] = cls;
      d["probability"] = 1.0 / sum;
      d["logits"] = py::array_t<float>(static_cast<py::ssize_t>(logits.size()), logits.data());
      d["tokens"] = ids[i].size();
      d["truncated"] = items[i].truncated;
      out.append(d);
    }
  }
  return out;
}

py::list profile_layers(const skein::Profile& p) {
  py::list out;
  for (const skein::LayerProfile& l : p.layers) {
    py::dict d;
    d["layer"] = l.layer;
    d["latency_ns"] = l.latency_ns;
    d["median_ns"] = skein::median_ns(l.latency_ns);
    d["p90_ns"] = skein::percentile_ns(l.latency_ns, 90);
    d["peak_live_bytes"] = l.peak_live_bytes;
    d["peak_workspace_bytes"] = l.peak_workspace_bytes;
    d["weight_bytes"] = l.weight_bytes;
    d["rss_high_water_bytes"] = l.rss_high_water_bytes;
    d["flops"] = l.flops;
    out.append(d);
  }
  return out;
}

py::list profile_nodes(const skein::Profile& p) {
  py::list out;
  for (const skein::NodeProfile& nd : p.nodes) {
    py::dict d;
    d["name"] = nd.name;
    d["op"] = nd.op;
    d["layer"] = nd.layer;
    d["latency_ns"] = nd.latency_ns;
    d["median_ns"] = skein::median_ns(nd.latency_ns);
    d["live_bytes"] = nd.live_bytes;
    d["workspace_bytes"] = nd.workspace_bytes;
    d["weight_bytes"] = nd.weight_bytes;
    d["flops"] = nd.flops;
    d["fused_run"] = nd.fused_run;
    out.append(d);
  }
  return out;
}

// q, k or v: a float32 [batch, heads, n, p] array, made C-contiguous.
py::array_t<float, py::array::c_style> qkv_array(const py::object& obj, const char* name) {
  const py::array raw = py::array::ensure(obj);
  if (!raw) throw skein::Error(std::string(name) + " must be a NumPy array");
  if (!raw.dtype().is(py::dtype::of<float>())) {
    throw skein::Error(std::string(name) + " has dtype " + dtype_text(raw) + ", expected float32");
  }
  if (raw.ndim() != 4) {
    throw skein::Error(std::string(name) + " has shape " + shape_text(raw) +
                       ", expected [batch, heads, n, p]");
  }
  return py::array_t<float, py::array::c_style>::ensure(raw);
}

py::array_t<float> attention(const py::object& q_obj, const py::object& k_obj,
                             const py::object& v_obj, const std::string& method, int64_t features,
                             uint64_t seed, const py::object& mask, int threads) {
  const auto q = qkv_array(q_obj, "q");
  const auto k = qkv_array(k_obj, "k");
  const auto v = qkv_array(v_obj, "v");
  for (const auto* t : {&k, &v}) {
    if (!std::equal(q.shape(), q.shape() + 4, t->shape())) {
      throw skein::Error(std::string(t == &k ? "k" : "v") + " has shape " + shape_text(*t) +
                         ", expected the shape of q " + shape_text(q));
    }
  }
  skein::AttentionDims dims;
  dims.batch = q.shape(0);
  dims.heads = q.shape(1);
  dims.n = q.shape(2);
  dims.head_dim = q.shape(3);
  const std::vector<int64_t> lengths = mask_lengths(mask, dims.batch, dims.n, "mask");
  skein::AttentionOptions options;
  options.method = method;
  options.features = features;
  options.seed = seed;
  options.threads = threads;
  py::array_t<float> out({dims.batch, dims.heads, dims.n, dims.head_dim});
  float* out_data = out.mutable_data();
  {
    py::gil_scoped_release release;
    skein::attention(q.data(), k.data(), v.data(), out_data, dims, lengths, options);
  }
  return out;
}

py::dict config_dict(const skein::ModelConfig& c) {
  py::dict d;
  d["vocab_size"] = c.vocab_size;
  d["dim"] = c.dim;
  d["hidden_dim"] = c.hidden_dim;
  d["num_heads"] = c.num_heads;
  d["head_dim"] = c.head_dim;
  d["num_layers"] = c.num_layers;
  d["max_seq_len"] = c.max_seq_len;
  d["num_classes"] = c.num_classes;
  d["pooling"] = c.pooling;
  d["dual"] = c.dual;
  return d;
}

}  // namespace

PYBIND11_MODULE(skein, m) {
  m.doc() =
      "skein: CPU inference for long-sequence Transformer encoders with Skeinformer attention.\n\n"
      "    model = skein.Model('models/code-lang')\n"
      "    session = model.session(threads=2)\n"
      "    logits, pooled = session.run(ids)            # ids: int array [batch, n]\n"
      "    session.classify(['a.txt', b'raw bytes'])   # list of dicts\n"
      "    session.profile()                           # per-layer latency and memory\n"
      "    out = skein.attention(q, k, v, method='skeinformer', features=64)\n\n"
      "Every failure raises skein.Error (a RuntimeError) with the engine's one-line message.";
  m.attr("__version__") = skein::version();
  py::register_exception<skein::Error>(m, "Error", PyExc_RuntimeError);

  py::class_<skein::Session>(m, "Session",
                             "Runs inputs through a Model; create one with Model.session().\n"
                             "One session per thread; sessions of one Model may run concurrently.")
      .def("run", &session_run, py::arg("ids"), py::arg("mask") = py::none(),
           py::arg("ids_1") = py::none(), py::arg("mask_1") = py::none(),
           "run(ids, mask=None, ids_1=None, mask_1=None) -> (logits, pooled)\n\n"
           "ids: integer array [batch, n] of token ids; n is the padded length (MEAN pooling\n"
           "divides by it) and must not exceed max_seq_len. mask: optional [batch, n] array,\n"
           "nonzero = real token, padding after the real tokens (default: all real).\n"
           "Dual-tower models also take ids_1 / mask_1 for the second tower.\n"
           "Returns float32 arrays logits [batch, num_classes] and pooled [batch, width],\n"
           "equal bit for bit to `skein run` on the same inputs and options.")
      .def("classify", &session_classify, py::arg("inputs"),
           "classify(inputs) -> list of dict\n\n"
           "inputs: a path (str or os.PathLike), bytes, or a list of them, tokenized as by\n"
           "`skein classify` and truncated to the model's max_seq_len tokens.\n"
           "Each dict holds input, label, class, probability (softmax of the top class),\n"
           "logits (float32 array), tokens and truncated. Raises skein.Error for an unreadable\n"
           "or empty input, a binary file (a NUL byte in the bytes read; bytes given directly\n"
           "are not checked), or a word outside a words tokenizer's vocabulary.")
      .def(
          "profile",
          [](const skein::Session& s, bool nodes) {
            return nodes ? profile_nodes(s.profile()) : profile_layers(s.profile());
          },
          py::arg("nodes") = false,
          "profile(nodes=False) -> list of dict\n\n"
          "Per-layer profile over the runs since reset_profile(): layer, latency_ns (one\n"
          "sample per run), median_ns, p90_ns, peak_live_bytes, peak_workspace_bytes,\n"
          "weight_bytes, rss_high_water_bytes, flops. nodes=True lists graph nodes instead\n"
          "(name, op, layer, latency_ns, median_ns, live_bytes, workspace_bytes, weight_bytes, "
          "flops, fused_run: the fused run the node ran in, its latency a share of the run's,\n"
          "or -1).")
      .def("reset_profile", &skein::Session::reset_profile, "Forget the profile's samples.")
      .def_property_readonly("attention", &skein::Session::attention_method,
                             "Name of the attention method this session runs.")
      .def_property_readonly("threads", &skein::Session::threads,
                             "OpenMP threads this session's kernels use.");

  py::class_<PyModel>(m, "Model",
                      "A validated, memory-mapped model directory (model.json + "
                      "model.safetensors),\nshared read-only by any number of sessions.\n\n"
                      "    model = skein.Model('models/code-lang')\n"
                      "    session = model.session(threads=2, attention='exact')")
      .def(py::init([](const std::string& path) { return PyModel{skein::Model::load(path)}; }),
           py::arg("path"),
           "Model(path): loads and validates the model directory `path`; raises skein.Error\n"
           "naming the file, node and field on any defect.")
      .def(
          "session",
          [](const PyModel& self, int threads, const std::string& attention, int64_t features,
             uint64_t seed, int64_t max_memory, bool fuse_rows) {
            skein::SessionOptions o;
            o.threads = threads;
            o.attention = attention;
            o.features = features;
            o.seed = seed;
            o.max_memory_bytes = max_memory;
            o.fuse_rows = fuse_rows;
            return skein::Session(self.model, o);
          },
          py::arg("threads") = 0, py::arg("attention") = "", py::arg("features") = 0,
          py::arg("seed") = 0, py::arg("max_memory") = 0, py::arg("fuse_rows") = true,
          "session(threads=0, attention='', features=0, seed=0, max_memory=0, fuse_rows=True)\n"
          "-> Session\n\n"
          "threads: OpenMP threads (0 = all cores). attention: method replacing the model's\n"
          "(e.g. 'exact', 'skeinformer'; '' = the model's). features: feature count of\n"
          "sampling methods (0 = the method's). seed: seed of randomized methods.\n"
          "max_memory: largest activation arena in bytes a run may plan (0 = 80% of RAM).\n"
          "fuse_rows: run the nodes between attention layers block by block over rows\n"
          "(False: each node over whole tensors, timed on its own; CLI --unfused).")
      .def(
          "tokenize",
          [](const PyModel& self, const py::bytes& data) {
            const std::string s = data;
            const std::vector<int32_t> ids =
                self.model->tokenize({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
            return py::array_t<int32_t>(static_cast<py::ssize_t>(ids.size()), ids.data());
          },
          py::arg("data"), "tokenize(data: bytes) -> int32 array of token ids (no truncation).")
      .def(
          "label", [](const PyModel& self, int64_t c) { return self.model->label(c); },
          py::arg("index"), "The class name of `index` (the index as text without labels).")
      .def(
          "describe", [](const PyModel& self) { return self.model->describe(); },
          "Human-readable summary: config, graph nodes with shapes and weights.")
      .def_property_readonly("path", [](const PyModel& self) { return self.model->path(); })
      .def_property_readonly("name", [](const PyModel& self) { return self.model->name(); })
      .def_property_readonly(
          "config", [](const PyModel& self) { return config_dict(self.model->config()); },
          "model.json's config as a dict (vocab_size, dim, ..., max_seq_len, num_classes, ...).")
      .def_property_readonly("parameter_count",
                             [](const PyModel& self) { return self.model->parameter_count(); })
      .def("__repr__",
           [](const PyModel& self) { return "skein.Model('" + self.model->path() + "')"; });

  m.def("attention", &attention, py::arg("q"), py::arg("k"), py::arg("v"), py::kw_only(),
        py::arg("method"), py::arg("features") = 0, py::arg("seed") = 0,
        py::arg("mask") = py::none(), py::arg("threads") = 0,
        "attention(q, k, v, *, method, features=0, seed=0, mask=None, threads=0) -> ndarray\n\n"
        "One attention method on float32 arrays q, k, v [batch, heads, n, p], no model.\n"
        "method: 'exact', 'skeinformer', ... features: feature count of sampling methods\n"
        "(0 = the method's default). mask: optional [batch, n], nonzero = real token,\n"
        "padding after the real tokens. Returns out [batch, heads, n, p] float32 with zero\n"
        "padding rows, equal bit for bit to `skein attention` on the same inputs.");
  m.def("version", &skein::version, "The library version, 'major.minor.patch'.");
}
