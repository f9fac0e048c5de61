// NHWC float32 kernels for the onnx-cpu TF.js backend, where onnxruntime has no good equivalent:
// depthwise convolutions and their gradients (onnxruntime runs them as grouped convolutions, one
// tiny GEMM per channel), max pooling and its gradient (no MaxPoolGrad op; the ONNX scatter
// formulation needs layout transposes), and single-pass elementwise ops, batch norm and sums
// (each ONNX node is a pass of its own plus a call). Every function reads and writes the typed
// arrays TF.js owns, in place, on the calling thread, and follows TF.js's JS kernels exactly
// (double accumulation, first maximum of a window, the same broadcasting and cycling rules).
// Built by scripts/build-addon.mjs with the system C++ compiler against Node's N-API headers.
#include <node_api.h>

#include "conv_gemm.h"
#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

// Hot loops are compiled three times (AVX-512, AVX2, baseline x86-64) and picked by the CPU at
// load time: the baseline build alone gives SSE2, 4 floats per instruction.
#if defined(__x86_64__) && defined(__GNUC__)
#define MF_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MF_CLONES
#endif

namespace {

struct ArgError {
  std::string message;
};

template <typename T>
T* typed(napi_env env, napi_value v, napi_typedarray_type want, size_t* length, const char* name) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  if (!is) throw ArgError{std::string(name) + " must be a typed array"};
  napi_typedarray_type type;
  size_t len;
  void* data;
  napi_value ab;
  size_t off;
  napi_get_typedarray_info(env, v, &type, &len, &data, &ab, &off);
  if (type != want) throw ArgError{std::string(name) + " has the wrong element type"};
  if (length) *length = len;
  return static_cast<T*>(data);
}

float* f32(napi_env env, napi_value v, size_t* len, const char* name) { return typed<float>(env, v, napi_float32_array, len, name); }
int32_t* i32(napi_env env, napi_value v, size_t* len, const char* name) { return typed<int32_t>(env, v, napi_int32_array, len, name); }
uint32_t* u32(napi_env env, napi_value v, size_t* len, const char* name) { return typed<uint32_t>(env, v, napi_uint32_array, len, name); }

double num(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d;
}

std::vector<napi_value> args(napi_env env, napi_callback_info info, size_t n) {
  std::vector<napi_value> a(n);
  size_t got = n;
  napi_get_cb_info(env, info, &got, a.data(), nullptr, nullptr);
  if (got < n) throw ArgError{"expected " + std::to_string(n) + " arguments"};
  return a;
}

// Geometry shared by the convolution and pooling kernels, from an Int32Array:
// [N, H, W, C, KH, KW, M, OH, OW, SH, SW, DH, DW, PT, PL]
struct Geo {
  int n, h, w, c, kh, kw, m, oh, ow, sh, sw, dh, dw, pt, pl;
};

Geo geo(napi_env env, napi_value v) {
  size_t len;
  int32_t* g = i32(env, v, &len, "geometry");
  if (len < 15) throw ArgError{"geometry needs 15 values"};
  return Geo{g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13], g[14]};
}

// out[n,oh,ow,c*M+q] = sum_{kh,kw} x[n,ih,iw,c] * w[kh,kw,c,q]
MF_CLONES void depthwise_forward(const Geo& g, const float* x, const float* w, float* out) {
  const int cm = g.c * g.m;
  std::vector<double> acc(cm);
  for (int n = 0; n < g.n; ++n)
    for (int oh = 0; oh < g.oh; ++oh)
      for (int ow = 0; ow < g.ow; ++ow) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int kh = 0; kh < g.kh; ++kh) {
          const int ih = oh * g.sh - g.pt + kh * g.dh;
          if (ih < 0 || ih >= g.h) continue;
          for (int kw = 0; kw < g.kw; ++kw) {
            const int iw = ow * g.sw - g.pl + kw * g.dw;
            if (iw < 0 || iw >= g.w) continue;
            const float* xr = x + ((static_cast<int64_t>(n) * g.h + ih) * g.w + iw) * g.c;
            const float* wr = w + (static_cast<int64_t>(kh) * g.kw + kw) * cm;
            if (g.m == 1) {
              for (int c = 0; c < g.c; ++c) acc[c] += static_cast<double>(xr[c]) * wr[c];
            } else {
              for (int c = 0; c < g.c; ++c)
                for (int q = 0; q < g.m; ++q) acc[c * g.m + q] += static_cast<double>(xr[c]) * wr[c * g.m + q];
            }
          }
        }
        float* o = out + ((static_cast<int64_t>(n) * g.oh + oh) * g.ow + ow) * cm;
        for (int i = 0; i < cm; ++i) o[i] = static_cast<float>(acc[i]);
      }
}

// dx[n,ih,iw,c] = sum over the outputs that read it of dy[n,oh,ow,c*M+q] * w[kh,kw,c,q]
MF_CLONES void depthwise_backprop_input(const Geo& g, const float* dy, const float* w, float* dx) {
  const int cm = g.c * g.m;
  const int64_t total = static_cast<int64_t>(g.n) * g.h * g.w * g.c;
  std::vector<double> acc(total, 0.0);
  for (int n = 0; n < g.n; ++n)
    for (int oh = 0; oh < g.oh; ++oh)
      for (int ow = 0; ow < g.ow; ++ow) {
        const float* d = dy + ((static_cast<int64_t>(n) * g.oh + oh) * g.ow + ow) * cm;
        for (int kh = 0; kh < g.kh; ++kh) {
          const int ih = oh * g.sh - g.pt + kh * g.dh;
          if (ih < 0 || ih >= g.h) continue;
          for (int kw = 0; kw < g.kw; ++kw) {
            const int iw = ow * g.sw - g.pl + kw * g.dw;
            if (iw < 0 || iw >= g.w) continue;
            double* a = acc.data() + ((static_cast<int64_t>(n) * g.h + ih) * g.w + iw) * g.c;
            const float* wr = w + (static_cast<int64_t>(kh) * g.kw + kw) * cm;
            if (g.m == 1) {
              for (int c = 0; c < g.c; ++c) a[c] += static_cast<double>(d[c]) * wr[c];
            } else {
              for (int c = 0; c < g.c; ++c)
                for (int q = 0; q < g.m; ++q) a[c] += static_cast<double>(d[c * g.m + q]) * wr[c * g.m + q];
            }
          }
        }
      }
  for (int64_t i = 0; i < total; ++i) dx[i] = static_cast<float>(acc[i]);
}

// dw[kh,kw,c,q] = sum_{n,oh,ow} x[n,ih,iw,c] * dy[n,oh,ow,c*M+q]
MF_CLONES void depthwise_backprop_filter(const Geo& g, const float* x, const float* dy, float* dw) {
  const int cm = g.c * g.m;
  std::vector<double> acc(static_cast<size_t>(g.kh) * g.kw * cm, 0.0);
  for (int n = 0; n < g.n; ++n)
    for (int oh = 0; oh < g.oh; ++oh)
      for (int ow = 0; ow < g.ow; ++ow) {
        const float* d = dy + ((static_cast<int64_t>(n) * g.oh + oh) * g.ow + ow) * cm;
        for (int kh = 0; kh < g.kh; ++kh) {
          const int ih = oh * g.sh - g.pt + kh * g.dh;
          if (ih < 0 || ih >= g.h) continue;
          for (int kw = 0; kw < g.kw; ++kw) {
            const int iw = ow * g.sw - g.pl + kw * g.dw;
            if (iw < 0 || iw >= g.w) continue;
            const float* xr = x + ((static_cast<int64_t>(n) * g.h + ih) * g.w + iw) * g.c;
            double* a = acc.data() + (static_cast<int64_t>(kh) * g.kw + kw) * cm;
            if (g.m == 1) {
              for (int c = 0; c < g.c; ++c) a[c] += static_cast<double>(xr[c]) * d[c];
            } else {
              for (int c = 0; c < g.c; ++c)
                for (int q = 0; q < g.m; ++q) a[c * g.m + q] += static_cast<double>(xr[c]) * d[c * g.m + q];
            }
          }
        }
      }
  for (size_t i = 0; i < acc.size(); ++i) dw[i] = static_cast<float>(acc[i]);
}

