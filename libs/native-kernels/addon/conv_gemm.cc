// Convolutions (forward, input gradient, filter gradient) and matrix multiplies on TF.js's own
// NHWC / row-major float32 arrays, as GEMMs that never build the im2col matrix:
// - forward and input gradient are "indirect" GEMMs (as in XNNPACK): each output row's inputs
//   are found through a table of pointers to input pixels, one per kernel tap, and the filter is
//   the right-hand matrix as TF.js stores it (HWIO = [taps*C, O]);
// - the filter gradient is a reduction over output pixels, A^T B, with A the input pixels shifted
//   per tap and B the rows of dy;
// both with register tiles of MR rows x 2 vectors (AVX-512: 11 x 32 and 12 x 32, AVX2: 6 x 16) kept in
// registers over the whole reduction, compiled for AVX-512 and AVX2+FMA and picked at load time.
// Work is split over the addon's thread pool (thread_pool.h): output row panels, or chunks of
// the reduction with one partial result per thread, summed at the end.
// Why not onnxruntime: its Conv is NCHW, so every TF.js call paid two or three layout
// transposes, and its filter gradient (a convolution with batch and channels swapped) ran at a
// fifth of its forward speed.
#include "conv_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "thread_pool.h"

#define MF_INLINE static inline __attribute__((always_inline))

namespace mf {
struct Conv9Row {
  const float* rows[3];  // input rows iy0, iy0 + dh, iy0 + 2 dh of one output row, or null outside
  int w, sw, pl, dw;     // input width, stride, left padding, dilation along x
};
}  // namespace mf
#define MF_NOINLINE static __attribute__((noinline))
#define MF_UNROLL _Pragma("GCC unroll 16")

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx2,fma")
namespace mf_avx512 {
typedef __m512 VT;
typedef __mmask16 MT;
#define MF_VL 16
#define MF_MR 11
#define MF_CONV9_WIDE 1
#define MF_CONV9_P1 8
MF_INLINE VT vzero() { return _mm512_setzero_ps(); }
MF_INLINE VT vload(const float* p) { return _mm512_loadu_ps(p); }
MF_INLINE VT vload_mask(const float* p, MT m) { return _mm512_maskz_loadu_ps(m, p); }
MF_INLINE void vstore(float* p, VT v) { _mm512_storeu_ps(p, v); }
MF_INLINE void vstore_mask(float* p, VT v, MT m) { _mm512_mask_storeu_ps(p, m, v); }
MF_INLINE VT vbcast(const float* p) { return _mm512_set1_ps(*p); }
MF_INLINE VT vfma(VT a, VT b, VT c) { return _mm512_fmadd_ps(a, b, c); }
MF_INLINE VT vadd(VT a, VT b) { return _mm512_add_ps(a, b); }
// maxps returns its second operand when either is NaN: max(0, v) keeps NaN, like TF.js's relu.
MF_INLINE VT vmax(VT zero, VT v) { return _mm512_max_ps(zero, v); }
MF_INLINE MT vmask(int n) { return n >= 16 ? static_cast<MT>(0xFFFF) : static_cast<MT>((1u << n) - 1); }
// a * step(b) with step(NaN) = NaN: the addon's scalar RELU_GRAD, bit for bit.
MF_INLINE VT vrelu_grad(VT a, VT b) {
  VT step = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(b, _mm512_setzero_ps(), _CMP_GT_OQ), _mm512_set1_ps(1.0f));
  step = _mm512_mask_mov_ps(step, _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q), b);
  return _mm512_mul_ps(a, step);
}
// A vector of float sums kept in double (two halves).
struct DT {
  __m512d lo, hi;
};
MF_INLINE DT dload(const double* p) { return {_mm512_loadu_pd(p), _mm512_loadu_pd(p + 8)}; }
MF_INLINE void dstore(double* p, DT d) {
  _mm512_storeu_pd(p, d.lo);
  _mm512_storeu_pd(p + 8, d.hi);
}
MF_INLINE DT dadd(DT d, VT v) {
  return {_mm512_add_pd(d.lo, _mm512_cvtps_pd(_mm512_castps512_ps256(v))), _mm512_add_pd(d.hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)))};
}
#include "gemm_tiles.inc"
#undef MF_VL
#undef MF_MR
#undef MF_CONV9_WIDE
#undef MF_CONV9_P1
}  // namespace mf_avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace mf_avx2 {
typedef __m256 VT;
typedef __m256i MT;
#define MF_VL 8
#define MF_MR 6
#define MF_CONV9_WIDE 0
#define MF_CONV9_P1 4
MF_INLINE VT vzero() { return _mm256_setzero_ps(); }
MF_INLINE VT vload(const float* p) { return _mm256_loadu_ps(p); }
MF_INLINE VT vload_mask(const float* p, MT m) { return _mm256_maskload_ps(p, m); }
MF_INLINE void vstore(float* p, VT v) { _mm256_storeu_ps(p, v); }
MF_INLINE void vstore_mask(float* p, VT v, MT m) { _mm256_maskstore_ps(p, m, v); }
MF_INLINE VT vbcast(const float* p) { return _mm256_broadcast_ss(p); }
MF_INLINE VT vfma(VT a, VT b, VT c) { return _mm256_fmadd_ps(a, b, c); }
MF_INLINE VT vadd(VT a, VT b) { return _mm256_add_ps(a, b); }
MF_INLINE VT vmax(VT zero, VT v) { return _mm256_max_ps(zero, v); }
MF_INLINE MT vmask(int n) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
MF_INLINE VT vrelu_grad(VT a, VT b) {
  VT step = _mm256_and_ps(_mm256_cmp_ps(b, _mm256_setzero_ps(), _CMP_GT_OQ), _mm256_set1_ps(1.0f));
  step = _mm256_blendv_ps(step, b, _mm256_cmp_ps(b, b, _CMP_UNORD_Q));
  return _mm256_mul_ps(a, step);
}
struct DT {
  __m256d lo, hi;
};
MF_INLINE DT dload(const double* p) { return {_mm256_loadu_pd(p), _mm256_loadu_pd(p + 4)}; }
MF_INLINE void dstore(double* p, DT d) {
  _mm256_storeu_pd(p, d.lo);
  _mm256_storeu_pd(p + 4, d.hi);
}
MF_INLINE DT dadd(DT d, VT v) {
  return {_mm256_add_pd(d.lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v))), _mm256_add_pd(d.hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)))};
}
#include "gemm_tiles.inc"
#undef MF_VL
#undef MF_MR
#undef MF_CONV9_WIDE
#undef MF_CONV9_P1
}  // namespace mf_avx2
#pragma GCC pop_options

