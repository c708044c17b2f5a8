// kernels/numeric.h: the element formats and quantiser scales of v4-model.md §2.3/§3.0,
// hand-checked. Scale bytes come from tests/tools/v4_numeric_reference.py (plain Python).

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>

#include "kernels/numeric.h"

using namespace v4eval::kernels;

TEST_CASE("kernels: BF16 rounding", "[kernels][numeric]") {
  CHECK(f32_to_bf16(1.0f) == 0x3f80);
  CHECK(f32_to_bf16(-2.0f) == 0xc000);
  CHECK(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)) == 0x3f80);      // tie -> even
  CHECK(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)) == 0x3f82);  // tie -> even (up)
  CHECK(f32_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)) == 0x3f81);
  CHECK(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
  CHECK(std::isinf(bf16_to_f32(f32_to_bf16(INFINITY))));
  CHECK(bf16_to_f32(0x3f80) == 1.0f);
  CHECK(round_bf16(3.14159265f) == 3.140625f);
}

TEST_CASE("kernels: E4M3 table, round trip, ties and saturation", "[kernels][numeric]") {
  CHECK(e4m3_to_f32(0x01) == std::ldexp(1.0f, -9));  // smallest subnormal
  CHECK(e4m3_to_f32(0x07) == 7 * std::ldexp(1.0f, -9));
  CHECK(e4m3_to_f32(0x08) == std::ldexp(1.0f, -6));  // smallest normal
  CHECK(e4m3_to_f32(0x38) == 1.0f);
  CHECK(e4m3_to_f32(0x39) == 1.125f);
  CHECK(e4m3_to_f32(0x7e) == 448.0f);
  CHECK(e4m3_to_f32(0xb8) == -1.0f);
  CHECK(std::isnan(e4m3_to_f32(0x7f)));
  CHECK(std::isnan(e4m3_to_f32(0xff)));
  // Every finite code survives decode + encode; values increase with the code.
  float prev = -1.0f;
  for (int c = 0; c < 0x7f; ++c) {
    float v = e4m3_to_f32(static_cast<uint8_t>(c));
    CHECK(f32_to_e4m3(v) == c);
    CHECK(f32_to_e4m3(-v) == (c == 0 ? 0x80 : 0x80 | c));
    CHECK(v > prev);
    prev = v;
  }
  CHECK(f32_to_e4m3(1.0625f) == 0x38);  // tie between 1 and 1.125 -> even mantissa
  CHECK(f32_to_e4m3(1.1875f) == 0x3a);  // tie between 1.125 and 1.25 -> 1.25
  CHECK(f32_to_e4m3(1.07f) == 0x39);
  CHECK(f32_to_e4m3(std::ldexp(1.0f, -10)) == 0x00);      // tie 0 / 2^-9 -> 0
  CHECK(f32_to_e4m3(3 * std::ldexp(1.0f, -10)) == 0x02);  // tie 2^-9 / 2^-8 -> even
  CHECK(f32_to_e4m3(15 * std::ldexp(1.0f, -10)) == 0x08);  // tie 7*2^-9 / 2^-6 -> normal
  CHECK(f32_to_e4m3(464.0f) == 0x7e);  // would round to 480, which does not exist
  CHECK(f32_to_e4m3(1e9f) == 0x7e);
  CHECK(f32_to_e4m3(-1e9f) == 0xfe);
  CHECK(f32_to_e4m3(std::nanf("")) == 0x7f);
}

TEST_CASE("kernels: E2M1 table, ties, packing", "[kernels][numeric]") {
  const float table[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
  for (int c = 0; c < 16; ++c) {
    CHECK(e2m1_to_f32(static_cast<uint8_t>(c)) == table[c]);
    CHECK(f32_to_e2m1(table[c]) == c);
  }
  CHECK(f32_to_e2m1(0.25f) == 0);   // tie -> 0
  CHECK(f32_to_e2m1(0.75f) == 2);   // tie 0.5/1 -> 1 (even)
  CHECK(f32_to_e2m1(1.25f) == 2);   // tie 1/1.5 -> 1
  CHECK(f32_to_e2m1(1.75f) == 4);   // tie 1.5/2 -> 2
  CHECK(f32_to_e2m1(2.5f) == 4);    // tie 2/3 -> 2
  CHECK(f32_to_e2m1(3.5f) == 6);    // tie 3/4 -> 4
  CHECK(f32_to_e2m1(5.0f) == 6);    // tie 4/6 -> 4
  CHECK(f32_to_e2m1(5.1f) == 7);
  CHECK(f32_to_e2m1(7.0f) == 7);    // saturate
  CHECK(f32_to_e2m1(-0.75f) == 10);
  const uint8_t packed[2] = {0x21, 0xf7};  // elements 1, 2, 7, 15
  CHECK(fp4_nibble(packed, 0) == 1);
  CHECK(fp4_nibble(packed, 1) == 2);
  CHECK(fp4_nibble(packed, 2) == 7);
  CHECK(fp4_nibble(packed, 3) == 15);
}

TEST_CASE("kernels: E8M0 and quantiser scales", "[kernels][numeric]") {
  CHECK(e8m0_to_f32(127) == 1.0f);
  CHECK(e8m0_to_f32(120) == std::ldexp(1.0f, -7));
  CHECK(e8m0_to_f32(254) == std::ldexp(1.0f, 127));
  CHECK(e8m0_to_f32(0) == std::ldexp(1.0f, -127));
  CHECK(std::isnan(e8m0_to_f32(255)));
  CHECK(e8m0_ceil(1.0f) == 127);
  CHECK(e8m0_ceil(1.0000001f) == 128);
  CHECK(e8m0_ceil(0.75f) == 127);
  // (amax, A8 byte, Q4 byte) from tests/tools/v4_numeric_reference.py.
  struct Row {
    float amax;
    int a8, q4;
  };
  const Row rows[] = {{448.0f, 127, 134}, {1.0f, 119, 125},  {0.0f, 105, 1},
                      {1e-5f, 105, 108},  {3.5f, 120, 127},  {896.0f, 128, 135},
                      {447.9f, 127, 134}, {448.1f, 128, 134}, {6.0f, 121, 127},
                      {0.75f, 118, 124},  {1e30f, 218, 225}};
  for (const Row& r : rows) {
    INFO("amax " << r.amax);
    CHECK(a8_scale_e8m0(r.amax) == r.a8);
    CHECK(q4_scale_e8m0(r.amax) == r.q4);
  }
  // A8 invariant: amax / scale <= 448, and > 224 unless clamped at the floor.
  for (float a = 1e-3f; a < 1e4f; a *= 1.37f) {
    float s = e8m0_to_f32(a8_scale_e8m0(a));
    CHECK(a / s <= 448.0f);
    CHECK(a / s > 224.0f);
  }
}
