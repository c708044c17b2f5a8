#pragma once
// The numeric ops of the DeepSeek-V4 model (v4-model.md §3), one signature per op, with a CPU
// reference implementation in kernels/cpu/. Plain pointers and sizes, row-major, so that a CUDA
// implementation can keep the signatures. Activations are BF16 stored as uint16_t.
//
// Conventions: every pointer is host memory for the CPU reference (kernels/cpu/) and device
// memory for the CUDA implementation (kernels/cuda/, namespace v4eval::kernels::cuda, same
// signatures). Shapes are row-major; "rows" are tokens. FP32 scratch is the callee's business.

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

// ---- Linears that are not block-quantised (§3.0) --------------------------------------------

// BF16 linear: y [rows, n] BF16 = W [n, k] BF16 · x [rows, k] BF16, FP32 accumulation, one
// rounding to BF16 (wo_a after scale folding, indexer.weights_proj). Summation order of the CPU
// reference (both dense linears): element i into lane i mod 16, each lane sequential, then
// lanes 0..15 summed in order.
void bf16_linear(const bf16* x, int64_t rows, int64_t k, const bf16* w, int64_t n, bf16* y);

// FP32 linear with a BF16 weight: y [rows, n] FP32 = fp32(W [n, k]) · fp32(x [rows, k])
// (router gate, compressor wkv/wgate, final head).
void f32_linear(const bf16* x, int64_t rows, int64_t k, const bf16* w, int64_t n, float* y);

// ---- mHC (§3.2, §3.11) ----------------------------------------------------------------------

// Steps 1–5 for each row: h [rows, hc, d] BF16 streams; fn [(2 + hc)·hc, hc·d] F32, base
// [(2 + hc)·hc], scale [3]. m = (fn · flatten(h)) · (mean(f²) + norm_eps)^-½;
// pre [rows, hc] = sigmoid(scale0·m_pre + base) + hc_eps; post [rows, hc] = 2·sigmoid(...);
// comb [rows, hc, hc] = Sinkhorn(scale2·m_comb + base, iters, hc_eps), all FP32.
void mhc_pre(const bf16* h, int64_t rows, int64_t hc, int64_t d, const float* fn,
             const float* base, const float* scale, int64_t sinkhorn_iters, float hc_eps,
             float norm_eps, float* pre, float* post, float* comb);

// §3.11 step 1: the final head's weights, pre [rows, hc] = sigmoid(scale0·m + base) + hc_eps
// with m = (fn [hc, hc·d] · f) · (mean(f²) + norm_eps)^-½ (no post, no Sinkhorn).
void mhc_head_pre(const bf16* h, int64_t rows, int64_t hc, int64_t d, const float* fn,
                  const float* base, const float* scale, float hc_eps, float norm_eps,
                  float* pre);

// Step 6 (collapse): x [rows, d] = bf16(Σ_j pre_j · h[j]), FP32 sum.
void mhc_collapse(const bf16* h, int64_t rows, int64_t hc, int64_t d, const float* pre,
                  bf16* x);

// Step 7 (expand/mix): out[k] = bf16(post_k · y + Σ_j comb[j][k] · h[j]) for k < hc (note the
// transposed use of comb); y [rows, d], h and out [rows, hc, d]; out may not alias h.
void mhc_expand(const bf16* h, const bf16* y, int64_t rows, int64_t hc, int64_t d,
                const float* post, const float* comb, bf16* out);

// ---- Attention (§3.4) -----------------------------------------------------------------------

// Per-head unweighted RMS norm of the query in BF16 arithmetic at every step (§3.14), as the
// reference's in-place `q *= rsqrt(q.square().mean(-1) + eps)`: squares, mean (FP32 sum, one
// rounding), + eps, rsqrt and the product each rounded to BF16. x [rows, heads, dim] in place.
void head_rms_norm_bf16(bf16* x, int64_t rows, int64_t heads, int64_t dim, float eps);

