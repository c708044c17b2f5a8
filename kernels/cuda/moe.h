#pragma once
// Routed-expert MoE on the GPU (v4-model.md §3.10) as few launches: sort the (token, slot)
// pairs by expert, gather the tokens, run one grouped FP4 GEMM over all experts, and combine.
//
//   moe_route (ops_cuda.h)            -> experts [rows, k], weights [rows, k]
//   moe_plan                          -> sorted_pair, pair_pos, expert_offsets
//   moe_gather(x)                     -> xs [pairs, d], ws [pairs] (routing weight per pair)
//   fp4_grouped_linear(W1), (W3)      -> a, b [pairs, inter]
//   swiglu_clamped(a, b, ws)          -> u [pairs, inter]     (weight applied before W2)
//   fp4_grouped_linear(W2)            -> ys [pairs, d]
//   moe_combine(ys, shared)           -> y [rows, d]
// All pointers are device memory; pairs = rows·k. Stream: kernels/cuda/stream.h.

#include <cstdint>

namespace v4eval::kernels::cuda {

using bf16 = uint16_t;

// Stable counting sort of the rows·k pairs (pair p = row·k + slot) by expert id:
// sorted_pair [pairs] lists pair ids grouped by expert (ascending expert, then ascending pair
// id); pair_pos [pairs] is its inverse; expert_offsets [n_experts + 1] the group starts
// (expert e owns sorted positions [offsets[e], offsets[e + 1])). Expert ids must be in
// [0, n_experts).
void moe_plan(const int32_t* experts, int64_t rows, int64_t k, int64_t n_experts,
              int32_t* sorted_pair, int32_t* pair_pos, int32_t* expert_offsets);

// xs[p] = x[sorted_pair[p] / k] (d BF16 values); sorted_weight[p] = weights[sorted_pair[p]]
// when both are non-null.
void moe_gather(const bf16* x, int64_t d, const int32_t* sorted_pair, int64_t rows, int64_t k,
                const float* weights, bf16* xs, float* sorted_weight);

// Grouped FP4 linear, one launch for all experts: for every expert e and sorted position
// p in [offsets[e], offsets[e + 1]), y[p] = W_e · A8(x[p]) with the numerics of fp4_linear.
// w_packed / w_scales: device arrays of n_experts device pointers, expert e's weight
// [n, k/2] packed E2M1 and [n, k/32] E8M0 scales (null allowed for experts without rows).
void fp4_grouped_linear(const bf16* x, int64_t pairs, int64_t k, const int32_t* expert_offsets,
                        int64_t n_experts, const uint8_t* const* w_packed,
                        const uint8_t* const* w_scales, int64_t n, bf16* y);

// y[row] = bf16(Σ_slot fp32(ys[pair_pos[row·k + slot]]) + fp32(shared[row])), slots in order,
// FP32 accumulation; shared may be null.
void moe_combine(const bf16* ys, const int32_t* pair_pos, int64_t rows, int64_t k, int64_t d,
                 const bf16* shared, bf16* y);

}  // namespace v4eval::kernels::cuda