// Max pooling (dilation 1). For each output, the first maximum of its window in row-major order
// over in-bounds positions (strictly greater than the best so far, starting from -infinity), as
// TF.js's maxPoolPositions; `grad` then adds dy at that position.
// Max-pool gradient for windows that overlap or leave gaps (the tiling case is max_pool_grad_tiles):
// each window's gradient is added at the first position holding its maximum.
void max_pool_grad_scatter(const Geo& g, const float* __restrict x, const float* __restrict dy, float* __restrict out) {
  const int c = g.c;
  std::memset(out, 0, sizeof(float) * static_cast<size_t>(g.n) * g.h * g.w * c);
  std::vector<float> best_v(c);
  // Window position (kh * KW + kw) of each channel's maximum; -1: none (an all-NaN window). Kept
  // as float so the compare-and-blend loop below vectorizes (one lane type).
  std::vector<float> where_v(c);
  float* __restrict best = best_v.data();
  float* __restrict where = where_v.data();
  for (int n = 0; n < g.n; ++n)
    for (int oh = 0; oh < g.oh; ++oh)
      for (int ow = 0; ow < g.ow; ++ow) {
        for (int d = 0; d < c; ++d) {
          best[d] = -std::numeric_limits<float>::infinity();
          where[d] = -1.0f;
        }
        for (int kh = 0; kh < g.kh; ++kh) {
          const int ih = oh * g.sh - g.pt + kh;
          if (ih < 0 || ih >= g.h) continue;
          for (int kw = 0; kw < g.kw; ++kw) {
            const int iw = ow * g.sw - g.pl + kw;
            if (iw < 0 || iw >= g.w) continue;
            const float* __restrict xr = x + ((static_cast<int64_t>(n) * g.h + ih) * g.w + iw) * c;
            const float pos = static_cast<float>(kh * g.kw + kw);
            // Branch-free (random data defeats branch prediction); strictly greater keeps the first maximum.
            for (int d = 0; d < c; ++d) {
              const float v = xr[d];
              const float b = best[d];
              where[d] = v > b ? pos : where[d];
              best[d] = v > b ? v : b;
            }
          }
        }
        const int64_t o = ((static_cast<int64_t>(n) * g.oh + oh) * g.ow + ow) * c;
        for (int d = 0; d < c; ++d) {
          if (where[d] < 0) continue;
          const int p = static_cast<int>(where[d]);
          const int ih = oh * g.sh - g.pt + p / g.kw;
          const int iw = ow * g.sw - g.pl + p % g.kw;
          out[((static_cast<int64_t>(n) * g.h + ih) * g.w + iw) * c + d] += dy[o + d];
        }
      }
}

// Max-pool gradient for windows that tile the input (kernel == stride, no padding), given the
// forward output y: each window's gradient goes to the first position (row-major) holding its
// maximum, as TF.js's kernel does. Every dx element is written once; branch-free so it vectorizes.
MF_CLONES void max_pool_grad_tiles(const Geo& g, const float* __restrict x, const float* __restrict y, const float* __restrict dy, float* __restrict dx) {
  const int c = g.c;
  std::vector<uint32_t> found_v(c);
  uint32_t* __restrict found = found_v.data();
  const uint32_t* __restrict dyb = reinterpret_cast<const uint32_t*>(dy);
  uint32_t* __restrict dxb = reinterpret_cast<uint32_t*>(dx);
  for (int n = 0; n < g.n; ++n)
    for (int oh = 0; oh < g.oh; ++oh)
      for (int ow = 0; ow < g.ow; ++ow) {
        const int64_t o = ((static_cast<int64_t>(n) * g.oh + oh) * g.ow + ow) * c;
        const float* __restrict yr = y + o;
        const uint32_t* __restrict dyr = dyb + o;
        for (int d = 0; d < c; ++d) found[d] = 0;
        for (int kh = 0; kh < g.kh; ++kh)
          for (int kw = 0; kw < g.kw; ++kw) {
            const int64_t at = ((static_cast<int64_t>(n) * g.h + oh * g.sh + kh) * g.w + ow * g.sw + kw) * c;
            const float* __restrict xr = x + at;
            uint32_t* __restrict dxr = dxb + at;
            // Bit masks instead of conditionals, so gcc vectorizes the loop.
            for (int d = 0; d < c; ++d) {
              // yr[d] == -inf: no tap (all NaN or -inf), as in TF.js.
              const uint32_t hit = static_cast<uint32_t>(xr[d] == yr[d] && yr[d] > -std::numeric_limits<float>::infinity()) & (found[d] ^ 1u);
              found[d] |= hit;
              dxr[d] = dyr[d] & (0u - hit);
            }
          }
      }
}

enum Unary { RELU, RELU6, STEP, NEG, ABS, SQUARE, SQRT, RSQRT, EXP, LOG, SIGMOID, TANH, ELU, RECIPROCAL, LEAKY_RELU };

MF_CLONES void unary(int op, const float* x, float* y, size_t n, double alpha) {
  switch (op) {
    case RELU: for (size_t i = 0; i < n; ++i) y[i] = x[i] < 0 ? 0.0f : x[i]; break;
    case RELU6: for (size_t i = 0; i < n; ++i) y[i] = x[i] < 0 ? 0.0f : (x[i] > 6 ? 6.0f : x[i]); break;
    case STEP: {
      const float a = static_cast<float>(alpha);
      // Branch-free so it vectorizes; x != x is the NaN test (NaN stays NaN, as in TF.js).
      for (size_t i = 0; i < n; ++i) {
        const float v = x[i] > 0 ? 1.0f : a;
        y[i] = x[i] != x[i] ? x[i] : v;
      }
      break;
    }
    case NEG: for (size_t i = 0; i < n; ++i) y[i] = -x[i]; break;
    case ABS: for (size_t i = 0; i < n; ++i) y[i] = std::fabs(x[i]); break;
    case SQUARE: for (size_t i = 0; i < n; ++i) y[i] = static_cast<float>(static_cast<double>(x[i]) * x[i]); break;
    case SQRT: for (size_t i = 0; i < n; ++i) y[i] = static_cast<float>(std::sqrt(static_cast<double>(x[i]))); break;
    case RSQRT: for (size_t i = 0; i < n; ++i) y[i] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(x[i]))); break;
    case EXP: for (size_t i = 0; i < n; ++i) y[i] = static_cast<float>(std::exp(static_cast<double>(x[i]))); break;
    case LOG: for (size_t i = 0; i < n; ++i) y[i] = static_cast<float>(std::log(static_cast<double>(x[i]))); break;
    case SIGMOID: for (size_t i = 0; i < n; ++i) y[i] = static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(x[i])))); break;
    case TANH: for (size_t i = 0; i < n; ++i) y[i] = static_cast<float>(std::tanh(static_cast<double>(x[i]))); break;
    case ELU: for (size_t i = 0; i < n; ++i) y[i] = x[i] >= 0 ? x[i] : static_cast<float>(std::exp(static_cast<double>(x[i])) - 1.0); break;
    case RECIPROCAL: for (size_t i = 0; i < n; ++i) y[i] = static_cast<float>(1.0 / static_cast<double>(x[i])); break;
    case LEAKY_RELU: for (size_t i = 0; i < n; ++i) y[i] = x[i] < 0 ? static_cast<float>(alpha * x[i]) : x[i]; break;
    default: throw ArgError{"unknown unary op " + std::to_string(op)};
  }
}

