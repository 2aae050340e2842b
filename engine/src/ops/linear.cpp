#include "ops/linear.h"

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include <skein/error.h>
#include <dnnl.hpp>
#include <xsimd/xsimd.hpp>

#include "simd/panel_matmul.h"

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

using AlignedFloats = std::vector<float, xsimd::aligned_allocator<float, 64>>;

constexpr int64_t kPanel = static_cast<int64_t>(simd::kPanelWidth);

int64_t round_up_to_panel(int64_t n) {
  return (n + kPanel - 1) / kPanel * kPanel;
}

bool vector_aligned(const float* p) {
  return reinterpret_cast<uintptr_t>(p) % (simd::kLanes * sizeof(float)) == 0;
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
// - One primitive per OpenMP thread count: oneDNN fixes a primitive's thread
//   count when it is built (from the building thread's omp_get_max_threads()),
//   so a primitive built for 2 threads keeps opening 2-thread regions in a
//   session limited to 1. run() looks up (or builds) the primitive for the
//   calling thread's count under a lock held only for the lookup; primitives
//   are immutable and the scratchpad is per thread.
struct Linear::Impl {
  struct Primitive {
    int threads;
    dnnl::matmul matmul;
    dnnl::memory::desc scratchpad_desc;
  };

  const float* weight;
  const float* bias;
  int64_t in;
  int64_t out;
  dnnl::memory::desc src_desc;
  dnnl::memory::desc weight_desc;
  dnnl::memory::desc bias_desc;
  dnnl::memory::desc dst_desc;
  std::mutex mutex;
  std::vector<Primitive> primitives;  // few entries: one per thread count seen
  // For run_rows: Wᵀ cut into panels of kPanelWidth output columns, panel p
  // holding in × kPanelWidth floats (column j = output p·kPanelWidth + j, zero
  // past `out`), and the bias padded the same way. A copy of the weights (a
  // few tens of KiB for the reference dims), made once.
  AlignedFloats panels;
  AlignedFloats padded_bias;

  // The primitive for the calling thread's OpenMP thread count.
  const Primitive& primitive() {
    const int threads = omp_get_max_threads();
    const std::lock_guard<std::mutex> lock(mutex);
    for (const Primitive& p : primitives) {
      if (p.threads == threads) return p;
    }
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    try {
      const dnnl::matmul::primitive_desc pd(
          dnnl::matmul::desc(src_desc, weight_desc, bias_desc, dst_desc), attr, cpu_engine());
      primitives.push_back({threads, dnnl::matmul(pd), pd.scratchpad_desc()});
    } catch (const dnnl::error& e) {
      throw Error("ops::Linear: oneDNN cannot build a matmul for in=" + std::to_string(in) +
                  " out=" + std::to_string(out) + ": " + e.what());
    }
    return primitives.back();
  }
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
  impl_ = std::make_unique<Impl>();
  impl_->weight = weight;
  impl_->bias = bias;
  impl_->in = in_features;
  impl_->out = out_features;
  impl_->src_desc = src;
  impl_->weight_desc = weights;
  impl_->bias_desc = bias_md;
  impl_->dst_desc = dst;
  impl_->primitive();  // errors surface at construction, not at the first run
  const int64_t padded_out = round_up_to_panel(out_features);
  impl_->panels.assign(static_cast<size_t>(padded_out * in_features), 0.0f);
  impl_->padded_bias.assign(static_cast<size_t>(padded_out), 0.0f);
  for (int64_t o = 0; o < out_features; ++o) {
    float* panel = impl_->panels.data() + (o / kPanel) * in_features * kPanel;
    for (int64_t i = 0; i < in_features; ++i)
      panel[i * kPanel + o % kPanel] = weight[o * in_features + i];
    impl_->padded_bias[static_cast<size_t>(o)] = bias[o];
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
  Impl& p = *impl_;
  const Impl::Primitive& primitive = p.primitive();
  const dnnl::engine& engine = cpu_engine();
  // oneDNN takes non-const handles but never writes to inputs.
  const dnnl::memory src({{rows, p.in}, dt::f32, tag::ab}, engine, const_cast<float*>(x));
  const dnnl::memory weights(p.weight_desc, engine, const_cast<float*>(p.weight));
  const dnnl::memory bias(p.bias_desc, engine, const_cast<float*>(p.bias));
  const dnnl::memory dst({{rows, p.out}, dt::f32, tag::ab}, engine, y);
  const dnnl::memory scratchpad(primitive.scratchpad_desc, engine,
                                thread_scratchpad(primitive.scratchpad_desc.get_size()));
  dnnl::stream& stream = thread_stream();
  primitive.matmul.execute(stream, {{DNNL_ARG_SRC, src},
                                    {DNNL_ARG_WEIGHTS, weights},
                                    {DNNL_ARG_BIAS, bias},
                                    {DNNL_ARG_DST, dst},
                                    {DNNL_ARG_SCRATCHPAD, scratchpad}});
  stream.wait();
}

void Linear::run_rows(const float* x, float* y, int64_t rows) const {
  if (rows < 0) throw Error("ops::Linear::run_rows: negative rows " + std::to_string(rows));
  if (rows == 0) return;
  if (x == nullptr || y == nullptr) throw Error("ops::Linear::run_rows: null input or output");
  const Impl& p = *impl_;
  const int64_t padded_out = round_up_to_panel(p.out);
  // A panel stores whole kPanelWidth-column rows, so a ragged `out` or an
  // unaligned y goes through a padded per-thread buffer.
  const bool direct = padded_out == p.out && vector_aligned(y);
  static thread_local AlignedFloats padded;
  float* c = y;
  if (!direct) {
    padded.resize(static_cast<size_t>(rows * padded_out));
    c = padded.data();
  }
  const simd::StridedMatrix b{x, static_cast<ptrdiff_t>(p.in), 1};
  for (int64_t col = 0; col < padded_out; col += kPanel) {
    simd::panel_matmul_add_row(p.panels.data() + col * p.in, simd::kPanelWidth, b,
                               static_cast<size_t>(rows), static_cast<size_t>(p.in), c + col,
                               static_cast<size_t>(padded_out), p.padded_bias.data() + col);
  }
  if (!direct) {
    for (int64_t r = 0; r < rows; ++r) std::copy_n(c + r * padded_out, p.out, y + r * p.out);
  }
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
