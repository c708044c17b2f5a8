// CPU reference ops of kernels/ops.h: K8/Q4 simulation, RMSNorm, Hadamard, RoPE, Sinkhorn.
// The linears are in linear_cpu.cpp, mHC in mhc_cpu.cpp, attention-side ops in
// attention_cpu.cpp, MoE in moe_cpu.cpp, sampling in sample_cpu.cpp.

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/numeric.h"
#include "kernels/ops.h"

namespace v4eval::kernels {

namespace {
template <bool kFp4>
void simulate(bf16* x, int64_t rows, int64_t stride, int64_t dims) {
  constexpr int64_t group = kFp4 ? 32 : 64;
  constexpr float max_code = kFp4 ? 6.0f : 448.0f;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g0 = 0; g0 < dims; g0 += group) {
      bf16* xg = x + r * stride + g0;
      float amax = 0.0f;
      for (int64_t i = 0; i < group; ++i) amax = std::max(amax, std::fabs(bf16_to_f32(xg[i])));
      const uint8_t sb = kFp4 ? q4_scale_e8m0(amax) : a8_scale_e8m0(amax);
      const float s = e8m0_to_f32(sb);
      for (int64_t i = 0; i < group; ++i) {
        float v = std::clamp(bf16_to_f32(xg[i]) / s, -max_code, max_code);
        float q = kFp4 ? e2m1_to_f32(f32_to_e2m1(v)) : e4m3_to_f32(f32_to_e4m3(v));
        xg[i] = f32_to_bf16(q * s);
      }
    }
  }
}
}  // namespace

void k8_simulate(bf16* x, int64_t rows, int64_t row_stride, int64_t dims) {
  simulate<false>(x, rows, row_stride, dims);
}
void q4_simulate(bf16* x, int64_t rows, int64_t row_stride, int64_t dims) {
  simulate<true>(x, rows, row_stride, dims);
}

void rms_norm(const bf16* x, int64_t rows, int64_t dim, const bf16* w, float eps, bf16* y) {
  for (int64_t r = 0; r < rows; ++r) {
    float ss = 0.0f;
    for (int64_t i = 0; i < dim; ++i) {
      float v = bf16_to_f32(x[r * dim + i]);
      ss += v * v;
    }
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(dim) + eps);
    for (int64_t i = 0; i < dim; ++i) {
      float v = bf16_to_f32(x[r * dim + i]) * inv;
      if (w != nullptr) v *= bf16_to_f32(w[i]);
      y[r * dim + i] = f32_to_bf16(v);
    }
  }
}

void hadamard(float* x, int64_t rows, int64_t n) {
  const float norm = 1.0f / std::sqrt(static_cast<float>(n));
  for (int64_t r = 0; r < rows; ++r) {
    float* v = x + r * n;
    for (int64_t h = 1; h < n; h <<= 1) {
      for (int64_t i = 0; i < n; i += 2 * h) {
        for (int64_t j = i; j < i + h; ++j) {
          float a = v[j], b = v[j + h];
          v[j] = a + b;
          v[j + h] = a - b;
        }
      }
    }
    for (int64_t i = 0; i < n; ++i) v[i] *= norm;
  }
}

void rope_frequencies(int64_t rope_dim, double base, double yarn_factor,
                      int64_t original_max_position, double beta_fast, double beta_slow,
                      float* freqs) {
  const int64_t half = rope_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    float e = static_cast<float>(2 * i) / static_cast<float>(rope_dim);
    freqs[i] = 1.0f / std::pow(static_cast<float>(base), e);
  }
  if (yarn_factor <= 1.0) return;
  auto corr = [&](double rotations) {
    return static_cast<double>(rope_dim) *
           std::log(static_cast<double>(original_max_position) / (rotations * 2 * M_PI)) /
           (2 * std::log(base));
  };
  double lo = std::max(std::floor(corr(beta_fast)), 0.0);
  double hi = std::min(std::ceil(corr(beta_slow)), static_cast<double>(rope_dim - 1));
  if (lo == hi) hi += 0.001;
  for (int64_t i = 0; i < half; ++i) {
    float ramp =
        std::clamp(static_cast<float>((static_cast<double>(i) - lo) / (hi - lo)), 0.0f, 1.0f);
    float smooth = 1.0f - ramp;
    freqs[i] = freqs[i] / static_cast<float>(yarn_factor) * (1.0f - smooth) + freqs[i] * smooth;
  }
}

void rope_rotate(bf16* x, int64_t rows, int64_t row_stride, int64_t dim, int64_t rope_dim,
                 const int64_t* positions, const float* freqs, bool inverse) {
  for (int64_t r = 0; r < rows; ++r) {
    bf16* v = x + r * row_stride + (dim - rope_dim);
    const float p = static_cast<float>(positions[r]);
    for (int64_t i = 0; i < rope_dim / 2; ++i) {
      const float angle = p * freqs[i];
      const float c = std::cos(angle), s = inverse ? -std::sin(angle) : std::sin(angle);
      const float a = bf16_to_f32(v[2 * i]), b = bf16_to_f32(v[2 * i + 1]);
      v[2 * i] = f32_to_bf16(a * c - b * s);
      v[2 * i + 1] = f32_to_bf16(a * s + b * c);
    }
  }
}

void sinkhorn(float* c, int64_t hc, int64_t iters, float eps) {
  auto row_norm = [&] {
    for (int64_t j = 0; j < hc; ++j) {
      float s = 0.0f;
      for (int64_t k = 0; k < hc; ++k) s += c[j * hc + k];
      for (int64_t k = 0; k < hc; ++k) c[j * hc + k] /= s + eps;
    }
  };
  auto col_norm = [&] {
    for (int64_t k = 0; k < hc; ++k) {
      float s = 0.0f;
      for (int64_t j = 0; j < hc; ++j) s += c[j * hc + k];
      for (int64_t j = 0; j < hc; ++j) c[j * hc + k] /= s + eps;
    }
  };
  for (int64_t j = 0; j < hc; ++j) {  // row softmax, then + eps
    float m = c[j * hc];
    for (int64_t k = 1; k < hc; ++k) m = std::max(m, c[j * hc + k]);
    float s = 0.0f;
    for (int64_t k = 0; k < hc; ++k) s += (c[j * hc + k] = std::exp(c[j * hc + k] - m));
    for (int64_t k = 0; k < hc; ++k) c[j * hc + k] = c[j * hc + k] / s + eps;
  }
  col_norm();
  for (int64_t it = 1; it < iters; ++it) {
    row_norm();
    col_norm();
  }
}

}  // namespace v4eval::kernels