// RELU_GRAD: a (dy) times step(b) (x): TF.js's relu gradient, mul(dy, step(x)), in one pass.
enum Binary { ADD, SUB, MUL, DIV, MAX, MIN, SQUARED_DIFF, RELU_GRAD };

inline __attribute__((always_inline)) float bin(int op, float a, float b) {
  switch (op) {
    case ADD: return a + b;
    case SUB: return a - b;
    case MUL: return a * b;
    case DIV: return a / b;
    case MAX: return std::isnan(a) || std::isnan(b) ? std::numeric_limits<float>::quiet_NaN() : (a > b ? a : b);
    case MIN: return std::isnan(a) || std::isnan(b) ? std::numeric_limits<float>::quiet_NaN() : (a < b ? a : b);
    case RELU_GRAD: return a * (b != b ? b : (b > 0 ? 1.0f : 0.0f));
    default: { const double d = static_cast<double>(a) - b; return static_cast<float>(d * d); }
  }
}

// y = a op b where each operand is either the full length n or repeats with its own period
// (a shape that is a suffix of the output's, leading 1s dropped, or a scalar).
template <int Op>
inline __attribute__((always_inline)) void binary_t(const float* a, size_t na, const float* b, size_t nb, float* y, size_t n) {
  if (na == n && nb == n) {
    for (size_t i = 0; i < n; ++i) y[i] = bin(Op, a[i], b[i]);
  } else if (na == n && nb == 1) {
    // A scalar operand: one loop over the other, which vectorizes (the period loop of 1 did not).
    const float bs = b[0];
    for (size_t i = 0; i < n; ++i) y[i] = bin(Op, a[i], bs);
  } else if (nb == n && na == 1) {
    const float as = a[0];
    for (size_t i = 0; i < n; ++i) y[i] = bin(Op, as, b[i]);
  } else if (na == n) {
    for (size_t i = 0; i < n; i += nb)
      for (size_t j = 0; j < nb; ++j) y[i + j] = bin(Op, a[i + j], b[j]);
  } else {
    for (size_t i = 0; i < n; i += na)
      for (size_t j = 0; j < na; ++j) y[i + j] = bin(Op, a[j], b[i + j]);
  }
}

MF_CLONES void binary(int op, const float* a, size_t na, const float* b, size_t nb, float* y, size_t n) {
  switch (op) {
    case ADD: return binary_t<ADD>(a, na, b, nb, y, n);
    case SUB: return binary_t<SUB>(a, na, b, nb, y, n);
    case MUL: return binary_t<MUL>(a, na, b, nb, y, n);
    case DIV: return binary_t<DIV>(a, na, b, nb, y, n);
    case MAX: return binary_t<MAX>(a, na, b, nb, y, n);
    case MIN: return binary_t<MIN>(a, na, b, nb, y, n);
    case SQUARED_DIFF: return binary_t<SQUARED_DIFF>(a, na, b, nb, y, n);
    case RELU_GRAD: return binary_t<RELU_GRAD>(a, na, b, nb, y, n);
    default: throw ArgError{"unknown binary op " + std::to_string(op)};
  }
}

// Memory-bound work (elementwise, pooling, sums) under this many elements stays on the calling
// thread: on two cores a split pass measured slower than one thread below ~1M elements (worker
// wake-up, and the next kernel reading data from the other core's cache).
constexpr size_t PARALLEL_MIN_ELEMENTS = 1 << 18;
// Elements per task of a split pass.
constexpr size_t PARALLEL_TASK_ELEMENTS = 1 << 16;

// Runs fn(row) for rows [0, rows) of `row_elements` each, on the pool when the pass is large.
template <typename F>
void parallel_rows(int64_t rows, size_t row_elements, F fn) {
  mf::ThreadPool& pool = mf::ThreadPool::instance();
  if (pool.threads() == 1 || static_cast<size_t>(rows) * row_elements < PARALLEL_MIN_ELEMENTS) {
    for (int64_t r = 0; r < rows; ++r) fn(r);
    return;
  }
  const int64_t per_task = std::max<int64_t>(1, static_cast<int64_t>(PARALLEL_TASK_ELEMENTS / std::max<size_t>(1, row_elements)));
  pool.parallel_for((rows + per_task - 1) / per_task, [&](int64_t t, int) {
    for (int64_t r = t * per_task; r < std::min(rows, (t + 1) * per_task); ++r) fn(r);
  });
}

// Splits [0, n) into chunks that are multiples of `period` (so cycled operands stay aligned) and
// runs fn(begin, end) on the pool.
template <typename F>
void parallel_chunks(size_t n, size_t period, F fn) {
  mf::ThreadPool& pool = mf::ThreadPool::instance();
  if (pool.threads() == 1 || n < PARALLEL_MIN_ELEMENTS) return fn(size_t{0}, n);
  size_t chunk = (PARALLEL_TASK_ELEMENTS + period - 1) / period * period;
  if (chunk < period) chunk = period;
  const int64_t tasks = static_cast<int64_t>((n + chunk - 1) / chunk);
  pool.parallel_for(tasks, [&](int64_t t, int) {
    const size_t b = static_cast<size_t>(t) * chunk;
    fn(b, std::min(n, b + chunk));
  });
}

// Column sums of a [rows, cols] pass (a bias gradient: Sum over all but the last axis, and
// ReluGradBias): fixed row pieces (4 per thread when the pass is large), each summed in double by
// add_rows(r0, r1, acc) into a private accumulator, then added piece by piece. The same pieces for
// the same thread count and size, so the same values run to run and between the two kernels.
template <typename F>
void column_sums_in_pieces(int64_t rows, int64_t cols, float* y, F add_rows) {
  mf::ThreadPool& pool = mf::ThreadPool::instance();
  const bool large = static_cast<size_t>(rows * cols) >= PARALLEL_MIN_ELEMENTS;
  const int64_t pieces = pool.threads() > 1 && large ? std::min<int64_t>(rows, 4 * pool.threads()) : 1;
  std::vector<double> part(static_cast<size_t>(pieces * cols), 0.0);
  auto piece = [&](int64_t p, int) {
    // Private: pieces on different threads writing neighbouring parts of one array shared cache
    // lines on every row (2x slower than one thread).
    std::vector<double> acc(static_cast<size_t>(cols), 0.0);
    add_rows(rows * p / pieces, rows * (p + 1) / pieces, acc.data());
    std::copy(acc.begin(), acc.end(), part.begin() + p * cols);
  };
  if (pieces == 1) piece(0, 0);
  else pool.parallel_for(pieces, piece);
  for (int64_t i = 0; i < cols; ++i) {
    double sum = 0;
    for (int64_t p = 0; p < pieces; ++p) sum += part[p * cols + i];
    y[i] = static_cast<float>(sum);
  }
}

void unary_parallel(int op, const float* x, float* y, size_t n, double alpha) {
  if (op < 0 || op > LEAKY_RELU) throw ArgError{"unknown unary op " + std::to_string(op)};
  parallel_chunks(n, 1, [&](size_t b, size_t e) { unary(op, x + b, y + b, e - b, alpha); });
}