// Attention with a sink over gathered keys (§3.4 steps 5–6, the official sparse_attn): q
// [rows, heads, dim]; kv [n_kv, dim] (key = value); key_idx [rows, max_keys] int32 indices into
// kv, −1 = no key (padding, anywhere in the row). s_j = (q · k_j)·scale in FP32 (the dot
// summed in index order). As the official kernel: online softmax over tiles of 64 key slots;
// per tile m' = max(m, max s_j), acc ← acc·exp(m − m') + Σ_j bf16(exp(s_j − m'))·k_j and
// den ← den·exp(m − m') + Σ_j exp(s_j − m') (unrounded), m ← m' (sums in key order); finally
// o = bf16(acc / (den + exp(sink_h − m))), i.e. the unnormalised exponentials (not the
// probabilities) are rounded to BF16 for P·V. out [rows, heads, dim] BF16. A row without keys
// gives zeros.
void sparse_attention(const bf16* q, int64_t rows, int64_t heads, int64_t dim, const bf16* kv,
                      const int32_t* key_idx, int64_t max_keys, const float* sink, float scale,
                      bf16* out);

// ---- Compressor and lightning indexer (§3.6, §3.7) ------------------------------------------

// Softmax pooling of compressed entries: a, z [entries, slots, width] FP32 (values and gate
// logits; a slot with z = −inf is absent); v [entries, width] = bf16(Σ_slot softmax_slot(z)·a)
// per channel, FP32 arithmetic. The caller assembles the slots (overlap: block b−1's A halves
// then block b's B halves; non-overlap: the m tokens of the block) with ape already added.
void compress_pool(const float* a, const float* z, int64_t entries, int64_t slots,
                   int64_t width, bf16* v);

// Indexer scores (§3.7 step 4): q [rows, heads, dim] and keys [n_keys, dim] (both after Had
// and Q4), w [rows, heads] (already scaled). For b < n_visible[row]:
// scores[row, b] = Σ_h bf16(bf16(ReLU(bf16(q_h · k_b))) · w_h) summed in FP32 and rounded to
// BF16 (the reference's BF16 materialisation); −inf for b ≥ n_visible[row]. scores
// [rows, n_keys] FP32 holding BF16 values.
void indexer_scores(const bf16* q, const bf16* w, int64_t rows, int64_t heads, int64_t dim,
                    const bf16* keys, int64_t n_keys, const int64_t* n_visible, float* scores);

// Top-k per row of scores [rows, n] among the first n_visible[row] entries: idx [rows, k]
// holds the indices of the min(k, n_visible) largest in torch.topk's order, larger score
// first, ties towards the lower index (§3.14), padded with −1. The order matters downstream:
// sparse_attention rounds per tile of 64 keys.
void topk_indices(const float* scores, int64_t rows, int64_t n, const int64_t* n_visible,
                  int64_t k, int32_t* idx);

// ---- MoE (§3.10) ----------------------------------------------------------------------------

// Router: logits [rows, n_experts] FP32 → experts [rows, k] and weights [rows, k] FP32.
// σ = sqrt(softplus(l)) (softplus(v) = v for v > 20). Selection: hash_ids [rows, k] (tid2eid
// rows for hash layers) when non-null, else the k largest σ + bias (ties to the lower index,
// listed in descending order of σ + bias). Weights σ_e / Σ_S σ · route_scale.
void moe_route(const float* logits, int64_t rows, int64_t n_experts, int64_t k,
               const float* bias, const int64_t* hash_ids, float route_scale, int32_t* experts,
               float* weights);

// Clamped SwiGLU (§3.10 step 4): a = W1·x, b = W3·x [rows, n] BF16; u [rows, n] =
// bf16(silu(min(a, limit)) · clamp(b, −limit, limit) · row_weight[row]) in FP32; row_weight
// may be null (shared expert: weight 1).
void swiglu_clamped(const bf16* a, const bf16* b, int64_t rows, int64_t n, float limit,
                    const float* row_weight, bf16* u);

// ---- Sampling -------------------------------------------------------------------------------

// One token from logits [vocab] FP32: greedy (lowest index among equal maxima) when
// temperature <= 0; otherwise p = softmax(logits / temperature), restricted to the smallest
// set of most probable tokens whose mass reaches top_p (ties by lower index), renormalised, and
// the token whose cumulative probability, summed over that set from the most probable down,
// first exceeds u·mass, u in [0, 1) from the caller's seeded generator (softmax in FP64).
int64_t sample_token(const float* logits, int64_t vocab, float temperature, float top_p,
                     double u);

}  // namespace v4eval::kernels