namespace mf {
namespace {

struct Isa {
  const char* name;
  int mr;      // rows of an indirect-GEMM tile (AVX-512: 11, as 12 made gcc spill a vector)
  int atb_mr;  // rows of a reduction (A^T B) tile
  void (*igemm_panel)(int, int, const float* const*, const float*, int64_t, int, float*, int64_t, int, const float*, int);
  void (*atb_block)(int, int, const float* const*, int, const float*, int64_t, int, float*, int64_t);
  void (*conv9_forward_row)(const Conv9Row&, int, const float*, int, const float*, int, float*);
  void (*conv9_filter_row)(const Conv9Row&, int, const float*, const float*, int, float*, double*);
};

Isa detect(const char* force) {
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const std::string want = force ? force : "";
  if (avx512 && (want.empty() || want == "avx512")) return {"avx512", 11, 12, mf_avx512::igemm_panel, mf_avx512::atb_block, mf_avx512::conv9_forward_row, mf_avx512::conv9_filter_row};
  if (avx2 && (want.empty() || want == "avx2" || want == "avx512")) return {"avx2", 6, 6, mf_avx2::igemm_panel, mf_avx2::atb_block, mf_avx2::conv9_forward_row, mf_avx2::conv9_filter_row};
  return {"none", 0, 0, nullptr, nullptr, nullptr, nullptr};
}

Isa& isa() {
  static Isa chosen = detect(std::getenv("MEDFUSION_GEMM_ISA"));
  return chosen;
}

// Zeros standing in for taps that fall into the padding (read only; grown before a parallel_for).
const float* zeros(size_t n) {
  static std::vector<float> z;
  if (z.size() < n) z.assign(n, 0.0f);
  return z.data();
}

// Scratch rows for the task running on this thread, kept between tasks and calls: tasks write what
// they read (a zeroed vector per task was ~40 MB of memset per input-gradient conv, ~5% of a
// training step on 2 threads). Not reentrant: one task at a time per thread uses it.
float* task_scratch(size_t floats) {
  thread_local std::vector<float> scratch;
  if (scratch.size() < floats) scratch.resize(floats);
  return scratch.data();
}

// The row-pointer table of the task running on this thread (as task_scratch: filled before use).
const float** task_table(size_t pointers) {
  thread_local std::vector<const float*> table;
  if (table.size() < pointers) table.resize(pointers);
  return table.data();
}

constexpr int PANELS_PER_TASK = 4;
// Products under this many multiply-adds run on the calling thread: waking a worker costs more.
constexpr int64_t PARALLEL_MIN_MACS = 1 << 18;
constexpr int COLUMN_BLOCK = 256;

// One indirect GEMM: rows [0, m) of C (ldc) = act(sum over segs of rows' inputs x B + bias);
// row_ptrs(m0, mvalid, table, scratch) fills table[s * MR + r] for the rows of one panel, and may
// point them into `scratch` (scratch_floats per panel, private to the task) for rows it builds.
template <typename RowPtrs>
void indirect_gemm(int64_t m, int segs, int ks, const float* b, int64_t ldb, int n, float* c, int64_t ldc, const float* bias,
                   int act, RowPtrs row_ptrs, bool parallel = true, size_t scratch_floats = 0) {
  const Isa& k = isa();
  const int mr = k.mr;
  const int64_t panels = (m + mr - 1) / mr;
  const int64_t tasks = (panels + PANELS_PER_TASK - 1) / PANELS_PER_TASK;
  auto task = [&](int64_t t, int) {
    const float** table = task_table(static_cast<size_t>(PANELS_PER_TASK) * segs * mr);
    float* scratch = task_scratch(PANELS_PER_TASK * scratch_floats);
    const int64_t p0 = t * PANELS_PER_TASK;
    const int64_t p1 = std::min(panels, p0 + PANELS_PER_TASK);
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t m0 = p * mr;
      row_ptrs(m0, static_cast<int>(std::min<int64_t>(mr, m - m0)), table + (p - p0) * segs * mr,
               scratch + (p - p0) * scratch_floats);
    }
    // Column blocks outer so one block of B stays in cache across the task's panels.
    for (int j = 0; j < n; j += COLUMN_BLOCK) {
      const int nb = std::min(COLUMN_BLOCK, n - j);
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t m0 = p * mr;
        k.igemm_panel(segs, ks, table + (p - p0) * segs * mr, b + j, ldb, nb, c + m0 * ldc + j, ldc,
                      static_cast<int>(std::min<int64_t>(mr, m - m0)), bias ? bias + j : nullptr, act);
      }
    }
  };
  if (parallel && m * n * static_cast<int64_t>(segs) * ks >= PARALLEL_MIN_MACS) {
    ThreadPool::instance().parallel_for(tasks, task);
  } else {
    for (int64_t t = 0; t < tasks; ++t) task(t, 0);
  }
}