void binary_parallel(int op, const float* a, size_t na, const float* b, size_t nb, float* y, size_t n) {
  if (op < 0 || op > RELU_GRAD) throw ArgError{"unknown binary op " + std::to_string(op)};
  // The cycled operand's period; chunks start at multiples of it, so it is passed whole.
  const size_t period = na == n ? (nb == n ? 1 : nb) : na;
  parallel_chunks(n, period, [&](size_t s, size_t e) {
    binary(op, na == n ? a + s : a, na == n ? e - s : na, nb == n ? b + s : b, nb == n ? e - s : nb, y + s, e - s);
  });
}

// Max pooling, forward only: each output pixel's C maxima kept in the output row itself.
// Strictly greater from -inf: NaN never wins and an all-NaN window gives -inf, as in TF.js.
// The 2x2 / stride 2 case of max_pool_grad_tiles for one row of windows, with the four
// positions unrolled so the selects vectorize over channels (the general loop kept a per-channel
// "found" array in memory: 1.2 ms for a 32x64x64x16 input, this ~4x less).
MF_CLONES void max_pool_grad_2x2_row(const Geo& g, const float* __restrict x, const float* __restrict y, const float* __restrict dy,
                                     float* __restrict dx) {
  const int c = g.c;
  const int64_t row = static_cast<int64_t>(g.w) * c;
  for (int ow = 0; ow < g.ow; ++ow) {
    const float* __restrict x0 = x + static_cast<int64_t>(2 * ow) * c;
    const float* __restrict x1 = x0 + c;
    const float* __restrict x2 = x0 + row;
    const float* __restrict x3 = x2 + c;
    float* __restrict d0 = dx + static_cast<int64_t>(2 * ow) * c;
    float* __restrict d1 = d0 + c;
    float* __restrict d2 = d0 + row;
    float* __restrict d3 = d2 + c;
    const float* __restrict yr = y + static_cast<int64_t>(ow) * c;
    const uint32_t* __restrict gr = reinterpret_cast<const uint32_t*>(dy) + static_cast<int64_t>(ow) * c;
    uint32_t* __restrict b0 = reinterpret_cast<uint32_t*>(d0);
    uint32_t* __restrict b1 = reinterpret_cast<uint32_t*>(d1);
    uint32_t* __restrict b2 = reinterpret_cast<uint32_t*>(d2);
    uint32_t* __restrict b3 = reinterpret_cast<uint32_t*>(d3);
    // Bit masks instead of conditionals (branches defeat the vectorizer): the first position
    // equal to the window's maximum takes dy's bits, the others get +0.
    for (int d = 0; d < c; ++d) {
      // A window whose maximum is -inf (all NaN or -inf) has no tap, as in TF.js.
      const float m = yr[d] > -std::numeric_limits<float>::infinity() ? yr[d] : std::numeric_limits<float>::quiet_NaN();
      const uint32_t e0 = static_cast<uint32_t>(x0[d] == m), e1 = static_cast<uint32_t>(x1[d] == m);
      const uint32_t e2 = static_cast<uint32_t>(x2[d] == m), e3 = static_cast<uint32_t>(x3[d] == m);
      const uint32_t h1 = e1 & (e0 ^ 1u);
      const uint32_t h2 = e2 & ((e0 | e1) ^ 1u);
      const uint32_t h3 = e3 & ((e0 | e1 | e2) ^ 1u);
      const uint32_t gv = gr[d];
      b0[d] = gv & (0u - e0);
      b1[d] = gv & (0u - h1);
      b2[d] = gv & (0u - h2);
      b3[d] = gv & (0u - h3);
    }
  }
}

// 2x2 windows, stride 2, no padding, inside the image (a CNN's usual pooling): the four taps in
// registers, one pass over the output (the general loop below reloads and stores it per tap).
MF_CLONES void max_pool_2x2_row(const Geo& g, const float* __restrict x, float* __restrict out, int64_t row) {
  const int c = g.c;
  const int64_t n = row / g.oh;
  const int oh = static_cast<int>(row % g.oh);
  const int64_t in_row = static_cast<int64_t>(g.w) * c;
  const float* __restrict xr = x + (n * g.h + 2 * oh) * in_row;
  float* __restrict o = out + (n * g.oh + oh) * static_cast<int64_t>(g.ow) * c;
  for (int ow = 0; ow < g.ow; ++ow) {
    const float* __restrict x0 = xr + static_cast<int64_t>(2 * ow) * c;
    const float* __restrict x1 = x0 + c;
    const float* __restrict x2 = x0 + in_row;
    const float* __restrict x3 = x2 + c;
    float* __restrict od = o + static_cast<int64_t>(ow) * c;
    for (int d = 0; d < c; ++d) {
      float m = -std::numeric_limits<float>::infinity();
      m = x0[d] > m ? x0[d] : m;
      m = x1[d] > m ? x1[d] : m;
      m = x2[d] > m ? x2[d] : m;
      m = x3[d] > m ? x3[d] : m;
      od[d] = m;
    }
  }
}

MF_CLONES void max_pool_forward_row(const Geo& g, const float* __restrict x, float* __restrict out, int64_t row) {
  const int c = g.c;
  const int64_t n = row / g.oh;
  const int oh = static_cast<int>(row % g.oh);
  for (int ow = 0; ow < g.ow; ++ow) {
    float* __restrict o = out + ((n * g.oh + oh) * g.ow + ow) * c;
    for (int d = 0; d < c; ++d) o[d] = -std::numeric_limits<float>::infinity();
    for (int kh = 0; kh < g.kh; ++kh) {
      const int ih = oh * g.sh - g.pt + kh;
      if (ih < 0 || ih >= g.h) continue;
      for (int kw = 0; kw < g.kw; ++kw) {
        const int iw = ow * g.sw - g.pl + kw;
        if (iw < 0 || iw >= g.w) continue;
        const float* __restrict xr = x + ((n * g.h + ih) * g.w + iw) * c;
        for (int d = 0; d < c; ++d) o[d] = xr[d] > o[d] ? xr[d] : o[d];
      }
    }
  }
}

// 2x2 windows, stride 2, tiling the input exactly: the case whose gradient can come from the
// window codes max_pool_2x2_codes_row records.
bool pool_2x2_tiles(const Geo& g) {
  return g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.pt == 0 && g.pl == 0 && 2 * g.oh == g.h && 2 * g.ow == g.w;
}

// max_pool_2x2_row, also recording per output element which tap gets the gradient (0-3, 4 for
// none): the same tap max_pool_grad_2x2_row finds from x and y, so the gradients are the same.
MF_CLONES void max_pool_2x2_codes_row(const Geo& g, const float* __restrict x, float* __restrict out, uint32_t* __restrict codes, int64_t row) {
  const int c = g.c;
  const int64_t n = row / g.oh;
  const int oh = static_cast<int>(row % g.oh);
  const int64_t in_row = static_cast<int64_t>(g.w) * c;
  const float* __restrict xr = x + (n * g.h + 2 * oh) * in_row;
  const int64_t at = (n * g.oh + oh) * static_cast<int64_t>(g.ow) * c;
  for (int ow = 0; ow < g.ow; ++ow) {
    const float* __restrict x0 = xr + static_cast<int64_t>(2 * ow) * c;
    const float* __restrict x1 = x0 + c;
    const float* __restrict x2 = x0 + in_row;
    const float* __restrict x3 = x2 + c;
    float* __restrict od = out + at + static_cast<int64_t>(ow) * c;
    uint32_t* __restrict cd = codes + at + static_cast<int64_t>(ow) * c;
    for (int d = 0; d < c; ++d) {
      // Strictly greater from -inf, tracking the tap (TF.js's maxPoolPositions): the first
      // maximum; 4 (none) if no tap beats -inf (all NaN or -inf). Words, not bytes: a byte loop
      // vectorizes 64 wide and never ran vectorized over 16 channels (10x slower).
      float m = -std::numeric_limits<float>::infinity();
      uint32_t k = 4;
      const bool g0 = x0[d] > m;
      m = g0 ? x0[d] : m, k = g0 ? 0u : k;
      const bool g1 = x1[d] > m;
      m = g1 ? x1[d] : m, k = g1 ? 1u : k;
      const bool g2 = x2[d] > m;
      m = g2 ? x2[d] : m, k = g2 ? 2u : k;
      const bool g3 = x3[d] > m;
      m = g3 ? x3[d] : m, k = g3 ? 3u : k;
      od[d] = m;
      cd[d] = k;
    }
  }
}

