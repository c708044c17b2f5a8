// kernels/cpu reference ops, hand-checked: A8 + FP8 linear against a dequantised dot product,
// K8/Q4 grids, RMSNorm, Hadamard, YaRN frequencies (values from
// tests/tools/v4_numeric_reference.py), RoPE rotation and its inverse, Sinkhorn.

#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/numeric.h"
#include "kernels/ops.h"

using namespace v4eval::kernels;

namespace {
std::vector<bf16> random_bf16(size_t n, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<bf16> v(n);
  for (auto& x : v) x = f32_to_bf16(d(rng));
  return v;
}
}  // namespace

TEST_CASE("kernels: A8 quantisation and the FP8 linear", "[kernels][ops]") {
  const int64_t rows = 3, k = 256, n = 130;  // two K groups, two N blocks (one partial)
  auto x = random_bf16(rows * k, 2.0f, 1);
  x[5] = f32_to_bf16(300.0f);  // one large value sets group 0's scale
  std::vector<uint8_t> codes(rows * k), scales(rows * 2);
  a8_quantize(x.data(), rows, k, codes.data(), scales.data());
  CHECK(scales[0] == a8_scale_e8m0(300.0f));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < k; ++i) {
      float s = e8m0_to_f32(scales[r * 2 + i / 128]);
      float q = e4m3_to_f32(codes[r * k + i]) * s;
      float v = bf16_to_f32(x[r * k + i]);
      REQUIRE(std::fabs(q - v) <= std::fabs(v) * 0.0625f + s * 0.002f);  // E4M3: 3 mantissa bits
    }
  std::mt19937 rng(2);
  std::vector<uint8_t> w(n * k), ws(2 * 2);
  for (auto& c : w) c = f32_to_e4m3(std::normal_distribution<float>(0, 30)(rng));
  ws = {120, 121, 122, 123};
  std::vector<bf16> y(rows * n);
  fp8_linear(x.data(), rows, k, w.data(), ws.data(), n, y.data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n; ++o) {
      double ref = 0;
      for (int64_t i = 0; i < k; ++i)
        ref += double(e4m3_to_f32(w[o * k + i])) * e8m0_to_f32(ws[(o / 128) * 2 + i / 128]) *
               e4m3_to_f32(codes[r * k + i]) * e8m0_to_f32(scales[r * 2 + i / 128]);
      REQUIRE(bf16_to_f32(y[r * n + o]) == Approx(ref).epsilon(0.01).margin(1e-3));
    }
}

TEST_CASE("kernels: the FP4 linear", "[kernels][ops]") {
  const int64_t rows = 2, k = 256, n = 5;
  auto x = random_bf16(rows * k, 1.0f, 6);
  std::mt19937 rng(7);
  std::vector<uint8_t> w(n * k / 2), ws(n * k / 32);
  for (auto& b : w) b = static_cast<uint8_t>(rng() & 0xff);
  for (auto& s : ws) s = static_cast<uint8_t>(120 + rng() % 6);
  std::vector<uint8_t> codes(rows * k), scales(rows * 2);
  a8_quantize(x.data(), rows, k, codes.data(), scales.data());
  std::vector<bf16> y(rows * n);
  fp4_linear(x.data(), rows, k, w.data(), ws.data(), n, y.data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n; ++o) {
      double ref = 0;
      for (int64_t i = 0; i < k; ++i) {
        uint8_t byte = w[o * k / 2 + i / 2];
        uint8_t nib = i % 2 ? byte >> 4 : byte & 15;  // even element: low nibble
        ref += double(e2m1_to_f32(nib)) * e8m0_to_f32(ws[o * k / 32 + i / 32]) *
               e4m3_to_f32(codes[r * k + i]) * e8m0_to_f32(scales[r * 2 + i / 128]);
      }
      REQUIRE(bf16_to_f32(y[r * n + o]) == Approx(ref).epsilon(0.01).margin(1e-3));
    }
}

TEST_CASE("kernels: K8 and Q4 simulation land on their grids", "[kernels][ops]") {
  auto x = random_bf16(2 * 128, 1.0f, 3);
  auto k8 = x;
  k8_simulate(k8.data(), 2, 128, 64);  // first 64 dims only
  for (int64_t i = 64; i < 128; ++i) CHECK(k8[i] == x[i]);
  auto q4 = x;
  q4_simulate(q4.data(), 2, 128, 128);
  for (int64_t g = 0; g < 8; ++g) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(bf16_to_f32(x[g * 32 + i])));
    float s = e8m0_to_f32(q4_scale_e8m0(amax));
    for (int i = 0; i < 32; ++i) {
      float q = bf16_to_f32(q4[g * 32 + i]) / s;
      CHECK(e2m1_to_f32(f32_to_e2m1(q)) == q);  // exactly a (scaled) E2M1 value
    }
  }
}