constexpr int REDUCE_CHUNK = 256;
// Partial sums per parallel reduction: 4 per thread (fewer when there is less work), within
// 8 MiB of partials, never fewer than the threads. A function of the thread count and the shape only.
int64_t reduction_pieces(int64_t units, int64_t size) {
  const int64_t threads = ThreadPool::instance().threads();
  const int64_t by_memory = std::max<int64_t>(threads, (int64_t{8} << 20) / (static_cast<int64_t>(sizeof(float)) * std::max<int64_t>(1, size)) + 1);
  return std::max<int64_t>(1, std::min({units, 4 * threads, by_memory}));
}

// out[e] += partial[0][e] + ... + partial[count - 1][e], in that order, split over the pool.
void add_partials(float* out, const float* partial, int64_t count, int64_t size) {
  const int64_t blocks = (size + 4095) / 4096;
  auto block = [&](int64_t t, int) {
    const int64_t e0 = t * 4096, e1 = std::min(size, e0 + 4096);
    for (int64_t w = 0; w < count; ++w) {
      const float* p = partial + w * size;
      for (int64_t e = e0; e < e1; ++e) out[e] += p[e];
    }
  };
  if (size * count >= (int64_t{1} << 16)) ThreadPool::instance().parallel_for(blocks, block);
  else for (int64_t t = 0; t < blocks; ++t) block(t, 0);
}