// Max pooling, forward only: each output pixel's C maxima kept in the output row itself.
// Strictly greater from -inf: NaN never wins and an all-NaN window gives -inf, as in TF.js.
// `codes` (or null): see max_pool_2x2_codes_row; only for pool_2x2_tiles geometry.
void max_pool_forward(const Geo& g, const float* __restrict x, float* __restrict out, uint32_t* codes) {
  const bool two = g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.pt == 0 && g.pl == 0 && 2 * g.oh <= g.h && 2 * g.ow <= g.w;
  parallel_rows(static_cast<int64_t>(g.n) * g.oh, static_cast<size_t>(g.w) * g.kh * g.c, [&](int64_t row) {
    if (codes) max_pool_2x2_codes_row(g, x, out, codes, row);
    else if (two) max_pool_2x2_row(g, x, out, row);
    else max_pool_forward_row(g, x, out, row);
  });
}

// The 2x2 / stride 2 gradient from the forward's codes, for one row of windows: reads dy and the
// codes only (not x and y, 4x and 1x dy's size), and writes dx's two rows once, dy's bits or +0.
MF_CLONES void max_pool_grad_2x2_codes_row(const Geo& g, const uint32_t* __restrict codes, const float* __restrict dy, float* __restrict dx) {
  const int c = g.c;
  const int64_t row = static_cast<int64_t>(g.w) * c;
  for (int ow = 0; ow < g.ow; ++ow) {
    const uint32_t* __restrict cr = codes + static_cast<int64_t>(ow) * c;
    const uint32_t* __restrict gr = reinterpret_cast<const uint32_t*>(dy) + static_cast<int64_t>(ow) * c;
    uint32_t* __restrict b0 = reinterpret_cast<uint32_t*>(dx) + static_cast<int64_t>(2 * ow) * c;
    uint32_t* __restrict b1 = b0 + c;
    uint32_t* __restrict b2 = b0 + row;
    uint32_t* __restrict b3 = b2 + c;
    for (int d = 0; d < c; ++d) {
      const uint32_t k = cr[d], gv = gr[d];
      b0[d] = gv & (0u - static_cast<uint32_t>(k == 0));
      b1[d] = gv & (0u - static_cast<uint32_t>(k == 1));
      b2[d] = gv & (0u - static_cast<uint32_t>(k == 2));
      b3[d] = gv & (0u - static_cast<uint32_t>(k == 3));
    }
  }
}

// Adds rows [r0, r1) of x viewed as [outer, reduced, inner] (outer index o) into acc[inner], in double.
MF_CLONES void sum_rows(const float* x, int64_t o, int64_t reduced, int64_t inner, int64_t r0, int64_t r1, double* acc) {
  const float* xo = x + o * reduced * inner;
  if (inner == 1) {
    double s = 0;
    for (int64_t r = r0; r < r1; ++r) s += xo[r];
    acc[0] += s;
  } else {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t i = 0; i < inner; ++i) acc[i] += xo[r * inner + i];
  }
}

// dz = dy * step(y) (RELU_GRAD) over rows [r0, r1) of `channels` each, adding dz into acc[channels]
// in double, row by row: the relu gradient and its sum over rows (a bias gradient) in one pass,
// with Sum's values (sum_rows' order).
MF_CLONES void relu_grad_sum_rows(const float* __restrict dy, const float* __restrict y, int64_t channels, int64_t r0, int64_t r1,
                                  float* __restrict dz, double* __restrict acc) {
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t at = r * channels;
    for (int64_t i = 0; i < channels; ++i) {
      const float v = bin(RELU_GRAD, dy[at + i], y[at + i]);
      dz[at + i] = v;
      acc[i] += v;
    }
  }
}

struct AdamScalars {
  float b1, omb1, b2, omb2, eps, neglr, omab1, omab2;
};

// The outputs are new arrays, never the inputs: __restrict lets the loop vectorize (gcc does not
// version a loop over 7 arrays for aliasing), with the same float operations in the same order.
MF_CLONES void adam_range(const AdamScalars& k, const float* __restrict value, const float* __restrict m, const float* __restrict v,
                          const float* __restrict g, size_t b, size_t e, float* __restrict out_value, float* __restrict out_m,
                          float* __restrict out_v) {
  for (size_t i = b; i < e; ++i) {
    const float gi = g[i];
    const float new_m = m[i] * k.b1 + gi * k.omb1;
    const float new_v = v[i] * k.b2 + (gi * gi) * k.omb2;
    const float corrected_m = new_m / k.omab1;
    const float corrected_v = new_v / k.omab2;
    out_value[i] = (corrected_m / (std::sqrt(corrected_v) + k.eps)) * k.neglr + value[i];
    out_m[i] = new_m;
    out_v[i] = new_v;
  }
}

napi_value undefined_value(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

template <typename F>
napi_value guarded(napi_env env, F f) {
  try {
    f();
  } catch (const ArgError& e) {
    napi_throw_error(env, "MEDFUSION_NATIVE_KERNEL", e.message.c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, "MEDFUSION_NATIVE_KERNEL", e.what());
  }
  return undefined_value(env);
}

// guarded for a kernel that reports whether it did its work: f returns that bool, which becomes
// the JS result (undefined when f threw).
template <typename F>
napi_value guarded_bool(napi_env env, F f) {
  bool done = false;
  napi_value result = guarded(env, [&] { done = f(); });
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_get_boolean(env, done, &result);
  return result;
}

// depthwise(kind, geometry, a, b, out): kind 0 forward (x, w), 1 input gradient (dy, w), 2 filter gradient (x, dy)
napi_value Depthwise(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 5);
    const int kind = static_cast<int>(num(env, a[0]));
    const Geo g = geo(env, a[1]);
    float* p = f32(env, a[2], nullptr, "a");
    float* q = f32(env, a[3], nullptr, "b");
    float* out = f32(env, a[4], nullptr, "out");
    if (kind == 0) depthwise_forward(g, p, q, out);
    else if (kind == 1) depthwise_backprop_input(g, p, q, out);
    else depthwise_backprop_filter(g, p, q, out);
  });
}

// maxPool(geometry, x, out, codes): codes is a Uint32Array of out's length, or null; returns
// whether codes were written (2x2 stride-2 windows tiling x only; maxPoolGradCodes takes them).
napi_value MaxPool(napi_env env, napi_callback_info info) {
  return guarded_bool(env, [&] {
    auto a = args(env, info, 4);
    const Geo g = geo(env, a[0]);
    size_t nout = 0, ncodes = 0;
    const float* x = f32(env, a[1], nullptr, "x");
    float* out = f32(env, a[2], &nout, "out");
    napi_valuetype t;
    napi_typeof(env, a[3], &t);
    uint32_t* codes = t == napi_null ? nullptr : u32(env, a[3], &ncodes, "codes");
    if (codes && ncodes != nout) throw ArgError{"codes must have out's length"};
    if (codes && !pool_2x2_tiles(g)) codes = nullptr;
    max_pool_forward(g, x, out, codes);
    return codes != nullptr;
  });
}

