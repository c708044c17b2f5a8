#pragma once
// The numeric ops of the DeepSeek-V4 model (v4-model.md §3), one signature per op, with a CPU
// reference implementation in kernels/cpu/. Plain pointers and sizes, row-major, so that a CUDA
// implementation can keep the signatures. Activations are BF16 stored as uint16_t.
//
// Written so far (issue 5, in progress): activation and KV quantisation, the FP8 block-scaled
// and FP4 group-scaled linears, RMSNorm, the Hadamard transform, RoPE frequencies with YaRN and the rotation, and the
// mHC Sinkhorn projection. Not yet: BF16/FP32 linears, compressor, indexer, attention, MoE,
// sampling.

#include <cstdint>

namespace v4eval::kernels {

using bf16 = uint16_t;

// A8 (§3.0): quantises each row of x [rows, k] (k a multiple of 128) in groups of 128 along k:
// codes [rows, k] E4M3 and scales [rows, k/128] E8M0 (power-of-two, bit-exact recipe).
void a8_quantize(const bf16* x, int64_t rows, int64_t k, uint8_t* codes, uint8_t* scales);

// FP8 linear (§3.0): y [rows, n] (BF16) = W · A8(x), W [n, k] E4M3 codes with E8M0 block scales
// [ceil(n/128), k/128]; FP32 accumulation, product of codes times both scales per 128-chunk.
void fp8_linear(const bf16* x, int64_t rows, int64_t k, const uint8_t* w_codes,
                const uint8_t* w_scales, int64_t n, bf16* y);

// FP4 linear (§3.0, routed experts): y [rows, n] (BF16) = W · A8(x), W [n, k] packed E2M1
// (element 2j in the low nibble of byte j; [n, k/2] bytes) with E8M0 group scales [n, k/32];
// FP32 accumulation, weight scale per 32-chunk and activation scale per 128-chunk of K.
void fp4_linear(const bf16* x, int64_t rows, int64_t k, const uint8_t* w_packed,
                const uint8_t* w_scales, int64_t n, bf16* y);

// Quantise-dequantise in place in groups of `group` with max code `max_code`: K8 (group 64,
// E4M3, 448) applied to the first `dims` values of each row; Q4 (group 32, E2M1, 6).
void k8_simulate(bf16* x, int64_t rows, int64_t row_stride, int64_t dims);
void q4_simulate(bf16* x, int64_t rows, int64_t row_stride, int64_t dims);

// RMSNorm (§3.0): y = w ⊙ x · (mean(x²) + eps)^-½ in FP32, rounded to BF16. w may be null
// (unweighted).
void rms_norm(const bf16* x, int64_t rows, int64_t dim, const bf16* w, float eps, bf16* y);

// Normalised Walsh–Hadamard transform (Sylvester order) of each n-vector in place, FP32,
// y = H x / sqrt(n); n a power of two.
void hadamard(float* x, int64_t rows, int64_t n);

// RoPE frequencies ω'_i, i < rope_dim/2 (§3.5), FP32 as the reference computes them:
// yarn_factor <= 1 means no YaRN (the "main" table).
void rope_frequencies(int64_t rope_dim, double base, double yarn_factor,
                      int64_t original_max_position, double beta_fast, double beta_slow,
                      float* freqs);

// Rotates the last rope_dim values of each row (interleaved pairs) by angle fp32(pos)·freq
// (inverse: by −angle), FP32 on BF16 inputs, rounded to BF16. positions: one per row.
void rope_rotate(bf16* x, int64_t rows, int64_t row_stride, int64_t dim, int64_t rope_dim,
                 const int64_t* positions, const float* freqs, bool inverse);

// mHC comb (§3.2 step 5): c [hc, hc] logits in, Sinkhorn-projected matrix out (in place):
// row softmax + eps, column normalise, then (iters − 1) × (row, column) normalisation.
void sinkhorn(float* c, int64_t hc, int64_t iters, float eps);

}  // namespace v4eval::kernels
