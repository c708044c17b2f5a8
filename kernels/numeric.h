#pragma once
// Element formats and rounding points of the DeepSeek-V4 reference numerics (v4-model.md §2.3,
// §3.0): BF16, FP8 E4M3 (float8_e4m3fn), FP4 E2M1, E8M0 scales, and the power-of-two scale of
// the activation quantisers. Bit-exact, round-to-nearest-even with saturation. Plain inline
// functions on scalars so that a CUDA implementation can use the same code (V4_HD).

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define V4_HD __host__ __device__
#else
#define V4_HD
#endif

namespace v4eval::kernels {

V4_HD inline uint32_t f32_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}
V4_HD inline float f32_from_bits(uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

// ---- BF16 ----------------------------------------------------------------------------------
V4_HD inline float bf16_to_f32(uint16_t b) { return f32_from_bits(uint32_t{b} << 16); }
// Round to nearest even; NaN stays NaN (quiet), infinities stay.
V4_HD inline uint16_t f32_to_bf16(float x) {
  uint32_t u = f32_bits(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
// x rounded to BF16 precision, as a float.
V4_HD inline float round_bf16(float x) { return bf16_to_f32(f32_to_bf16(x)); }

// ---- E8M0 (scales) -------------------------------------------------------------------------
// 2^(b - 127); b = 255 is NaN.
V4_HD inline float e8m0_to_f32(uint8_t b) {
  if (b == 255) return f32_from_bits(0x7fc00000u);
  if (b == 0) return f32_from_bits(0x00400000u);  // 2^-127, an FP32 subnormal
  return f32_from_bits(uint32_t{b} << 23);
}

// The E8M0 byte of the smallest power of two >= t (t > 0, finite), read from t's IEEE bits as
// the official act_quant kernel does: E(t) + [mantissa(t) != 0]. t must be a normal float.
V4_HD inline uint8_t e8m0_ceil(float t) {
  uint32_t u = f32_bits(t);
  uint32_t e = (u >> 23) & 0xffu;
  return static_cast<uint8_t>(e + ((u & 0x7fffffu) != 0 ? 1u : 0u));
}

// ---- FP8 E4M3 (fn: no infinities, S.1111.111 = NaN, max 448, min subnormal 2^-9) -----------
V4_HD inline float e4m3_to_f32(uint8_t c) {
  const uint32_t sign = c >> 7, exp = (c >> 3) & 0xfu, man = c & 7u;
  float v;
  if (exp == 15 && man == 7) {
    v = f32_from_bits(0x7fc00000u);
  } else if (exp == 0) {
    v = std::ldexp(static_cast<float>(man), -9);
  } else {
    v = std::ldexp(static_cast<float>(8 + man), static_cast<int>(exp) - 10);
  }
  return sign ? -v : v;
}
// Round to nearest even, saturating to +-448; NaN -> 0x7f.
V4_HD inline uint8_t f32_to_e4m3(float x) {
  if (std::isnan(x)) return 0x7f;
  const uint8_t sign = std::signbit(x) ? 0x80 : 0;
  float a = std::fabs(x);
  if (a >= 448.0f) return sign | 0x7e;
  if (a < 0.015625f) {  // below 2^-6: subnormal grid of 2^-9
    auto q = static_cast<uint32_t>(std::rint(a * 512.0f));  // 0..8; 8 is the smallest normal
    return sign | static_cast<uint8_t>(q);
  }
  int e2;
  std::frexp(a, &e2);  // a = f * 2^e2, f in [0.5, 1)
  int e = e2 - 1;      // a in [2^e, 2^(e+1))
  auto q = static_cast<uint32_t>(std::rint(std::ldexp(a, 3 - e)));  // 8..16, exact scaling
  if (q == 16) {
    q = 8;
    ++e;
  }
  uint32_t code = (static_cast<uint32_t>(e + 7) << 3) | (q - 8);
  if (code > 0x7e) code = 0x7e;
  return sign | static_cast<uint8_t>(code);
}

// ---- FP4 E2M1 (codes 0..7 = 0, .5, 1, 1.5, 2, 3, 4, 6; bit 3 = sign) -----------------------
V4_HD inline float e2m1_to_f32(uint8_t nibble) {
  constexpr float kValues[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  float v = kValues[nibble & 7u];
  return (nibble & 8u) ? -v : v;
}
// Round to nearest even on the E2M1 grid, saturating to +-6. NaN -> +6 (never produced by the
// reference, whose inputs are finite).
V4_HD inline uint8_t f32_to_e2m1(float x) {
  if (std::isnan(x)) return 7;
  const uint8_t sign = std::signbit(x) ? 8 : 0;
  float a = std::fabs(x);
  uint32_t code;
  if (a < 2.0f) {
    code = static_cast<uint32_t>(std::rint(a * 2.0f));  // steps of 0.5: codes 0..4
  } else if (a < 4.0f) {
    code = 4 + static_cast<uint32_t>(std::rint(a - 2.0f));  // steps of 1: codes 4..6
  } else {
    float q = std::rint((a - 4.0f) * 0.5f);  // steps of 2: codes 6..7
    code = q >= 1.0f ? 7 : 6;
  }
  return sign | static_cast<uint8_t>(code);
}

// Packed FP4: element 2j in the low nibble of byte j, element 2j+1 in the high nibble.
V4_HD inline uint8_t fp4_nibble(const uint8_t* packed, int64_t i) {
  uint8_t b = packed[i >> 1];
  return (i & 1) ? static_cast<uint8_t>(b >> 4) : static_cast<uint8_t>(b & 0xf);
}

// ---- Activation quantiser scales (§3.0) ----------------------------------------------------
// A8: s = 2^ceil(log2(max(amax, 1e-4) / 448)), computed as t = a * fl32(1/448).
V4_HD inline uint8_t a8_scale_e8m0(float amax) {
  float a = amax < 1e-4f ? 1e-4f : amax;
  return e8m0_ceil(a * (1.0f / 448.0f));
}
// Q4: s = 2^ceil(log2(max(amax, 6 * 2^-126) / 6)), t = a * fl32(1/6).
V4_HD inline uint8_t q4_scale_e8m0(float amax) {
  const float lo = 6.0f * 1.17549435e-38f;
  float a = amax < lo ? lo : amax;
  return e8m0_ceil(a * (1.0f / 6.0f));
}

}  // namespace v4eval::kernels