// maxPoolGradCodes(geometry, codes, dy, dx): the gradient from maxPool's codes (same values as
// maxPoolGrad(geometry, x, y, dy, dx) for the x and y that maxPool saw); returns false, writing
// nothing, for a geometry whose windows are not the codes' case (2x2, stride 2, tiling the input).
napi_value MaxPoolGradCodes(napi_env env, napi_callback_info info) {
  return guarded_bool(env, [&] {
    auto a = args(env, info, 4);
    const Geo g = geo(env, a[0]);
    size_t ncodes = 0, ndy = 0, ndx = 0;
    const uint32_t* codes = u32(env, a[1], &ncodes, "codes");
    const float* dy = f32(env, a[2], &ndy, "dy");
    float* dx = f32(env, a[3], &ndx, "dx");
    if (!pool_2x2_tiles(g)) return false;
    const size_t out_len = static_cast<size_t>(g.n) * g.oh * g.ow * g.c;
    if (ncodes != out_len || ndy != out_len || ndx != static_cast<size_t>(g.n) * g.h * g.w * g.c) throw ArgError{"maxPoolGradCodes: lengths do not fit the geometry"};
    const int64_t in_row = static_cast<int64_t>(2) * g.w * g.c, out_row = static_cast<int64_t>(g.ow) * g.c;
    parallel_rows(static_cast<int64_t>(g.n) * g.oh, static_cast<size_t>(in_row), [&](int64_t r) {
      max_pool_grad_2x2_codes_row(g, codes + r * out_row, dy + r * out_row, dx + r * in_row);
    });
    return true;
  });
}

// maxPoolGrad(geometry, x, y, dy, dx): y is the forward output
napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 5);
    const Geo g = geo(env, a[0]);
    const float* x = f32(env, a[1], nullptr, "x");
    const float* y = f32(env, a[2], nullptr, "y");
    const float* dy = f32(env, a[3], nullptr, "dy");
    float* dx = f32(env, a[4], nullptr, "dx");
    const bool tiles = g.kh == g.sh && g.kw == g.sw && g.pt == 0 && g.pl == 0 && g.oh * g.sh == g.h && g.ow * g.sw == g.w;
    if (tiles) {
      // Rows of windows touch disjoint rows of dx: one task per output row.
      Geo one = g;
      one.n = 1;
      one.oh = 1;
      one.h = g.sh;
      const int64_t rows = static_cast<int64_t>(g.n) * g.oh;
      const int64_t in_row = static_cast<int64_t>(g.sh) * g.w * g.c, out_row = static_cast<int64_t>(g.ow) * g.c;
      const bool two = g.kh == 2 && g.kw == 2;
      parallel_rows(rows, static_cast<size_t>(in_row), [&](int64_t r) {
        if (two) max_pool_grad_2x2_row(g, x + r * in_row, y + r * out_row, dy + r * out_row, dx + r * in_row);
        else max_pool_grad_tiles(one, x + r * in_row, y + r * out_row, dy + r * out_row, dx + r * in_row);
      });
    }
    else max_pool_grad_scatter(g, x, dy, dx);
  });
}

// unary(op, x, y, alpha)
napi_value UnaryOp(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 4);
    size_t nx, ny;
    float* x = f32(env, a[1], &nx, "x");
    float* y = f32(env, a[2], &ny, "y");
    if (nx != ny) throw ArgError{"x and y differ in length"};
    unary_parallel(static_cast<int>(num(env, a[0])), x, y, nx, num(env, a[3]));
  });
}

// binary(op, a, b, y): a and b are y's length or divide it (cycled)
napi_value BinaryOp(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 4);
    size_t na, nb, ny;
    float* pa = f32(env, a[1], &na, "a");
    float* pb = f32(env, a[2], &nb, "b");
    float* y = f32(env, a[3], &ny, "y");
    if ((na != ny && nb != ny) || na == 0 || nb == 0 || ny % na != 0 || ny % nb != 0) throw ArgError{"operand lengths do not cycle into the output"};
    binary_parallel(static_cast<int>(num(env, a[0])), pa, na, pb, nb, y, ny);
  });
}

// batchNorm(x, mean, variance, offset, scale, epsilon, y): TF.js's formula, parameters cycled.
napi_value BatchNorm(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 7);
    size_t n, nm, nv, no, ns, ny;
    const float* x = f32(env, a[0], &n, "x");
    const float* m = f32(env, a[1], &nm, "mean");
    const float* v = f32(env, a[2], &nv, "variance");
    const float* o = f32(env, a[3], &no, "offset");
    const float* s = f32(env, a[4], &ns, "scale");
    const double eps = num(env, a[5]);
    float* y = f32(env, a[6], &ny, "y");
    if (ny != n || !nm || !nv || !no || !ns) throw ArgError{"bad batch norm lengths"};
    size_t im = 0, iv = 0, io = 0, is = 0;
    for (size_t i = 0; i < n; ++i) {
      y[i] = static_cast<float>(o[io] + (static_cast<double>(x[i]) - m[im]) * s[is] / std::sqrt(static_cast<double>(v[iv]) + eps));
      if (++im == nm) im = 0;
      if (++iv == nv) iv = 0;
      if (++io == no) io = 0;
      if (++is == ns) is = 0;
    }
  });
}

// sum(x, outer, reduced, inner, y): x viewed as [outer, reduced, inner], y[o, i] = sum over reduced (double)
napi_value Sum(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 5);
    size_t nx, ny;
    const float* x = f32(env, a[0], &nx, "x");
    const int64_t outer = static_cast<int64_t>(num(env, a[1]));
    const int64_t reduced = static_cast<int64_t>(num(env, a[2]));
    const int64_t inner = static_cast<int64_t>(num(env, a[3]));
    float* y = f32(env, a[4], &ny, "y");
    if (static_cast<int64_t>(nx) != outer * reduced * inner || static_cast<int64_t>(ny) != outer * inner) throw ArgError{"bad sum shape"};
    if (outer == 1) {
      // One long reduction (a bias gradient): split the reduced axis.
      column_sums_in_pieces(reduced, inner, y, [&](int64_t r0, int64_t r1, double* acc) { sum_rows(x, 0, reduced, inner, r0, r1, acc); });
      return;
    }
    // Whole outer rows, grouped into tasks as any row-wise pass (a task per row of a long, thin
    // sum costs more to hand out than to add up).
    parallel_rows(outer, static_cast<size_t>(reduced * inner), [&](int64_t o) {
      thread_local std::vector<double> acc;
      acc.assign(static_cast<size_t>(inner), 0.0);
      sum_rows(x, o, reduced, inner, 0, reduced, acc.data());
      for (int64_t i = 0; i < inner; ++i) y[o * inner + i] = static_cast<float>(acc[i]);
    });
  });
}

// reluGradBias(dy, y, channels, dz, db): dz = dy * step(y) and db[c] = the sum of dz over all
// rows of `channels`, in the pieces Sum splits a bias gradient into (same values).
napi_value ReluGradBias(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 5);
    size_t ndy, ny, ndz, ndb;
    const float* dy = f32(env, a[0], &ndy, "dy");
    const float* y = f32(env, a[1], &ny, "y");
    const int64_t channels = static_cast<int64_t>(num(env, a[2]));
    float* dz = f32(env, a[3], &ndz, "dz");
    float* db = f32(env, a[4], &ndb, "db");
    if (channels < 1 || ndy == 0 || ndy % channels != 0 || ny != ndy || ndz != ndy || ndb != static_cast<size_t>(channels))
      throw ArgError{"reluGradBias: dy, y and dz must have equal lengths, a multiple of channels = db's length"};
    const int64_t rows = static_cast<int64_t>(ndy) / channels;
    column_sums_in_pieces(rows, channels, db, [&](int64_t r0, int64_t r1, double* acc) { relu_grad_sum_rows(dy, y, channels, r0, r1, dz, acc); });
  });
}

