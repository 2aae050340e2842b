#include "ops/linear.h"

#include <cstddef>
#include <new>
#include <string>

#include <skein/error.h>
#include <dnnl.hpp>

namespace skein::ops {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// A dnnl::stream must not be shared by threads that execute concurrently, so
// each calling thread gets its own.
dnnl::stream& thread_stream() {
  static thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

// Scratchpad for the primitive, owned by the calling thread: with the library
// managed scratchpad a primitive may not be executed from several threads at
// once (oneDNN's default build shares it), so we run in user mode.
std::byte* thread_scratchpad(size_t bytes) {
  struct Buffer {
    std::byte* data = nullptr;
    size_t size = 0;
    ~Buffer() { ::operator delete (data, std::align_val_t{64}); }
  };
  static thread_local Buffer buffer;
  if (buffer.size < bytes) {
    ::operator delete (buffer.data, std::align_val_t{64});
    buffer.data = nullptr;
    buffer.size = 0;
    buffer.data = static_cast<std::byte*>(::operator new (bytes, std::align_val_t{64}));
    buffer.size = bytes;
  }
  return buffer.data;
}

}  // namespace

// Two choices, measured with tools/bench/ops_bench.cpp (2-core AVX2 dev VM,
// oneDNN 2.6 picks gemm:jit in every variant; rows 1..65536 × 64→64, 64→128,
// 128→64):
// - M (rows) is a runtime dimension, so one primitive serves every row count.
//   Per call it is as fast as a primitive built for the exact M (within ±5%,
//   no consistent winner), while a per-M cache would pay ~0.2–0.3 ms to build
//   a primitive for every new sequence length (runtime M: 0.01 ms, once) and
//   grow without bound.
// - Weights are read in place in their [out, in] layout (the "ba" view of the
//   K×N matrix). With format_tag::any oneDNN picks plain [in, out], i.e. a full
//   copy of the weights for no measurable gain; the weights stay mapped.
// The primitive is immutable after construction and the scratchpad is per
// thread, so run() needs no lock and no cache.
struct Linear::Impl {
  const float* weight;
  const float* bias;
  int64_t in;
  int64_t out;
  dnnl::matmul matmul;
  dnnl::memory::desc weight_desc;
  dnnl::memory::desc bias_desc;
  dnnl::memory::desc scratchpad_desc;
};

Linear::Linear(const float* weight, const float* bias, int64_t in_features, int64_t out_features) {
  if (weight == nullptr || bias == nullptr) {
    throw Error("ops::Linear: weight and bias must not be null");
  }
  if (in_features <= 0 || out_features <= 0) {
    throw Error("ops::Linear: features must be positive, got in=" + std::to_string(in_features) +
                " out=" + std::to_string(out_features));
  }
  const dnnl::memory::dim k = in_features;
  const dnnl::memory::dim n = out_features;
  const dnnl::memory::dim m = DNNL_RUNTIME_DIM_VAL;
  const dnnl::memory::desc src({m, k}, dt::f32, tag::ab);
  const dnnl::memory::desc weights({k, n}, dt::f32, tag::ba);
  const dnnl::memory::desc bias_md({1, n}, dt::f32, tag::ab);
  const dnnl::memory::desc dst({m, n}, dt::f32, tag::ab);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  try {
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, weights, bias_md, dst), attr,
                                          cpu_engine());
    impl_ = std::make_unique<Impl>(Impl{weight, bias, in_features, out_features, dnnl::matmul(pd),
                                        weights, bias_md, pd.scratchpad_desc()});
  } catch (const dnnl::error& e) {
    throw Error("ops::Linear: oneDNN cannot build a matmul for in=" + std::to_string(in_features) +
                " out=" + std::to_string(out_features) + ": " + e.what());
  }
}

Linear::~Linear() = default;
Linear::Linear(Linear&&) noexcept = default;
Linear& Linear::operator=(Linear&&) noexcept = default;

int64_t Linear::in_features() const {
  return impl_->in;
}
int64_t Linear::out_features() const {
  return impl_->out;
}

void Linear::run(const float* x, float* y, int64_t rows) const {
  if (rows < 0) throw Error("ops::Linear::run: negative rows " + std::to_string(rows));
  if (rows == 0) return;
  if (x == nullptr || y == nullptr) throw Error("ops::Linear::run: null input or output");
  const Impl& p = *impl_;
  const dnnl::engine& engine = cpu_engine();
  // oneDNN takes non-const handles but never writes to inputs.
  const dnnl::memory src({{rows, p.in}, dt::f32, tag::ab}, engine, const_cast<float*>(x));
  const dnnl::memory weights(p.weight_desc, engine, const_cast<float*>(p.weight));
  const dnnl::memory bias(p.bias_desc, engine, const_cast<float*>(p.bias));
  const dnnl::memory dst({{rows, p.out}, dt::f32, tag::ab}, engine, y);
  const dnnl::memory scratchpad(p.scratchpad_desc, engine,
                                thread_scratchpad(p.scratchpad_desc.get_size()));
  dnnl::stream& stream = thread_stream();
  p.matmul.execute(stream, {{DNNL_ARG_SRC, src},
                            {DNNL_ARG_WEIGHTS, weights},
                            {DNNL_ARG_BIAS, bias},
                            {DNNL_ARG_DST, dst},
                            {DNNL_ARG_SCRATCHPAD, scratchpad}});
  stream.wait();
}

void linear_ref(const float* x, const float* w, const float* b, float* y, int64_t rows, int64_t in,
                int64_t out) {
  if (rows < 0 || in < 0 || out < 0) throw Error("ops::linear_ref: negative size");
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      double acc = b[o];
      for (int64_t i = 0; i < in; ++i) acc += double(x[r * in + i]) * double(w[o * in + i]);
      y[r * out + o] = static_cast<float>(acc);
    }
  }
}

}  // namespace skein::ops