// out[s][i][j] (segs x rows x cols, zeroed here) = sum over reduction rows q of a_s(q)[i] * b[q][j];
// a_ptrs(s, q0, count, table, scratch) fills table[0..count) with row pointers for segment s
// (each readable for `rows` floats), possibly into `scratch` (scratch_floats, private to the task).
template <typename APtrs>
void reduce_atb(int64_t q, int segs, int rows, const float* b, int64_t ldb, int cols, float* out, APtrs a_ptrs, size_t scratch_floats = 0) {
  const Isa& k = isa();
  ThreadPool& pool = ThreadPool::instance();
  const int64_t size = static_cast<int64_t>(segs) * rows * cols;
  const int64_t chunks = (q + REDUCE_CHUNK - 1) / REDUCE_CHUNK;
  // Partial results over fixed, contiguous ranges of chunks (the first is `out`): the summation
  // order, and so the result, does not depend on which thread took which piece. Several pieces
  // per thread, taken as threads come free: on a shared VM one core often runs slower than the
  // other, and one fixed half each made the faster wait (partials' memory is capped).
  const bool parallel = chunks > 1 && q * size >= PARALLEL_MIN_MACS && pool.threads() > 1;
  const int pieces = static_cast<int>(parallel ? reduction_pieces(chunks, size) : 1);
  std::memset(out, 0, sizeof(float) * size);
  std::vector<float> partial(pieces > 1 ? static_cast<size_t>(pieces - 1) * size : 0, 0.0f);
  auto chunk = [&](int64_t t, float* dst) {
    const int64_t q0 = t * REDUCE_CHUNK;
    const int count = static_cast<int>(std::min<int64_t>(REDUCE_CHUNK, q - q0));
    const float* table[REDUCE_CHUNK];
    float* scratch = task_scratch(scratch_floats);
    for (int s = 0; s < segs; ++s) {
      a_ptrs(s, q0, count, table, scratch);
      for (int i = 0; i < rows; i += k.atb_mr)
        k.atb_block(std::min(k.atb_mr, rows - i), count, table, i, b + q0 * ldb, ldb, cols, dst + (static_cast<int64_t>(s) * rows + i) * cols, cols);
    }
  };
  if (pieces > 1) {
    pool.parallel_for(pieces, [&](int64_t piece, int) {
      float* dst = piece == 0 ? out : partial.data() + (piece - 1) * size;
      for (int64_t t = chunks * piece / pieces; t < chunks * (piece + 1) / pieces; ++t) chunk(t, dst);
    });
    add_partials(out, partial.data(), pieces - 1, size);
  } else {
    for (int64_t t = 0; t < chunks; ++t) chunk(t, out);
  }
}

// Inputs with few channels (an image's first layer) make one tap's row too short to amortize a
// tile's per-tap work; those rows are gathered whole (taps x channels, zero padded) instead.
constexpr int GATHER_MAX_CHANNELS = 4;

// The output pixel (image, row, column) of consecutive GEMM rows, without a division per row.
struct PixelCursor {
  int64_t img;
  int y, x;
  const int h, w;
  PixelCursor(int64_t row, int height, int width)
      : img(row / (static_cast<int64_t>(height) * width)), y(static_cast<int>((row / width) % height)), x(static_cast<int>(row % width)), h(height), w(width) {}
  void next() {
    if (++x == w) {
      x = 0;
      if (++y == h) y = 0, ++img;
    }
  }
};

// Writes the im2col rows (kh * kw * c floats each, zero padded) of `count` consecutive output
// pixels from `row` on, `stride` floats apart. C is the channel count, known at compile time so the
// copies of a window's interior rows (kw * C contiguous floats) are short fixed loops.
template <int C>
void gather_windows_c(const ConvShape& g, const float* x, int64_t row, int count, float* dst, size_t stride) {
  PixelCursor p(row, g.oh, g.ow);
  const int run = g.kw * C;
  for (int i = 0; i < count; ++i, p.next(), dst += stride) {
    float* d = dst;
    const int iy0 = p.y * g.sh - g.pt, ix0 = p.x * g.sw - g.pl;
    const float* img = x + p.img * g.h * g.w * C;
    if (g.dw == 1 && iy0 >= 0 && iy0 + (g.kh - 1) * g.dh < g.h && ix0 >= 0 && ix0 + g.kw - 1 < g.w) {
      for (int ky = 0; ky < g.kh; ++ky, d += run) {
        const float* src = img + (static_cast<int64_t>(iy0 + ky * g.dh) * g.w + ix0) * C;
        for (int e = 0; e < run; ++e) d[e] = src[e];
      }
      continue;
    }
    for (int ky = 0; ky < g.kh; ++ky) {
      const int iy = iy0 + ky * g.dh;
      const bool row_inside = iy >= 0 && iy < g.h;
      for (int kx = 0; kx < g.kw; ++kx, d += C) {
        const int ix = ix0 + kx * g.dw;
        if (row_inside && ix >= 0 && ix < g.w) {
          const float* src = img + (static_cast<int64_t>(iy) * g.w + ix) * C;
          for (int ci = 0; ci < C; ++ci) d[ci] = src[ci];
        } else {
          for (int ci = 0; ci < C; ++ci) d[ci] = 0.0f;
        }
      }
    }
  }
}