void require_gemm() {
  if (std::string(mf::gemm_isa()) == "none") throw ArgError{"no AVX2/AVX-512 here: the GEMM kernels are not available"};
}

// A float32 array argument that may be null or undefined (then nullptr, length 0).
const float* optional_f32(napi_env env, napi_value v, size_t* len, const char* name) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  *len = 0;
  return t == napi_null || t == napi_undefined ? nullptr : f32(env, v, len, name);
}

// [N, H, W, C, KH, KW, OH, OW, O, SH, SW, DH, DW, PT, PL] from an Int32Array.
mf::ConvShape conv_shape(napi_env env, napi_value v) {
  size_t len;
  int32_t* gv = i32(env, v, &len, "geometry");
  if (len < 15) throw ArgError{"geometry needs 15 values"};
  return mf::ConvShape{gv[0], gv[1], gv[2], gv[3], gv[4], gv[5], gv[6], gv[7], gv[8], gv[9], gv[10], gv[11], gv[12], gv[13], gv[14]};
}

// conv(kind, geometry[15], a, b, bias | null, act, out): kind 0 forward (x, w), 1 input gradient
// (dy, w), 2 filter gradient (x, dy); geometry [N, H, W, C, KH, KW, OH, OW, O, SH, SW, DH, DW, PT, PL].
napi_value Conv(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 7);
    require_gemm();
    size_t na, nb, nout;
    const mf::ConvShape g = conv_shape(env, a[1]);
    const float* pa = f32(env, a[2], &na, "a");
    const float* pb = f32(env, a[3], &nb, "b");
    size_t nbias;
    const float* bias = optional_f32(env, a[4], &nbias, "bias");
    const int act = static_cast<int>(num(env, a[5]));
    float* out = f32(env, a[6], &nout, "out");
    const size_t x = size_t(g.n) * g.h * g.w * g.c, w = size_t(g.kh) * g.kw * g.c * g.o, y = size_t(g.n) * g.oh * g.ow * g.o;
    const int kind = static_cast<int>(num(env, a[0]));
    if (bias && nbias != size_t(g.o)) throw ArgError{"bias length is not the output channels"};
    if (kind == 0) {
      if (na != x || nb != w || nout != y) throw ArgError{"conv forward: array lengths do not match the geometry"};
      mf::conv2d_forward(g, pa, pb, bias, act, out);
    } else if (kind == 1) {
      if (na != y || nb != w || nout != x) throw ArgError{"conv input gradient: array lengths do not match the geometry"};
      mf::conv2d_backprop_input(g, pa, pb, out);
    } else if (kind == 2) {
      if (na != x || nb != y || nout != w) throw ArgError{"conv filter gradient: array lengths do not match the geometry"};
      mf::conv2d_backprop_filter(g, pa, pb, out);
    } else {
      throw ArgError{"unknown conv kind " + std::to_string(kind)};
    }
  });
}

// convFilterReluBias(geometry[15], x, dy, y, dw, db): the filter and bias gradients of a relu
// conv from dy and its output y (mf::conv2d_backprop_filter_relu_bias: 3x3, one input channel).
napi_value ConvFilterReluBias(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 6);
    require_gemm();
    size_t nx, ndy, ny, ndw, ndb;
    const mf::ConvShape g = conv_shape(env, a[0]);
    const float* x = f32(env, a[1], &nx, "x");
    const float* dy = f32(env, a[2], &ndy, "dy");
    const float* y = f32(env, a[3], &ny, "y");
    float* dw = f32(env, a[4], &ndw, "dw");
    float* db = f32(env, a[5], &ndb, "db");
    const size_t xs = size_t(g.n) * g.h * g.w * g.c, ws = size_t(g.kh) * g.kw * g.c * g.o, ys = size_t(g.n) * g.oh * g.ow * g.o;
    if (nx != xs || ndy != ys || ny != ys || ndw != ws || ndb != size_t(g.o)) throw ArgError{"convFilterReluBias: array lengths do not match the geometry"};
    if (!mf::conv2d_backprop_filter_relu_bias(g, x, dy, y, dw, db)) throw ArgError{"convFilterReluBias: only 3x3 filters on one input channel"};
  });
}

// matmul(shape[7] = [batchA, batchB, M, K, N, transA, transB], a, b, bias | null, act, out)
napi_value Matmul(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 6);
    require_gemm();
    size_t len, na, nb, nout;
    int32_t* sv = i32(env, a[0], &len, "shape");
    if (len < 7) throw ArgError{"shape needs 7 values"};
    const mf::MatmulShape s{sv[0], sv[1], sv[2], sv[3], sv[4], sv[5] != 0, sv[6] != 0};
    const float* pa = f32(env, a[1], &na, "a");
    const float* pb = f32(env, a[2], &nb, "b");
    size_t nbias;
    const float* bias = optional_f32(env, a[3], &nbias, "bias");
    float* out = f32(env, a[5], &nout, "out");
    const int64_t batch = s.batch_a > s.batch_b ? s.batch_a : s.batch_b;
    if ((s.batch_a != batch && s.batch_a != 1) || (s.batch_b != batch && s.batch_b != 1)) throw ArgError{"batch sizes differ and neither is 1"};
    if (na != size_t(s.batch_a) * s.m * s.k || nb != size_t(s.batch_b) * s.k * s.n || nout != size_t(batch) * s.m * s.n)
      throw ArgError{"matmul: array lengths do not match the shape"};
    if (bias && nbias != size_t(s.n)) throw ArgError{"bias length is not N"};
    mf::batch_matmul(s, pa, pb, bias, static_cast<int>(num(env, a[4])), out);
  });
}

// setThreads(n): threads of the addon's pool (the caller plus n - 1 workers).
napi_value SetThreads(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 1);
    const int n = static_cast<int>(num(env, a[0]));
    if (n < 1 || n > 256) throw ArgError{"threads must be 1..256"};
    mf::set_compute_threads(n);
  });
}

// poolTrace(workNs, worker, order): one parallel_for on the pool of tasks that each spin workNs
// nanoseconds, recording per task the worker that ran it and when (a sequence number, -1: never
// ran). For tests of how the pool hands out tasks; the kernels never call it.
napi_value PoolTrace(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 3);
    const double work_ns = num(env, a[0]);
    size_t tasks, n2;
    int32_t* worker = i32(env, a[1], &tasks, "worker");
    int32_t* order = i32(env, a[2], &n2, "order");
    if (n2 != tasks) throw ArgError{"worker and order must have the same length"};
    std::fill(order, order + tasks, -1);
    std::atomic<int32_t> seq{0};
    mf::ThreadPool::instance().parallel_for(static_cast<int64_t>(tasks), [&](int64_t t, int w) {
      order[t] = seq.fetch_add(1, std::memory_order_relaxed);
      worker[t] = w;
      const auto end = std::chrono::steady_clock::now() + std::chrono::nanoseconds(static_cast<int64_t>(work_ns));
      while (std::chrono::steady_clock::now() < end) {
      }
    });
  });
}

napi_value GemmIsa(napi_env env, napi_callback_info) {
  napi_value s;
  napi_create_string_utf8(env, mf::gemm_isa(), NAPI_AUTO_LENGTH, &s);
  return s;
}

