#pragma once
// CUDA implementations of kernels/ops.h: the same ops with the same signatures, in namespace
// v4eval::kernels::cuda. Every pointer is device memory, except that sample_token returns its
// token on the host. Work is enqueued on the stream of kernels/cuda/stream.h (default: the
// legacy default stream) and is asynchronous unless noted; errors (bad launch, bad argument)
// throw std::runtime_error. Contracts and rounding points are those of ops.h; README.md
// (CUDA section) lists where a kernel's accumulation order differs from the CPU reference.

#include <cstdint>

#include "kernels/ops.h"

namespace v4eval::kernels::cuda {

using bf16 = uint16_t;

void a8_quantize(const bf16* x, int64_t rows, int64_t k, uint8_t* codes, uint8_t* scales);
void fp8_linear(const bf16* x, int64_t rows, int64_t k, const uint8_t* w_codes,
                const uint8_t* w_scales, int64_t n, bf16* y);
void fp4_linear(const bf16* x, int64_t rows, int64_t k, const uint8_t* w_packed,
                const uint8_t* w_scales, int64_t n, bf16* y);
void k8_simulate(bf16* x, int64_t rows, int64_t row_stride, int64_t dims);
void q4_simulate(bf16* x, int64_t rows, int64_t row_stride, int64_t dims);
void rms_norm(const bf16* x, int64_t rows, int64_t dim, const bf16* w, float eps, bf16* y);
void hadamard(float* x, int64_t rows, int64_t n);
// Computed on the host by the CPU reference (bit-identical table), then copied to `freqs`.
void rope_frequencies(int64_t rope_dim, double base, double yarn_factor,
                      int64_t original_max_position, double beta_fast, double beta_slow,
                      float* freqs);
void rope_rotate(bf16* x, int64_t rows, int64_t row_stride, int64_t dim, int64_t rope_dim,
                 const int64_t* positions, const float* freqs, bool inverse);
void sinkhorn(float* c, int64_t hc, int64_t iters, float eps);
void bf16_linear(const bf16* x, int64_t rows, int64_t k, const bf16* w, int64_t n, bf16* y);
void f32_linear(const bf16* x, int64_t rows, int64_t k, const bf16* w, int64_t n, float* y);
void mhc_pre(const bf16* h, int64_t rows, int64_t hc, int64_t d, const float* fn,
             const float* base, const float* scale, int64_t sinkhorn_iters, float hc_eps,
             float norm_eps, float* pre, float* post, float* comb);
void mhc_head_pre(const bf16* h, int64_t rows, int64_t hc, int64_t d, const float* fn,
                  const float* base, const float* scale, float hc_eps, float norm_eps,
                  float* pre);
void mhc_collapse(const bf16* h, int64_t rows, int64_t hc, int64_t d, const float* pre,
                  bf16* x);
void mhc_expand(const bf16* h, const bf16* y, int64_t rows, int64_t hc, int64_t d,
                const float* post, const float* comb, bf16* out);
void head_rms_norm_bf16(bf16* x, int64_t rows, int64_t heads, int64_t dim, float eps);
void sparse_attention(const bf16* q, int64_t rows, int64_t heads, int64_t dim, const bf16* kv,
                      const int32_t* key_idx, int64_t max_keys, const float* sink, float scale,
                      bf16* out);
void compress_pool(const float* a, const float* z, int64_t entries, int64_t slots,
                   int64_t width, bf16* v);
void indexer_scores(const bf16* q, const bf16* w, int64_t rows, int64_t heads, int64_t dim,
                    const bf16* keys, int64_t n_keys, const int64_t* n_visible, float* scores);
void topk_indices(const float* scores, int64_t rows, int64_t n, const int64_t* n_visible,
                  int64_t k, int32_t* idx);
void moe_route(const float* logits, int64_t rows, int64_t n_experts, int64_t k,
               const float* bias, const int64_t* hash_ids, float route_scale, int32_t* experts,
               float* weights);
void swiglu_clamped(const bf16* a, const bf16* b, int64_t rows, int64_t n, float limit,
                    const float* row_weight, bf16* u);
// Synchronises the stream: logits are on the device, the token comes back to the host.
int64_t sample_token(const float* logits, int64_t vocab, float temperature, float top_p,
                     double u);

}  // namespace v4eval::kernels::cuda
