// MoE ops (v4-model.md §3.10): the router and the clamped SwiGLU.

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/numeric.h"
#include "kernels/ops.h"

namespace v4eval::kernels {

void moe_route(const float* logits, int64_t rows, int64_t n_experts, int64_t k, const float* bias,
               const int64_t* hash_ids, float route_scale, int32_t* experts, float* weights) {
  cpu::parallel_for(rows, n_experts * 16, [&](int64_t r0, int64_t r1) {
    std::vector<float> sigma(static_cast<size_t>(n_experts)), biased(sigma.size());
    std::vector<int32_t> order(sigma.size());
    for (int64_t r = r0; r < r1; ++r) {
      const float* l = logits + r * n_experts;
      for (int64_t e = 0; e < n_experts; ++e) {
        const float sp = l[e] > 20.0f ? l[e] : std::log1p(std::exp(l[e]));  // torch softplus
        sigma[e] = std::sqrt(sp);
        biased[e] = bias != nullptr ? sigma[e] + bias[e] : sigma[e];
      }
      int32_t* ex = experts + r * k;
      if (hash_ids != nullptr) {
        for (int64_t i = 0; i < k; ++i) ex[i] = static_cast<int32_t>(hash_ids[r * k + i]);
      } else {
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t x, int32_t y) {
          if (biased[x] != biased[y]) return biased[x] > biased[y];
          return x < y;
        });
        std::copy(order.begin(), order.begin() + k, ex);
      }
      float total = 0.0f;  // weights from the unbiased σ: σ_e / Σ σ, then · route_scale
      for (int64_t i = 0; i < k; ++i) total += sigma[ex[i]];
      for (int64_t i = 0; i < k; ++i) weights[r * k + i] = sigma[ex[i]] / total * route_scale;
    }
  });
}

void swiglu_clamped(const bf16* a, const bf16* b, int64_t rows, int64_t n, float limit,
                    const float* row_weight, bf16* u) {
  cpu::parallel_for(rows, n * 8, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t i = r * n; i < r * n + n; ++i) {
        const float g = std::min(bf16_to_f32(a[i]), limit);
        const float up = std::clamp(bf16_to_f32(b[i]), -limit, limit);
        float v = g / (1.0f + std::exp(-g)) * up;  // silu(g) · up
        if (row_weight != nullptr) v = row_weight[r] * v;
        u[i] = f32_to_bf16(v);
      }
    }
  });
}

}  // namespace v4eval::kernels