// adam(value, m, v, g, oneMinusAccBeta1[1], oneMinusAccBeta2[1], beta1, oneMinusBeta1, beta2,
//      oneMinusBeta2, epsilon, negLearningRate, newValue, newM, newV): one step of TF.js's
// AdamOptimizer for one variable, with its op order and a float32 rounding after every op (the
// scalars arrive as float64 and round to float32 as TF.js's scalar tensors do), so the result is
// bit for bit what its ~13 separate ops give.
napi_value Adam(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 15);
    size_t n, nm, nv, ng, n1, n2, o0, o1, o2;
    const float* value = f32(env, a[0], &n, "value");
    const float* m = f32(env, a[1], &nm, "m");
    const float* v = f32(env, a[2], &nv, "v");
    const float* g = f32(env, a[3], &ng, "g");
    const float* omab1p = f32(env, a[4], &n1, "oneMinusAccBeta1");
    const float* omab2p = f32(env, a[5], &n2, "oneMinusAccBeta2");
    const float b1 = static_cast<float>(num(env, a[6])), omb1 = static_cast<float>(num(env, a[7]));
    const float b2 = static_cast<float>(num(env, a[8])), omb2 = static_cast<float>(num(env, a[9]));
    const float eps = static_cast<float>(num(env, a[10])), neglr = static_cast<float>(num(env, a[11]));
    float* out_value = f32(env, a[12], &o0, "newValue");
    float* out_m = f32(env, a[13], &o1, "newM");
    float* out_v = f32(env, a[14], &o2, "newV");
    if (nm != n || nv != n || ng != n || o0 != n || o1 != n || o2 != n || n1 != 1 || n2 != 1) throw ArgError{"adam: lengths differ"};
    const AdamScalars k{b1, omb1, b2, omb2, eps, neglr, omab1p[0], omab2p[0]};
    parallel_chunks(n, 1, [&](size_t b, size_t e) { adam_range(k, value, m, v, g, b, e, out_value, out_m, out_v); });
  });
}

// One output row of a broadcast: each operand's innermost stride is 0 (broadcast), 1 (its own
// row) or other; the common cases are their own loops so they vectorize (one strided loop for all
// ran at ~1 element/ns, slower than the memory).
template <int Op>
inline __attribute__((always_inline)) void broadcast_row(const float* a, int64_t ia, const float* b, int64_t ib, float* y, int64_t n) {
  if (ia == 1 && ib == 1) {
    for (int64_t i = 0; i < n; ++i) y[i] = bin(Op, a[i], b[i]);
  } else if (ia == 1 && ib == 0) {
    const float bs = b[0];
    for (int64_t i = 0; i < n; ++i) y[i] = bin(Op, a[i], bs);
  } else if (ia == 0 && ib == 1) {
    const float as = a[0];
    for (int64_t i = 0; i < n; ++i) y[i] = bin(Op, as, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = bin(Op, a[i * ia], b[i * ib]);
  }
}

template <int Op>
inline __attribute__((always_inline)) void binary_broadcast_t(const float* a, const float* b, float* y, int rank, const int64_t* shape,
                                                              const int64_t* sa, const int64_t* sb) {
  int64_t outer = 1;
  for (int d = 0; d < rank - 1; ++d) outer *= shape[d];
  const int64_t inner = shape[rank - 1], ia = sa[rank - 1], ib = sb[rank - 1];
  parallel_rows(outer, static_cast<size_t>(inner), [&](int64_t o) {
    int64_t oa = 0, ob = 0;
    for (int64_t d = rank - 2, rest = o; d >= 0; --d) {
      const int64_t i = rest % shape[d];
      rest /= shape[d];
      oa += i * sa[d], ob += i * sb[d];
    }
    broadcast_row<Op>(a + oa, ia, b + ob, ib, y + o * inner, inner);
  });
}

// binaryBroadcast(op, a, b, y, spec): y = a op b with NumPy broadcasting; spec (Int32Array) is
// [rank, shape[rank], aStrides[rank], bStrides[rank]] with stride 0 along broadcast axes.
MF_CLONES void binary_broadcast(int op, const float* a, const float* b, float* y, int rank, const int64_t* shape, const int64_t* sa,
                                const int64_t* sb) {
  switch (op) {
    case ADD: return binary_broadcast_t<ADD>(a, b, y, rank, shape, sa, sb);
    case SUB: return binary_broadcast_t<SUB>(a, b, y, rank, shape, sa, sb);
    case MUL: return binary_broadcast_t<MUL>(a, b, y, rank, shape, sa, sb);
    case DIV: return binary_broadcast_t<DIV>(a, b, y, rank, shape, sa, sb);
    case MAX: return binary_broadcast_t<MAX>(a, b, y, rank, shape, sa, sb);
    case MIN: return binary_broadcast_t<MIN>(a, b, y, rank, shape, sa, sb);
    case SQUARED_DIFF: return binary_broadcast_t<SQUARED_DIFF>(a, b, y, rank, shape, sa, sb);
    case RELU_GRAD: return binary_broadcast_t<RELU_GRAD>(a, b, y, rank, shape, sa, sb);
    default: throw ArgError{"unknown binary op " + std::to_string(op)};
  }
}

napi_value BinaryBroadcast(napi_env env, napi_callback_info info) {
  return guarded(env, [&] {
    auto a = args(env, info, 5);
    const int op = static_cast<int>(num(env, a[0]));
    if (op < 0 || op > RELU_GRAD) throw ArgError{"unknown binary op " + std::to_string(op)};
    size_t na, nb, ny, ns;
    const float* pa = f32(env, a[1], &na, "a");
    const float* pb = f32(env, a[2], &nb, "b");
    float* y = f32(env, a[3], &ny, "y");
    const int32_t* spec = i32(env, a[4], &ns, "spec");
    const int rank = ns > 0 ? spec[0] : 0;
    if (rank < 1 || rank > 8 || ns != static_cast<size_t>(1 + 3 * rank)) throw ArgError{"spec must be [rank (1-8), shape, aStrides, bStrides]"};
    int64_t shape[8], sa[8], sb[8];
    int64_t n = 1, maxa = 0, maxb = 0;
    for (int d = 0; d < rank; ++d) {
      shape[d] = spec[1 + d], sa[d] = spec[1 + rank + d], sb[d] = spec[1 + 2 * rank + d];
      if (shape[d] < 1 || sa[d] < 0 || sb[d] < 0) throw ArgError{"bad broadcast spec"};
      n *= shape[d];
      maxa += (shape[d] - 1) * sa[d], maxb += (shape[d] - 1) * sb[d];
    }
    if (static_cast<size_t>(n) != ny || static_cast<size_t>(maxa) >= na || static_cast<size_t>(maxb) >= nb) throw ArgError{"broadcast spec does not fit the arrays"};
    binary_broadcast(op, pa, pb, y, rank, shape, sa, sb);
  });
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"depthwise", nullptr, Depthwise, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPool", nullptr, MaxPool, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolGrad", nullptr, MaxPoolGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolGradCodes", nullptr, MaxPoolGradCodes, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unary", nullptr, UnaryOp, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binary", nullptr, BinaryOp, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"batchNorm", nullptr, BatchNorm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sum", nullptr, Sum, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"binaryBroadcast", nullptr, BinaryBroadcast, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adam", nullptr, Adam, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv", nullptr, Conv, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matmul", nullptr, Matmul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"reluGradBias", nullptr, ReluGradBias, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"convFilterReluBias", nullptr, ConvFilterReluBias, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gemmIsa", nullptr, GemmIsa, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"poolTrace", nullptr, PoolTrace, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