TEST_CASE("kernels: RMSNorm", "[kernels][ops]") {
  std::vector<bf16> x = {f32_to_bf16(3.0f), f32_to_bf16(4.0f)};
  std::vector<bf16> w = {f32_to_bf16(1.0f), f32_to_bf16(2.0f)};
  std::vector<bf16> y(2);
  rms_norm(x.data(), 1, 2, w.data(), 0.0f, y.data());  // rms = sqrt(12.5)
  CHECK(bf16_to_f32(y[0]) == round_bf16(3.0f / std::sqrt(12.5f)));
  CHECK(bf16_to_f32(y[1]) == round_bf16(2 * 4.0f / std::sqrt(12.5f)));
}

TEST_CASE("kernels: Hadamard transform", "[kernels][ops]") {
  std::vector<float> e(128, 0.0f);
  e[0] = 1.0f;
  hadamard(e.data(), 1, 128);
  for (float v : e) CHECK(v == Approx(1.0 / std::sqrt(128.0)));
  std::vector<float> e5(128, 0.0f);
  e5[5] = 1.0f;  // column 5: (-1)^popcount(i & 5) / sqrt(128)
  hadamard(e5.data(), 1, 128);
  for (int i = 0; i < 128; ++i)
    CHECK(e5[i] == Approx((__builtin_popcount(i & 5) % 2 ? -1.0 : 1.0) / std::sqrt(128.0)));
  std::mt19937 rng(4);
  std::vector<float> x(128);
  for (auto& v : x) v = std::normal_distribution<float>(0, 1)(rng);
  auto y = x;
  hadamard(y.data(), 1, 128);
  hadamard(y.data(), 1, 128);  // H/sqrt(n) is its own inverse
  for (int i = 0; i < 128; ++i) CHECK(y[i] == Approx(x[i]).margin(1e-5));
}

TEST_CASE("kernels: RoPE frequencies with YaRN", "[kernels][ops]") {
  float f[32];
  rope_frequencies(64, 160000.0, 16.0, 65536, 32, 1, f);
  // (i, value) from tests/tools/v4_numeric_reference.py (double precision).
  const std::pair<int, double> ref[] = {{0, 1.0},
                                        {1, 0.6876560219336321},
                                        {10, 0.023643540225079394},
                                        {15, 0.003635538583622384},
                                        {16, 0.0022656250000000003},
                                        {20, 0.00029697777826169085},
                                        {24, 1.9531249999999997e-05},
                                        {25, 5.372312671356501e-06},
                                        {31, 5.680529036909976e-07}};
  for (auto [i, v] : ref) CHECK(f[i] == Approx(v).epsilon(2e-6));
  float m[32];
  rope_frequencies(64, 10000.0, 1.0, 65536, 32, 1, m);
  CHECK(m[1] == Approx(0.7498942093324559).epsilon(2e-6));
  CHECK(m[31] == Approx(0.0001333521432163324).epsilon(2e-6));
}

TEST_CASE("kernels: RoPE rotation and its inverse", "[kernels][ops]") {
  float f[32];
  rope_frequencies(64, 10000.0, 1.0, 1, 32, 1, f);
  std::vector<bf16> x(128, f32_to_bf16(0.0f));
  x[64] = f32_to_bf16(1.0f);  // pair 0 of the rotated tail = (1, 0)
  x[0] = f32_to_bf16(0.5f);   // nope part untouched
  int64_t pos = 1;
  rope_rotate(x.data(), 1, 128, 128, 64, &pos, f, false);
  CHECK(bf16_to_f32(x[64]) == round_bf16(std::cos(1.0f)));
  CHECK(bf16_to_f32(x[65]) == round_bf16(std::sin(1.0f)));
  CHECK(bf16_to_f32(x[0]) == 0.5f);
  rope_rotate(x.data(), 1, 128, 128, 64, &pos, f, true);
  CHECK(bf16_to_f32(x[64]) == Approx(1.0f).margin(0.01));
  CHECK(bf16_to_f32(x[65]) == Approx(0.0f).margin(0.01));
}

TEST_CASE("kernels: Sinkhorn gives a doubly stochastic matrix", "[kernels][ops]") {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 20; ++trial) {
    float c[16];
    for (float& v : c) v = std::normal_distribution<float>(0, 1)(rng);
    sinkhorn(c, 4, 20, 1e-6f);
    for (int j = 0; j < 4; ++j) {
      float row = 0, col = 0;
      for (int k = 0; k < 4; ++k) {
        row += c[j * 4 + k];
        col += c[k * 4 + j];
        CHECK(c[j * 4 + k] > 0.0f);
      }
      CHECK(col == Approx(1.0f).margin(1e-4));  // columns normalised last: tight
      CHECK(row == Approx(1.0f).margin(2e-2));
    }
  }
  // Equal logits: every entry 1/4.
  float u[16] = {};
  sinkhorn(u, 4, 20, 1e-6f);
  for (float v : u) CHECK(v == Approx(0.25f).margin(1e-5));
}