inline void gather_windows(const ConvShape& g, const float* x, int64_t row, int count, float* dst, size_t stride) {
  switch (g.c) {
    case 1: return gather_windows_c<1>(g, x, row, count, dst, stride);
    case 2: return gather_windows_c<2>(g, x, row, count, dst, stride);
    case 3: return gather_windows_c<3>(g, x, row, count, dst, stride);
    default: return gather_windows_c<4>(g, x, row, count, dst, stride);
  }
}

// With dilation 1 along x, a kernel row's kw taps read kw neighbouring pixels: kw * c contiguous
// floats. One segment per kernel row (instead of per tap) gives the register tile kw times longer
// runs between pointer switches; rows whose window crosses the left or right edge are copied to
// scratch with zeros for the missing pixels.
inline const float* kernel_row(const float* image_row, int x0, int kw, int w, int c, float* scratch) {
  if (x0 >= 0 && x0 + kw <= w) return image_row + static_cast<int64_t>(x0) * c;
  for (int k = 0; k < kw; ++k) {
    const int xk = x0 + k;
    if (xk >= 0 && xk < w) std::memcpy(scratch + k * c, image_row + static_cast<int64_t>(xk) * c, sizeof(float) * c);
    else std::memset(scratch + k * c, 0, sizeof(float) * c);
  }
  return scratch;
}

// The three input rows of output row `oy` of image `img` (null where outside the image).
inline Conv9Row conv9_rows(const ConvShape& g, const float* x, int64_t img, int oy) {
  Conv9Row r{{nullptr, nullptr, nullptr}, g.w, g.sw, g.pl, g.dw};
  for (int ky = 0; ky < 3; ++ky) {
    const int iy = oy * g.sh - g.pt + ky * g.dh;
    r.rows[ky] = iy >= 0 && iy < g.h ? x + (img * g.h + iy) * g.w : nullptr;
  }
  return r;
}

inline bool is_conv9(const ConvShape& g) { return g.c == 1 && g.kh == 3 && g.kw == 3; }

void conv9_forward(const ConvShape& g, const float* x, const float* w, const float* bias, int act, float* y) {
  const int64_t rows = static_cast<int64_t>(g.n) * g.oh;
  auto row = [&](int64_t r, int) {
    const int64_t img = r / g.oh;
    const int oy = static_cast<int>(r % g.oh);
    isa().conv9_forward_row(conv9_rows(g, x, img, oy), g.ow, w, g.o, bias, act, y + r * g.ow * g.o);
  };
  if (rows * g.ow * g.o * 9 < PARALLEL_MIN_MACS) {
    for (int64_t r = 0; r < rows; ++r) row(r, 0);
    return;
  }
  // Several rows per task: one row of the reference model's first layer is ~0.2 us of work, less
  // than claiming it from the other core (a task per row ran no faster on 2 threads than on 1).
  const int64_t per_task = std::max<int64_t>(1, rows / (8 * ThreadPool::instance().threads()));
  ThreadPool::instance().parallel_for((rows + per_task - 1) / per_task, [&](int64_t t, int worker) {
    for (int64_t r = t * per_task; r < std::min(rows, (t + 1) * per_task); ++r) row(r, worker);
  });
}

