// Convolutions and matrix multiplies of the onnx-cpu backend, on TF.js's NHWC / row-major float32
// arrays (see conv_gemm.cc for how). All run on the addon's thread pool.
#pragma once

#include <cstdint>

namespace mf {

// NHWC input [n, h, w, c], HWIO filter [kh, kw, c, o], NHWC output [n, oh, ow, o].
struct ConvShape {
  int n, h, w, c, kh, kw, oh, ow, o, sh, sw, dh, dw, pt, pl;
};

// C[batch] = op(A[batch]) x op(B[batch]); an operand with batch 1 is shared by every batch.
// Without transposes A is [m, k] and B [k, n]; trans_a: A is [k, m]; trans_b: B is [n, k].
struct MatmulShape {
  int64_t batch_a, batch_b;
  int m, k, n;
  bool trans_a, trans_b;
};

// Activation fused into an output: 0 none, 1 relu.
enum FusedActivation { ACT_NONE = 0, ACT_RELU = 1 };

// "avx512", "avx2" or "none" (then these kernels must not be called). MEDFUSION_GEMM_ISA=avx2
// forces the AVX2 kernels on an AVX-512 machine (for tests).
const char* gemm_isa();
void set_compute_threads(int n);
int compute_threads();

void conv2d_forward(const ConvShape& g, const float* x, const float* w, const float* bias, int act, float* y);
void conv2d_backprop_input(const ConvShape& g, const float* dy, const float* w, float* dx);
void conv2d_backprop_filter(const ConvShape& g, const float* x, const float* dy, float* dw);
// The filter and bias gradients of a relu-activated convolution from its output's gradient dy
// and its output y: dz = dy * step(y) is never stored. Only 3x3 filters on one-channel inputs
// (a grayscale image's first layer, whose input needs no gradient); false for other shapes.
bool conv2d_backprop_filter_relu_bias(const ConvShape& g, const float* x, const float* dy, const float* y, float* dw, float* db);
// bias: [n] added to every row, or null.
void batch_matmul(const MatmulShape& s, const float* a, const float* b, const float* bias, int act, float* c);

}  // namespace mf
