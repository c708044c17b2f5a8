// mHC (v4-model.md §3.2, §3.11): the per-token mixing weights, collapse and expand.

#include <cmath>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"
#include "kernels/numeric.h"
#include "kernels/ops.h"

namespace v4eval::kernels {

namespace {
float sigmoid(float v) { return 1.0f / (1.0f + std::exp(-v)); }

// m [outs] = (fn [outs, hc·d] · f) · (mean(f²) + norm_eps)^-½ for one token's streams h
// [hc·d]; the projection first, then the RMS factor, as the reference's F.linear(x) * rsqrt.
void mhc_mixes(const bf16* h, int64_t width, const float* fn, int64_t outs, float norm_eps,
               float* f, float* m) {
  for (int64_t i = 0; i < width; ++i) f[i] = bf16_to_f32(h[i]);
  const float ss = cpu::dot_f32(f, f, width);
  const float rsqrt = 1.0f / std::sqrt(ss / static_cast<float>(width) + norm_eps);
  for (int64_t o = 0; o < outs; ++o) m[o] = cpu::dot_f32(fn + o * width, f, width) * rsqrt;
}
}  // namespace

void mhc_pre(const bf16* h, int64_t rows, int64_t hc, int64_t d, const float* fn, const float* base,
             const float* scale, int64_t sinkhorn_iters, float hc_eps, float norm_eps, float* pre,
             float* post, float* comb) {
  const int64_t width = hc * d, outs = (2 + hc) * hc;
  cpu::parallel_for(rows, width * outs, [&](int64_t r0, int64_t r1) {
    std::vector<float> f(static_cast<size_t>(width)), m(static_cast<size_t>(outs));
    for (int64_t r = r0; r < r1; ++r) {
      mhc_mixes(h + r * width, width, fn, outs, norm_eps, f.data(), m.data());
      for (int64_t j = 0; j < hc; ++j) {
        pre[r * hc + j] = sigmoid(scale[0] * m[j] + base[j]) + hc_eps;
        post[r * hc + j] = 2.0f * sigmoid(scale[1] * m[hc + j] + base[hc + j]);
      }
      float* c = comb + r * hc * hc;
      for (int64_t i = 0; i < hc * hc; ++i) c[i] = scale[2] * m[2 * hc + i] + base[2 * hc + i];
      sinkhorn(c, hc, sinkhorn_iters, hc_eps);
    }
  });
}

void mhc_head_pre(const bf16* h, int64_t rows, int64_t hc, int64_t d, const float* fn,
                  const float* base, const float* scale, float hc_eps, float norm_eps, float* pre) {
  const int64_t width = hc * d;
  cpu::parallel_for(rows, width * hc, [&](int64_t r0, int64_t r1) {
    std::vector<float> f(static_cast<size_t>(width)), m(static_cast<size_t>(hc));
    for (int64_t r = r0; r < r1; ++r) {
      mhc_mixes(h + r * width, width, fn, hc, norm_eps, f.data(), m.data());
      for (int64_t j = 0; j < hc; ++j)
        pre[r * hc + j] = sigmoid(scale[0] * m[j] + base[j]) + hc_eps;
    }
  });
}

void mhc_collapse(const bf16* h, int64_t rows, int64_t hc, int64_t d, const float* pre, bf16* x) {
  cpu::parallel_for(rows, hc * d, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const bf16* hr = h + r * hc * d;
      const float* p = pre + r * hc;
      for (int64_t i = 0; i < d; ++i) {
        float acc = 0.0f;
        for (int64_t j = 0; j < hc; ++j) acc += p[j] * bf16_to_f32(hr[j * d + i]);
        x[r * d + i] = f32_to_bf16(acc);
      }
    }
  });
}

void mhc_expand(const bf16* h, const bf16* y, int64_t rows, int64_t hc, int64_t d,
                const float* post, const float* comb, bf16* out) {
  cpu::parallel_for(rows, hc * hc * d, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const bf16* hr = h + r * hc * d;
      const float* c = comb + r * hc * hc;
      for (int64_t k = 0; k < hc; ++k) {
        const float pk = post[r * hc + k];
        bf16* o = out + (r * hc + k) * d;
        for (int64_t i = 0; i < d; ++i) {
          float mix = 0.0f;  // Σ_j comb[j][k]·h[j], then the post term (the reference's order)
          for (int64_t j = 0; j < hc; ++j) mix += c[j * hc + k] * bf16_to_f32(hr[j * d + i]);
          o[i] = f32_to_bf16(pk * bf16_to_f32(y[r * d + i]) + mix);
        }
      }
    }
  });
}

}  // namespace v4eval::kernels