// y, db: null, or the forward's relu output (dy is then masked by its step) and the bias gradient.
void conv9_filter(const ConvShape& g, const float* x, const float* dy, const float* y, float* dw, float* db) {
  ThreadPool& pool = ThreadPool::instance();
  const int64_t rows = static_cast<int64_t>(g.n) * g.oh;
  const size_t size = static_cast<size_t>(9) * g.o;
  const size_t bias_size = static_cast<size_t>((g.o + 31) / 32 * 32);  // whole vectors of either ISA
  const bool parallel = rows * g.ow * g.o * 9 >= PARALLEL_MIN_MACS && pool.threads() > 1;
  const int pieces = static_cast<int>(parallel ? reduction_pieces(rows, static_cast<int64_t>(size)) : 1);
  std::memset(dw, 0, sizeof(float) * size);
  std::vector<float> partial((pieces - 1) * size, 0.0f);
  std::vector<double> bias_acc(y ? pieces * bias_size : 0, 0.0);
  // Fixed row ranges per partial result: the same summation order in every run.
  auto piece_rows = [&](int64_t piece, int) {
    float* dst = piece == 0 ? dw : partial.data() + (piece - 1) * size;
    double* bias_dst = y ? bias_acc.data() + piece * bias_size : nullptr;
    for (int64_t r = rows * piece / pieces; r < rows * (piece + 1) / pieces; ++r) {
      const int64_t img = r / g.oh;
      const int oy = static_cast<int>(r % g.oh);
      const int64_t at = r * g.ow * g.o;
      isa().conv9_filter_row(conv9_rows(g, x, img, oy), g.ow, dy + at, y ? y + at : nullptr, g.o, dst, bias_dst);
    }
  };
  if (!parallel) piece_rows(0, 0);
  else pool.parallel_for(pieces, piece_rows);
  add_partials(dw, partial.data(), pieces - 1, static_cast<int64_t>(size));
  if (!y) return;
  for (int c = 0; c < g.o; ++c) {
    double s = 0;
    for (int p = 0; p < pieces; ++p) s += bias_acc[p * bias_size + c];
    db[c] = static_cast<float>(s);
  }
}

}  // namespace

const char* gemm_isa() { return isa().name; }

void set_compute_threads(int n) { ThreadPool::instance().set_threads(n); }

int compute_threads() { return ThreadPool::instance().threads(); }

void conv2d_forward(const ConvShape& g, const float* x, const float* w, const float* bias, int act, float* y) {
  const int taps = g.kh * g.kw;
  const int64_t m = static_cast<int64_t>(g.n) * g.oh * g.ow;
  const int mr = isa().mr;
  if (is_conv9(g)) return conv9_forward(g, x, w, bias, act, y);
  if (g.dw == 1 && g.c > GATHER_MAX_CHANNELS) {
    const int run = g.kw * g.c;
    const float* zero = zeros(run);
    indirect_gemm(
        m, g.kh, run, w, g.o, g.o, y, g.o, bias, act,
        [&](int64_t m0, int mvalid, const float** table, float* scratch) {
          PixelCursor p(m0, g.oh, g.ow);
          for (int r = 0; r < mr; ++r, p.next()) {
            for (int ky = 0; ky < g.kh; ++ky) {
              const int iy = p.y * g.sh - g.pt + ky * g.dh;
              const bool inside = r < mvalid && iy >= 0 && iy < g.h;
              table[ky * mr + r] = inside ? kernel_row(x + ((p.img * g.h + iy) * g.w) * g.c, p.x * g.sw - g.pl, g.kw, g.w, g.c,
                                                       scratch + static_cast<size_t>(r * g.kh + ky) * run)
                                          : zero;
            }
          }
        },
        true, static_cast<size_t>(mr) * g.kh * run);
    return;
  }
  if (g.c <= GATHER_MAX_CHANNELS) {
    const int kk = taps * g.c;
    const float* zero = zeros(kk);
    indirect_gemm(
        m, 1, kk, w, g.o, g.o, y, g.o, bias, act,
        [&](int64_t m0, int mvalid, const float** table, float* scratch) {
          gather_windows(g, x, m0, mvalid, scratch, kk);
          for (int r = 0; r < mr; ++r) table[r] = r < mvalid ? scratch + r * kk : zero;
        },
        true, static_cast<size_t>(mr) * kk);
    return;
  }
  const float* zero = zeros(g.c);
  indirect_gemm(m, taps, g.c, w, g.o, g.o, y, g.o, bias, act, [&](int64_t m0, int mvalid, const float** table, float*) {
    for (int r = 0; r < mr; ++r) {
      if (r >= mvalid) {
        for (int s = 0; s < taps; ++s) table[s * mr + r] = zero;
        continue;
      }
      const int64_t row = m0 + r;
      const int ox = static_cast<int>(row % g.ow);
      const int oy = static_cast<int>((row / g.ow) % g.oh);
      const int64_t img = row / (static_cast<int64_t>(g.ow) * g.oh);
      for (int ky = 0; ky < g.kh; ++ky) {
        const int iy = oy * g.sh - g.pt + ky * g.dh;
        for (int kx = 0; kx < g.kw; ++kx) {
          const int ix = ox * g.sw - g.pl + kx * g.dw;
          const bool inside = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
          table[(ky * g.kw + kx) * mr + r] = inside ? x + ((img * g.h + iy) * g.w + ix) * g.c : zero;
        }
      }
    }
  });
}

