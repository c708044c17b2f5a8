#pragma once
// Small SIMD helpers (GCC/Clang vector extensions, 4 × FP32 = the x86-64/SSE2 and NEON baseline)
// for the CPU reference ops. Every lane does plain IEEE FP32 arithmetic, so a vectorised loop
// gives the same bits as the scalar loop it replaces as long as each lane keeps its own
// accumulation order. Accumulators are kept in named variables so that they stay in registers.

#include <cstdint>
#include <cstring>

namespace v4eval::kernels::cpu {

typedef float v4f __attribute__((vector_size(16)));
typedef uint32_t v4u __attribute__((vector_size(16)));
typedef uint16_t v4h __attribute__((vector_size(8)));

inline v4f load4(const float* p) {
  v4f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store4(float* p, v4f v) { std::memcpy(p, &v, sizeof v); }
// 4 consecutive BF16 values, widened exactly to FP32.
inline v4f load4_bf16(const uint16_t* p) {
  v4h h;
  std::memcpy(&h, p, sizeof h);
  const v4u u = __builtin_convertvector(h, v4u) << 16;
  v4f v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

inline float f32_from_bf16_bits(uint16_t b) {
  const uint32_t u = uint32_t{b} << 16;
  float v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

// Sixteen lanes as four vectors: lane l lives in vector l / 4.
struct Lanes16 {
  v4f v0 = {}, v1 = {}, v2 = {}, v3 = {};
  void store(float* p) const {
    store4(p, v0);
    store4(p + 4, v1);
    store4(p + 8, v2);
    store4(p + 12, v3);
  }
};

// Σ_i x[i]·fp32(w[i]) in the order of the dense linears: element i goes to lane i mod 16, each
// lane sums sequentially, then the lanes are summed from lane 0 up.
inline float dot_bf16(const float* x, const uint16_t* w, int64_t k) {
  Lanes16 a;
  const int64_t body = k / 16 * 16;
  for (int64_t i = 0; i < body; i += 16) {
    a.v0 += load4(x + i) * load4_bf16(w + i);
    a.v1 += load4(x + i + 4) * load4_bf16(w + i + 4);
    a.v2 += load4(x + i + 8) * load4_bf16(w + i + 8);
    a.v3 += load4(x + i + 12) * load4_bf16(w + i + 12);
  }
  float l[16];
  a.store(l);
  for (int64_t i = body; i < k; ++i) l[i - body] += x[i] * f32_from_bf16_bits(w[i]);
  float s = l[0];
  for (int i = 1; i < 16; ++i) s += l[i];
  return s;
}

// Σ_i x[i]·y[i], FP32, in the same lane order as dot_bf16.
inline float dot_f32(const float* x, const float* y, int64_t k) {
  Lanes16 a;
  const int64_t body = k / 16 * 16;
  for (int64_t i = 0; i < body; i += 16) {
    a.v0 += load4(x + i) * load4(y + i);
    a.v1 += load4(x + i + 4) * load4(y + i + 4);
    a.v2 += load4(x + i + 8) * load4(y + i + 8);
    a.v3 += load4(x + i + 12) * load4(y + i + 12);
  }
  float l[16];
  a.store(l);
  for (int64_t i = body; i < k; ++i) l[i - body] += x[i] * y[i];
  float s = l[0];
  for (int i = 1; i < 16; ++i) s += l[i];
  return s;
}

// y[i] += a·fp32(w[i]) for i < k.
inline void axpy_bf16(float a, const uint16_t* w, float* y, int64_t k) {
  const int64_t body = k / 4 * 4;
  for (int64_t i = 0; i < body; i += 4) store4(y + i, load4(y + i) + load4_bf16(w + i) * a);
  for (int64_t i = body; i < k; ++i) y[i] += f32_from_bf16_bits(w[i]) * a;
}

}  // namespace v4eval::kernels::cpu