void conv2d_backprop_input(const ConvShape& g, const float* dy, const float* w, float* dx) {
  // Strided input gradients would multiply mostly zeros: the caller runs onnxruntime's ConvTranspose.
  if (g.sw != 1 || g.dw != 1) throw std::invalid_argument("conv input gradient: only stride 1 and dilation 1 along x are supported");
  const int taps = g.kh * g.kw;
  // Kernel rows as segments: for input column ix, taps kx = kw-1..0 read dy columns
  // ox0..ox0+kw-1 (ox0 = ix + pl - kw + 1), so B holds the taps of each row in reverse:
  // B[ky][kw-1-kx][o][c] = w[ky][kx][c][o].
  std::vector<float> wt(static_cast<size_t>(taps) * g.o * g.c);
  for (int ky = 0; ky < g.kh; ++ky)
    for (int kx = 0; kx < g.kw; ++kx)
      for (int ci = 0; ci < g.c; ++ci)
        for (int o = 0; o < g.o; ++o)
          wt[((static_cast<size_t>(ky) * g.kw + (g.kw - 1 - kx)) * g.o + o) * g.c + ci] = w[((static_cast<size_t>(ky) * g.kw + kx) * g.c + ci) * g.o + o];
  const int run = g.kw * g.o;
  const float* zero = zeros(run);
  const int64_t m = static_cast<int64_t>(g.n) * g.h * g.w;
  const int mr = isa().mr;
  indirect_gemm(
      m, g.kh, run, wt.data(), g.c, g.c, dx, g.c, nullptr, 0,
      [&](int64_t m0, int mvalid, const float** table, float* scratch) {
        PixelCursor p(m0, g.h, g.w);
        for (int r = 0; r < mr; ++r, p.next()) {
          for (int ky = 0; ky < g.kh; ++ky) {
            const int ty = p.y + g.pt - ky * g.dh;
            const int oy = ty >= 0 && ty % g.sh == 0 ? ty / g.sh : -1;
            const bool inside = r < mvalid && oy >= 0 && oy < g.oh;
            table[ky * mr + r] = inside ? kernel_row(dy + ((p.img * g.oh + oy) * g.ow) * g.o, p.x + g.pl - g.kw + 1, g.kw, g.ow, g.o,
                                                     scratch + static_cast<size_t>(r * g.kh + ky) * run)
                                        : zero;
          }
        }
      },
      true, static_cast<size_t>(mr) * g.kh * run);
}

bool conv2d_backprop_filter_relu_bias(const ConvShape& g, const float* x, const float* dy, const float* y, float* dw, float* db) {
  if (!is_conv9(g)) return false;
  conv9_filter(g, x, dy, y, dw, db);
  return true;
}

void conv2d_backprop_filter(const ConvShape& g, const float* x, const float* dy, float* dw) {
  const int64_t q = static_cast<int64_t>(g.n) * g.oh * g.ow;
  if (is_conv9(g)) return conv9_filter(g, x, dy, nullptr, dw, nullptr);
  if (g.dw == 1 && g.c > GATHER_MAX_CHANNELS) {
    // One segment per kernel row: rows (kx, c) of dw[ky] are kw * c contiguous input floats.
    const int run = g.kw * g.c;
    const float* zero = zeros(run);
    reduce_atb(
        q, g.kh, run, dy, g.o, g.o, dw,
        [&](int ky, int64_t q0, int count, const float** table, float* scratch) {
          PixelCursor p(q0, g.oh, g.ow);
          for (int i = 0; i < count; ++i, p.next()) {
            const int iy = p.y * g.sh - g.pt + ky * g.dh;
            table[i] = iy >= 0 && iy < g.h ? kernel_row(x + ((p.img * g.h + iy) * g.w) * g.c, p.x * g.sw - g.pl, g.kw, g.w, g.c, scratch + static_cast<size_t>(i) * run)
                                           : zero;
          }
        },
        static_cast<size_t>(REDUCE_CHUNK) * run);
    return;
  }
  if (g.c <= GATHER_MAX_CHANNELS) {
    // One "tap" of kh * kw * c rows: the gathered windows, laid out as dw is ([kh, kw, c, o]).
    const int kk = g.kh * g.kw * g.c;
    reduce_atb(
        q, 1, kk, dy, g.o, g.o, dw,
        [&](int, int64_t q0, int count, const float** table, float* scratch) {
          gather_windows(g, x, q0, count, scratch, kk);
          for (int i = 0; i < count; ++i) table[i] = scratch + static_cast<size_t>(i) * kk;
        },
        static_cast<size_t>(REDUCE_CHUNK) * kk);
    return;
  }
  const float* zero = zeros(g.c);
  reduce_atb(q, g.kh * g.kw, g.c, dy, g.o, g.o, dw, [&](int s, int64_t q0, int count, const float** table, float*) {
    const int ky = s / g.kw, kx = s % g.kw;
    for (int i = 0; i < count; ++i) {
      const int64_t row = q0 + i;
      const int ox = static_cast<int>(row % g.ow);
      const int oy = static_cast<int>((row / g.ow) % g.oh);
      const int64_t img = row / (static_cast<int64_t>(g.ow) * g.oh);
      const int iy = oy * g.sh - g.pt + ky * g.dh;
      const int ix = ox * g.sw - g.pl + kx * g.dw;
      const bool inside = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
      table[i] = inside ? x + ((img * g.h + iy) * g.w + ix) * g.c : zero;
    }
  });
}

void batch_matmul(const MatmulShape& s, const float* a, const float* b, const float* bias, int act, float* c) {
  // Transposed operands are copied to row-major first: O(size) against the product's O(m k n).
  std::vector<float> at, bt;
  const int64_t sa = static_cast<int64_t>(s.m) * s.k, sb = static_cast<int64_t>(s.k) * s.n;
  if (s.trans_a) {
    at.resize(static_cast<size_t>(s.batch_a) * sa);
    for (int64_t bi = 0; bi < s.batch_a; ++bi)
      for (int kk = 0; kk < s.k; ++kk)
        for (int i = 0; i < s.m; ++i) at[bi * sa + static_cast<int64_t>(i) * s.k + kk] = a[bi * sa + static_cast<int64_t>(kk) * s.m + i];
    a = at.data();
  }
  if (s.trans_b) {
    bt.resize(static_cast<size_t>(s.batch_b) * sb);
    for (int64_t bi = 0; bi < s.batch_b; ++bi)
      for (int j = 0; j < s.n; ++j)
        for (int kk = 0; kk < s.k; ++kk) bt[bi * sb + static_cast<int64_t>(kk) * s.n + j] = b[bi * sb + static_cast<int64_t>(j) * s.k + kk];
    b = bt.data();
  }
  const int64_t batch = std::max(s.batch_a, s.batch_b);
  const int mr = isa().mr;
  const float* zero = zeros(s.k);
  // Batches whose B is shared fold into one tall GEMM; otherwise one GEMM per batch.
  if (s.batch_b == 1) {
    indirect_gemm(batch * s.m, 1, s.k, b, s.n, s.n, c, s.n, bias, act, [&](int64_t m0, int mvalid, const float** table, float*) {
      for (int r = 0; r < mr; ++r) {
        const int64_t row = m0 + r;
        table[r] = r < mvalid ? a + (s.batch_a == 1 ? row % s.m : row) * s.k : zero;
      }
    });
    return;
  }
  // Many small products (attention heads): one task per batch; few large ones: split each.
  const bool per_batch = batch >= ThreadPool::instance().threads() && batch * s.m * s.n * static_cast<int64_t>(s.k) >= PARALLEL_MIN_MACS;
  auto one = [&](int64_t bi, bool parallel) {
    const float* ab = a + (s.batch_a == 1 ? 0 : bi * sa);
    indirect_gemm(
        s.m, 1, s.k, b + bi * sb, s.n, s.n, c + bi * static_cast<int64_t>(s.m) * s.n, s.n, bias, act,
        [&](int64_t m0, int mvalid, const float** table, float*) {
          for (int r = 0; r < mr; ++r) table[r] = r < mvalid ? ab + (m0 + r) * s.k : zero;
        },
        parallel);
  };
  if (per_batch) {
    ThreadPool::instance().parallel_for(batch, [&](int64_t bi, int) { one(bi, false); });
  } else {
    for (int64_t bi = 0; bi < batch; ++bi) one(bi, true);
  }
}

}  // namespace mf
