// kernels/cpu reference ops, hand-checked: A8 + FP8 linear against a dequantised dot product,
// K8/Q4 grids, RMSNorm, Hadamard, YaRN frequencies (values from
// tests/tools/v4_numeric_reference.py), RoPE rotation and its inverse, Sinkhorn; then the BF16/FP32
// linears, mHC, BF16 query norm, sparse attention, compressor pooling, indexer scores, top-k,
// router, SwiGLU and sampling (hand cases and double-precision references).

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
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

// ---- Issue 5, second half: linears, mHC, attention, compressor, indexer, MoE, sampling ----

namespace {
float f(bf16 b) { return bf16_to_f32(b); }
std::vector<bf16> to_bf16(const std::vector<float>& v) {
  std::vector<bf16> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = f32_to_bf16(v[i]);
  return out;
}
constexpr float kInf = std::numeric_limits<float>::infinity();
}  // namespace

TEST_CASE("kernels: BF16 and FP32 linears round once, at the end", "[kernels][ops]") {
  // Integer inputs: the FP32 sums are exact, so only the final rounding shows.
  const int64_t k = 5, n = 3;
  auto x = to_bf16({1, 2, 3, 4, 5});
  auto w = to_bf16({1, 1, 1, 1, 1,         // 15
                    64, 64, 32, 0, 1,      // 64 + 128 + 96 + 5 = 293 -> bf16 292
                    -1, 0, 0, 0, 51.5f});  // 256.5 -> bf16 256
  std::vector<bf16> yb(n);
  std::vector<float> yf(n);
  bf16_linear(x.data(), 1, k, w.data(), n, yb.data());
  f32_linear(x.data(), 1, k, w.data(), n, yf.data());
  CHECK(f(yb[0]) == 15.0f);
  CHECK(f(yb[1]) == 292.0f);
  CHECK(f(yb[2]) == 256.0f);
  CHECK(yf[0] == 15.0f);
  CHECK(yf[1] == 293.0f);
  CHECK(yf[2] == 256.5f);
  // Random shapes against a double-precision dot product; rows are independent.
  const int64_t rows = 5, k2 = 300, n2 = 70;
  auto xr = random_bf16(rows * k2, 1.0f, 11);
  auto wr = random_bf16(n2 * k2, 0.05f, 12);
  std::vector<bf16> yr(rows * n2), y1(n2);
  std::vector<float> fr(rows * n2);
  bf16_linear(xr.data(), rows, k2, wr.data(), n2, yr.data());
  f32_linear(xr.data(), rows, k2, wr.data(), n2, fr.data());
  for (int64_t r = 0; r < rows; ++r) {
    bf16_linear(xr.data() + r * k2, 1, k2, wr.data(), n2, y1.data());
    for (int64_t o = 0; o < n2; ++o) {
      double ref = 0;
      for (int64_t i = 0; i < k2; ++i) ref += double(f(wr[o * k2 + i])) * f(xr[r * k2 + i]);
      REQUIRE(fr[r * n2 + o] == Approx(ref).margin(1e-5));
      REQUIRE(f(yr[r * n2 + o]) == Approx(ref).epsilon(1.0 / 256).margin(1e-5));
      REQUIRE(yr[r * n2 + o] == y1[o]);
    }
  }
}

namespace {
// §3.2 steps 1–5 in double precision, written from the spec.
void mhc_reference(const std::vector<bf16>& h, int64_t hc, int64_t d, const std::vector<float>& fn,
                   const std::vector<float>& base, const float* scale, int iters, double eps,
                   std::vector<double>& pre, std::vector<double>& post, std::vector<double>& comb) {
  const int64_t width = hc * d, outs = (2 + hc) * hc;
  double ss = 0;
  for (int64_t i = 0; i < width; ++i) ss += double(f(h[i])) * f(h[i]);
  const double rs = 1.0 / std::sqrt(ss / width + 1e-6);
  std::vector<double> m(outs);
  for (int64_t o = 0; o < outs; ++o) {
    double acc = 0;
    for (int64_t i = 0; i < width; ++i) acc += double(fn[o * width + i]) * f(h[i]);
    m[o] = acc * rs;
  }
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  pre.resize(hc);
  post.resize(hc);
  comb.resize(hc * hc);
  for (int64_t j = 0; j < hc; ++j) {
    pre[j] = sig(scale[0] * m[j] + base[j]) + eps;
    post[j] = 2 * sig(scale[1] * m[hc + j] + base[hc + j]);
  }
  for (int64_t j = 0; j < hc; ++j) {
    double mx = -1e300, s = 0;
    for (int64_t k = 0; k < hc; ++k)
      mx = std::max(mx, scale[2] * m[2 * hc + j * hc + k] + double(base[2 * hc + j * hc + k]));
    for (int64_t k = 0; k < hc; ++k)
      s += comb[j * hc + k] =
          std::exp(scale[2] * m[2 * hc + j * hc + k] + base[2 * hc + j * hc + k] - mx);
    for (int64_t k = 0; k < hc; ++k) comb[j * hc + k] = comb[j * hc + k] / s + eps;
  }
  auto cols = [&] {
    for (int64_t k = 0; k < hc; ++k) {
      double s = 0;
      for (int64_t j = 0; j < hc; ++j) s += comb[j * hc + k];
      for (int64_t j = 0; j < hc; ++j) comb[j * hc + k] /= s + eps;
    }
  };
  cols();
  for (int it = 1; it < iters; ++it) {
    for (int64_t j = 0; j < hc; ++j) {
      double s = 0;
      for (int64_t k = 0; k < hc; ++k) s += comb[j * hc + k];
      for (int64_t k = 0; k < hc; ++k) comb[j * hc + k] /= s + eps;
    }
    cols();
  }
}
}  // namespace

TEST_CASE("kernels: mHC weights (pre, post, Sinkhorn comb) and the head weights",
          "[kernels][ops]") {
  const int64_t rows = 3, hc = 4, d = 32, width = hc * d, outs = (2 + hc) * hc;
  auto h = random_bf16(rows * width, 1.5f, 21);
  std::mt19937 rng(22);
  std::vector<float> fn(outs * width), base(outs);
  for (auto& v : fn) v = std::normal_distribution<float>(0, 0.1f)(rng);
  for (auto& v : base) v = std::normal_distribution<float>(0, 1)(rng);
  const float scale[3] = {0.7f, 1.3f, 2.0f};
  std::vector<float> pre(rows * hc), post(rows * hc), comb(rows * hc * hc);
  mhc_pre(h.data(), rows, hc, d, fn.data(), base.data(), scale, 20, 1e-6f, 1e-6f, pre.data(),
          post.data(), comb.data());
  std::vector<float> head_pre(rows * hc);
  const float head_scale = 0.9f;
  mhc_head_pre(h.data(), rows, hc, d, fn.data(), base.data(), &head_scale, 1e-6f, 1e-6f,
               head_pre.data());
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<bf16> hr(h.begin() + r * width, h.begin() + (r + 1) * width);
    std::vector<double> p, q, c;
    mhc_reference(hr, hc, d, fn, base, scale, 20, 1e-6, p, q, c);
    for (int64_t j = 0; j < hc; ++j) {
      CHECK(pre[r * hc + j] == Approx(p[j]).epsilon(1e-5));
      CHECK(post[r * hc + j] == Approx(q[j]).epsilon(1e-5));
      CHECK(pre[r * hc + j] > 0.0f);
      CHECK(post[r * hc + j] < 2.0f);
    }
    for (int64_t i = 0; i < hc * hc; ++i) CHECK(comb[r * hc * hc + i] == Approx(c[i]).margin(1e-5));
    for (int64_t j = 0; j < hc; ++j) {
      double row = 0, col = 0;
      for (int64_t k = 0; k < hc; ++k) {
        row += comb[r * hc * hc + j * hc + k];
        col += comb[r * hc * hc + k * hc + j];
      }
      CHECK(col == Approx(1.0).margin(1e-4));
      CHECK(row == Approx(1.0).margin(2e-2));
    }
    // Head: the first hc rows of fn, one scale, no Sinkhorn.
    const float head_scales[3] = {head_scale, 0, 0};
    mhc_reference(hr, hc, d, fn, base, head_scales, 1, 1e-6, p, q, c);
    for (int64_t j = 0; j < hc; ++j) CHECK(head_pre[r * hc + j] == Approx(p[j]).epsilon(1e-5));
  }
}

TEST_CASE("kernels: mHC collapse and expand (transposed comb)", "[kernels][ops]") {
  // Hand case: hc = 2, d = 1, streams (1, 2), comb rows j = [0.25 0.75; 0.5 0.5], y = 4.
  // Output stream k takes comb[j][k] from stream j: out0 = 0.5·4 + 0.25·1 + 0.5·2 = 3.25,
  // out1 = 0.25·4 + 0.75·1 + 0.5·2 = 2.75 (with comb used untransposed: 3.75 and 2.5).
  auto h = to_bf16({1, 2});
  auto y = to_bf16({4});
  const float post[2] = {0.5f, 0.25f}, comb[4] = {0.25f, 0.75f, 0.5f, 0.5f};
  std::vector<bf16> out(2);
  mhc_expand(h.data(), y.data(), 1, 2, 1, post, comb, out.data());
  CHECK(f(out[0]) == 3.25f);
  CHECK(f(out[1]) == 2.75f);
  const float pre[2] = {0.25f, 1.5f};
  bf16 x;
  mhc_collapse(h.data(), 1, 2, 1, pre, &x);
  CHECK(f(x) == 3.25f);

  // Random: against the scalar formulas (same FP32 operations, so exact).
  const int64_t rows = 4, hc = 4, d = 64;
  auto hr = random_bf16(rows * hc * d, 1.0f, 31);
  auto yr = random_bf16(rows * d, 1.0f, 32);
  std::mt19937 rng(33);
  std::vector<float> pr(rows * hc), po(rows * hc), cb(rows * hc * hc);
  for (auto& v : pr) v = std::uniform_real_distribution<float>(0, 1)(rng);
  for (auto& v : po) v = std::uniform_real_distribution<float>(0, 2)(rng);
  for (auto& v : cb) v = std::uniform_real_distribution<float>(0, 1)(rng);
  std::vector<bf16> xs(rows * d), os(rows * hc * d);
  mhc_collapse(hr.data(), rows, hc, d, pr.data(), xs.data());
  mhc_expand(hr.data(), yr.data(), rows, hc, d, po.data(), cb.data(), os.data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < d; ++i) {
      float acc = 0;
      for (int64_t j = 0; j < hc; ++j) acc += pr[r * hc + j] * f(hr[(r * hc + j) * d + i]);
      REQUIRE(xs[r * d + i] == f32_to_bf16(acc));
      for (int64_t k = 0; k < hc; ++k) {
        float mix = 0;
        for (int64_t j = 0; j < hc; ++j)
          mix += cb[r * hc * hc + j * hc + k] * f(hr[(r * hc + j) * d + i]);
        REQUIRE(os[(r * hc + k) * d + i] == f32_to_bf16(po[r * hc + k] * f(yr[r * d + i]) + mix));
      }
    }
}

TEST_CASE("kernels: per-head query RMS norm in BF16 arithmetic", "[kernels][ops]") {
  // Expected values from a Python emulation of the reference's BF16 steps (square, mean,
  // + eps, rsqrt, multiply, each rounded to BF16); an FP32 norm gives the second list.
  const std::vector<float> x = {2.09375f,      0.1728515625f, -1.234375f,   6.5625f,
                                0.1748046875f, -1.7578125f,   0.478515625f, -1.5703125f};
  const std::vector<float> want = {0.80078125f,    0.06640625f, -0.47265625f, 2.515625f,
                                   0.06689453125f, -0.671875f,  0.18359375f,  -0.6015625f};
  const std::vector<float> fp32 = {0.80078125f,    0.06591796875f, -0.470703125f, 2.5f,
                                   0.06689453125f, -0.671875f,     0.1826171875f, -0.6015625f};
  // Two rows × two heads; head 1 of row 1 is the test vector, the others scaled copies.
  std::vector<bf16> q(4 * 8);
  for (int v = 0; v < 4; ++v)
    for (int i = 0; i < 8; ++i)
      q[v * 8 + i] = f32_to_bf16(x[i] * (v == 3 ? 1.0f : 0.25f * (v + 1)));
  head_rms_norm_bf16(q.data(), 2, 2, 8, 1e-6f);
  int differs = 0;
  for (int i = 0; i < 8; ++i) {
    CHECK(f(q[3 * 8 + i]) == want[i]);
    differs += f(q[3 * 8 + i]) != fp32[i];
  }
  CHECK(differs == 4);
  // Scale invariance up to BF16 rounding: the 0.5-scaled copy normalises to about the same.
  for (int i = 0; i < 8; ++i) CHECK(f(q[1 * 8 + i]) == Approx(want[i]).epsilon(0.02));
}

namespace {
// Plain softmax with a sink in double: o = Σ e_j k_j / (Σ e_j + e_sink).
std::vector<double> attention_reference(const bf16* q, const bf16* kv, int64_t dim,
                                        const int32_t* idx, int64_t max_keys, float sink,
                                        float scale) {
  std::vector<double> s;
  std::vector<int32_t> keys;
  for (int64_t j = 0; j < max_keys; ++j)
    if (idx[j] >= 0) {
      double dot = 0;
      for (int64_t i = 0; i < dim; ++i) dot += double(f(q[i])) * f(kv[idx[j] * dim + i]);
      s.push_back(dot * scale);
      keys.push_back(idx[j]);
    }
  std::vector<double> o(dim, 0.0);
  if (s.empty()) return o;
  const double m = *std::max_element(s.begin(), s.end());
  double den = std::exp(double(sink) - m);
  for (double v : s) den += std::exp(v - m);
  for (size_t j = 0; j < s.size(); ++j)
    for (int64_t i = 0; i < dim; ++i) o[i] += std::exp(s[j] - m) / den * f(kv[keys[j] * dim + i]);
  return o;
}
}  // namespace

TEST_CASE("kernels: sparse attention with a sink", "[kernels][ops]") {
  SECTION("hand case: BF16 rounding of the unnormalised exponentials (official kernel)") {
    // Keys e0, e1 (dim 2), q = (0, bf16(-0.1)), scale 1, no sink: s = (0, -0.10009765625),
    // e = (1, 0.904749), den = 1.904749; o1 = bf16(bf16(0.904749) / den) = bf16(0.90625 / den)
    // = 0.4765625 (rounding the probability instead would give 0.474609375).
    auto kv = to_bf16({1, 0, 0, 1});
    auto q = to_bf16({0, -0.1f});
    const int32_t idx[2] = {0, 1};
    const float sink = -kInf;
    std::vector<bf16> o(2);
    sparse_attention(q.data(), 1, 1, 2, kv.data(), idx, 2, &sink, 1.0f, o.data());
    CHECK(f(o[0]) == 0.5234375f);
    CHECK(f(o[1]) == 0.4765625f);
  }
  SECTION("the sink only enlarges the denominator") {
    // q = 0: every score is 0, e_j = 1. Three identical keys and sink = ln 3: o = k·3/6.
    auto kv = to_bf16({1.5f, -3, 0.25f, 1.5f, -3, 0.25f, 1.5f, -3, 0.25f});
    auto q = to_bf16({0, 0, 0});
    const int32_t idx[3] = {0, 1, 2};
    const float sink = std::log(3.0f);
    std::vector<bf16> o(3);
    sparse_attention(q.data(), 1, 1, 3, kv.data(), idx, 3, &sink, 1.0f, o.data());
    CHECK(f(o[0]) == Approx(0.75f).epsilon(1e-6));
    CHECK(f(o[1]) == Approx(-1.5f).epsilon(1e-6));
    CHECK(f(o[2]) == Approx(0.125f).epsilon(1e-6));
    const float no_sink = -kInf;
    sparse_attention(q.data(), 1, 1, 3, kv.data(), idx, 3, &no_sink, 1.0f, o.data());
    CHECK(f(o[0]) == 1.5f);
  }
  SECTION("padding anywhere, empty rows, several heads and tiles vs a double reference") {
    const int64_t rows = 3, heads = 3, dim = 96, n_kv = 200, max_keys = 150;
    auto q = random_bf16(rows * heads * dim, 1.0f, 41);
    auto kv = random_bf16(n_kv * dim, 1.0f, 42);
    std::mt19937 rng(43);
    std::vector<int32_t> idx(rows * max_keys);
    for (auto& v : idx) v = rng() % 4 == 0 ? -1 : static_cast<int32_t>(rng() % n_kv);
    for (int64_t j = 0; j < max_keys; ++j) idx[2 * max_keys + j] = -1;  // row 2: no keys
    const float sink[3] = {0.5f, -2.0f, 3.0f};
    const float scale = 1.0f / std::sqrt(float(dim)) * 4;  // peaky: tiles change the max
    std::vector<bf16> out(rows * heads * dim);
    sparse_attention(q.data(), rows, heads, dim, kv.data(), idx.data(), max_keys, sink, scale,
                     out.data());
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t hd = 0; hd < heads; ++hd) {
        auto ref = attention_reference(q.data() + (r * heads + hd) * dim, kv.data(), dim,
                                       idx.data() + r * max_keys, max_keys, sink[hd], scale);
        double norm = 0;
        for (double v : ref) norm = std::max(norm, std::fabs(v));
        for (int64_t i = 0; i < dim; ++i)
          REQUIRE(f(out[(r * heads + hd) * dim + i]) == Approx(ref[i]).margin(norm * 0.01));
      }
    for (int64_t i = 0; i < heads * dim; ++i) REQUIRE(out[2 * heads * dim + i] == 0);
    // Within one tile, where the padding sits does not matter (bit for bit).
    const int32_t a[6] = {3, -1, 5, -1, 7, -1}, b[6] = {-1, 3, 5, 7, -1, -1};
    std::vector<bf16> oa(heads * dim), ob(heads * dim);
    sparse_attention(q.data(), 1, heads, dim, kv.data(), a, 6, sink, scale, oa.data());
    sparse_attention(q.data(), 1, heads, dim, kv.data(), b, 6, sink, scale, ob.data());
    CHECK(oa == ob);
  }
}

TEST_CASE("kernels: compressor softmax pooling", "[kernels][ops]") {
  // One entry, 3 slots, 3 channels. Channel 0: z = (0, 0, −inf), a = (1, 3, inf) -> 2 (the
  // absent slot's value is ignored, even inf). Channel 1: z = (0, ln 3, −inf), a = (4, 8, 0)
  // -> 0.25·4 + 0.75·8 = 7. Channel 2: z = (5, −inf, −inf) -> a0 = -1.5.
  const std::vector<float> a = {1, 4, -1.5f, 3, 8, 100, kInf, 0, 7};
  const std::vector<float> z = {0, 0, 5, 0, std::log(3.0f), -kInf, -kInf, -kInf, -kInf};
  std::vector<bf16> v(3);
  compress_pool(a.data(), z.data(), 1, 3, 3, v.data());
  CHECK(f(v[0]) == 2.0f);
  CHECK(f(v[1]) == Approx(7.0f).epsilon(4e-3));
  CHECK(f(v[2]) == -1.5f);
  // Random: two entries, 8 slots, against double; slot 0–3 of entry 0 absent (block 0).
  const int64_t entries = 2, slots = 8, width = 16;
  std::mt19937 rng(51);
  std::vector<float> ar(entries * slots * width), zr(ar.size());
  for (auto& x : ar) x = std::normal_distribution<float>(0, 2)(rng);
  for (auto& x : zr) x = std::normal_distribution<float>(0, 3)(rng);
  for (int64_t s = 0; s < 4; ++s)
    for (int64_t u = 0; u < width; ++u) zr[s * width + u] = -kInf;
  std::vector<bf16> vr(entries * width);
  compress_pool(ar.data(), zr.data(), entries, slots, width, vr.data());
  for (int64_t e = 0; e < entries; ++e)
    for (int64_t u = 0; u < width; ++u) {
      double m = -1e300, den = 0, acc = 0;
      for (int64_t s = 0; s < slots; ++s) m = std::max(m, double(zr[(e * slots + s) * width + u]));
      for (int64_t s = 0; s < slots; ++s) den += std::exp(zr[(e * slots + s) * width + u] - m);
      for (int64_t s = 0; s < slots; ++s)
        acc +=
            std::exp(zr[(e * slots + s) * width + u] - m) / den * ar[(e * slots + s) * width + u];
      REQUIRE(f(vr[e * width + u]) == Approx(acc).epsilon(1.0 / 128).margin(1e-5));
    }
}

TEST_CASE("kernels: indexer scores (ReLU, BF16 materialisation, invisible entries)",
          "[kernels][ops]") {
  // 2 heads, dim 2, keys k0 = (2, 3), k1 = (1, -4), k2 = (128, 129); w = (0.5, 2).
  // Head 0 q = (1, 1), head 1 q = (-1, 0).
  //   b0: 0.5·ReLU(5) + 2·ReLU(-2) = 2.5      (without ReLU: -1.5)
  //   b1: 0.5·ReLU(-3) + 2·ReLU(-1) = 0
  // Row 1 has w = (1, 0) and sees b2: q0·k2 = 257 -> bf16 256 (FP32 would keep 257).
  auto q = to_bf16({1, 1, -1, 0, 1, 1, -1, 0});
  auto keys = to_bf16({2, 3, 1, -4, 128, 129});
  auto w = to_bf16({0.5f, 2, 1, 0});
  const int64_t n_visible[2] = {2, 3};
  std::vector<float> s(2 * 3);
  indexer_scores(q.data(), w.data(), 2, 2, 2, keys.data(), 3, n_visible, s.data());
  CHECK(s[0] == 2.5f);
  CHECK(s[1] == 0.0f);
  CHECK(s[2] == -kInf);  // b = 2 not visible to row 0
  CHECK(s[3] == 5.0f);
  CHECK(s[4] == 0.0f);
  CHECK(s[5] == 256.0f);  // bf16(q·k) = bf16(257) = 256; FP32 would give 257
  // Random: close to a double-precision reference.
  const int64_t rows = 2, heads = 8, dim = 32, n_keys = 20;
  auto qr = random_bf16(rows * heads * dim, 1.0f, 61);
  auto kr = random_bf16(n_keys * dim, 1.0f, 62);
  auto wr = random_bf16(rows * heads, 0.3f, 63);
  const int64_t vis[2] = {20, 7};
  std::vector<float> sr(rows * n_keys);
  indexer_scores(qr.data(), wr.data(), rows, heads, dim, kr.data(), n_keys, vis, sr.data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < n_keys; ++b) {
      if (b >= vis[r]) {
        REQUIRE(sr[r * n_keys + b] == -kInf);
        continue;
      }
      double total = 0, mag = 0;
      for (int64_t hd = 0; hd < heads; ++hd) {
        double dot = 0;
        for (int64_t i = 0; i < dim; ++i)
          dot += double(f(qr[(r * heads + hd) * dim + i])) * f(kr[b * dim + i]);
        total += std::max(dot, 0.0) * f(wr[r * heads + hd]);
        mag += std::fabs(std::max(dot, 0.0) * f(wr[r * heads + hd]));
      }
      REQUIRE(sr[r * n_keys + b] == Approx(total).margin(mag * 0.02 + 1e-6));
      REQUIRE(sr[r * n_keys + b] == round_bf16(sr[r * n_keys + b]));  // a BF16 value
    }
}

TEST_CASE("kernels: top-k indices (score order, ties to the lower index, padding)", "[kernels][ops]") {
  const std::vector<float> s = {1,     3, 3,     2, 3, -kInf,  //
                                1,     3, 3,     2, 3, -kInf,  //
                                5,     4, 9,     9, 9, 9,      //
                                -kInf, 0, -kInf, 0, 0, 0};
  const int64_t vis[4] = {5, 3, 0, 6};
  std::vector<int32_t> idx(4 * 4);
  topk_indices(s.data(), 4, 6, vis, 4, idx.data());
  // Row 0: 3, 3, 3 at 1, 2, 4, then 2 at 3: larger score first, ties by lower index.
  CHECK(std::vector<int32_t>(idx.begin(), idx.begin() + 4) == std::vector<int32_t>{1, 2, 4, 3});
  // Row 1: only 3 visible -> 3 at 1, 2, then 1 at 0, and one −1.
  CHECK(std::vector<int32_t>(idx.begin() + 4, idx.begin() + 8) ==
        std::vector<int32_t>{1, 2, 0, -1});
  CHECK(std::vector<int32_t>(idx.begin() + 8, idx.begin() + 12) ==
        std::vector<int32_t>{-1, -1, -1, -1});
  // Row 3: four zeros tie at 1, 3, 4, 5 and k = 4 takes them, not the −inf ones.
  CHECK(std::vector<int32_t>(idx.begin() + 12, idx.end()) == std::vector<int32_t>{1, 3, 4, 5});
  std::vector<int32_t> two(4 * 2);
  topk_indices(s.data(), 4, 6, vis, 2, two.data());
  CHECK(two == std::vector<int32_t>{1, 2, 1, 2, -1, -1, 1, 3});
  const int64_t vis2[1] = {6};
  topk_indices(s.data() + 12, 1, 6, vis2, 2, two.data());  // 9s at 2..5: the lowest two
  CHECK(two[0] == 2);
  CHECK(two[1] == 3);
}

TEST_CASE("kernels: MoE router (hash, biased selection, unbiased weights)", "[kernels][ops]") {
  // σ = sqrt(softplus(l)); l = 100 would overflow exp in FP32 without the v > 20 rule.
  const std::vector<float> logits = {25, 0, 1, -2, 3, 0.5f, 100, -1};
  auto sigma = [](float l) { return std::sqrt(l > 20 ? l : std::log1p(std::exp(l))); };
  int32_t ex[2];
  float wt[2];
  SECTION("hash ids: no selection, weights from σ") {
    const int64_t ids[2] = {6, 0};  // σ = 10, 5 -> 10/15·1.5 = 1, 5/15·1.5 = 0.5
    moe_route(logits.data(), 1, 8, 2, nullptr, ids, 1.5f, ex, wt);
    CHECK(ex[0] == 6);
    CHECK(ex[1] == 0);
    CHECK(wt[0] == Approx(1.0f).epsilon(1e-6));
    CHECK(wt[1] == Approx(0.5f).epsilon(1e-6));
  }
  SECTION("top-k of σ + bias, weights from the unbiased σ") {
    std::vector<float> bias(8, 0.0f);
    moe_route(logits.data(), 1, 8, 2, bias.data(), nullptr, 2.5f, ex, wt);
    CHECK(ex[0] == 6);
    CHECK(ex[1] == 0);
    bias[3] = 20.0f;  // σ3 + 20 is the largest: expert 3 first, then 6
    moe_route(logits.data(), 1, 8, 2, bias.data(), nullptr, 2.5f, ex, wt);
    CHECK(ex[0] == 3);
    CHECK(ex[1] == 6);
    const float s3 = sigma(-2), s6 = 10;
    CHECK(wt[0] == Approx(s3 / (s3 + s6) * 2.5f).epsilon(1e-6));
    CHECK(wt[1] == Approx(s6 / (s3 + s6) * 2.5f).epsilon(1e-6));
    CHECK(wt[0] + wt[1] == Approx(2.5f));
  }
  SECTION("ties go to the lower index; several rows") {
    std::vector<float> l2 = {1, 1, 1, 1, -3, 2, 2, -3};
    int32_t e2[4];
    float w2[4];
    moe_route(l2.data(), 2, 4, 2, nullptr, nullptr, 1.0f, e2, w2);
    CHECK(e2[0] == 0);
    CHECK(e2[1] == 1);
    CHECK(w2[0] == Approx(0.5f));
    CHECK(e2[2] == 1);
    CHECK(e2[3] == 2);
    CHECK(w2[2] == Approx(0.5f));
  }
}

TEST_CASE("kernels: clamped SwiGLU", "[kernels][ops]") {
  // a clamps above only, b on both sides: (20, -30) -> silu(10)·(-10); (-20, 30) ->
  // silu(-20)·10; (-1, 2) -> silu(-1)·2; (0.5, 5) -> silu(0.5)·5.
  auto a = to_bf16({20, -20, -1, 0.5f});
  auto b = to_bf16({-30, 30, 2, 5});
  auto silu = [](double v) { return v / (1 + std::exp(-v)); };
  const double want[4] = {silu(10) * -10, silu(-20) * 10, silu(-1) * 2, silu(0.5) * 5};
  std::vector<bf16> u(8);
  swiglu_clamped(a.data(), b.data(), 1, 4, 10.0f, nullptr, u.data());
  for (int i = 0; i < 4; ++i) CHECK(f(u[i]) == Approx(want[i]).epsilon(1.0 / 256));
  CHECK(f(u[0]) == -100.0f);  // -99.9955 rounds to -100 in BF16
  // Two rows with routing weights 0.5 and 3.
  std::vector<bf16> a2(8), b2(8);
  std::copy(a.begin(), a.end(), a2.begin());
  std::copy(a.begin(), a.end(), a2.begin() + 4);
  std::copy(b.begin(), b.end(), b2.begin());
  std::copy(b.begin(), b.end(), b2.begin() + 4);
  const float rw[2] = {0.5f, 3.0f};
  swiglu_clamped(a2.data(), b2.data(), 2, 4, 10.0f, rw, u.data());
  for (int i = 0; i < 4; ++i) {
    CHECK(f(u[i]) == Approx(want[i] * 0.5).epsilon(1.0 / 256));
    CHECK(f(u[4 + i]) == Approx(want[i] * 3).epsilon(1.0 / 256));
  }
}

TEST_CASE("kernels: token sampling", "[kernels][ops]") {
  const std::vector<float> ties = {1, 5, 5, 2};
  CHECK(sample_token(ties.data(), 4, 0.0f, 1.0f, 0.9) == 1);  // greedy: lowest index
  CHECK(sample_token(ties.data(), 4, -1.0f, 0.5f, 0.1) == 1);
  CHECK(sample_token(ties.data(), 4, 1.0f, 1e-6f, 0.99) == 1);  // tiny top_p: the argmax
  // p = (0.1, 0.2, 0.3, 0.4): in order of probability 3, 2, 1, 0 with CDF .4 .7 .9 1.
  std::vector<float> l = {std::log(0.1f), std::log(0.2f), std::log(0.3f), std::log(0.4f)};
  CHECK(sample_token(l.data(), 4, 1.0f, 1.0f, 0.0) == 3);
  CHECK(sample_token(l.data(), 4, 1.0f, 1.0f, 0.5) == 2);
  CHECK(sample_token(l.data(), 4, 1.0f, 1.0f, 0.5) == 2);  // deterministic for a given u
  CHECK(sample_token(l.data(), 4, 1.0f, 1.0f, 0.95) == 0);
  // Counts over a uniform grid of u follow the distribution.
  auto counts = [&](float temperature, float top_p) {
    std::vector<int> c(4, 0);
    const int n = 10000;
    for (int i = 0; i < n; ++i) ++c[sample_token(l.data(), 4, temperature, top_p, (i + 0.5) / n)];
    return c;
  };
  auto c1 = counts(1.0f, 1.0f);
  CHECK(c1[0] == Approx(1000).margin(2));
  CHECK(c1[1] == Approx(2000).margin(2));
  CHECK(c1[2] == Approx(3000).margin(2));
  CHECK(c1[3] == Approx(4000).margin(2));
  // top_p = 0.6: the nucleus is {3, 2} (mass 0.7), renormalised to 4/7 and 3/7.
  auto c2 = counts(1.0f, 0.6f);
  CHECK(c2[0] == 0);
  CHECK(c2[1] == 0);
  CHECK(c2[3] == Approx(10000 * 4.0 / 7).margin(2));
  // Temperature 2: p ∝ sqrt(p).
  auto c3 = counts(2.0f, 1.0f);
  double z = std::sqrt(0.1) + std::sqrt(0.2) + std::sqrt(0.3) + std::sqrt(0.4);
  for (int t = 0; t < 4; ++t)
    CHECK(c3[t] == Approx(10000 * std::sqrt(0.1 * (t + 1)) / z).margin(2));
  // A large vocabulary with a flat tail: the nucleus search extends past its first batch.
  std::vector<float> big(100000, 0.0f);
  big[77777] = 3.0f;
  const int64_t t = sample_token(big.data(), 100000, 1.0f, 0.9f, 0.99);
  CHECK(t >= 0);
  CHECK(t < 100000);
  CHECK(sample_token(big.data(), 100000, 1.0f, 0.9f, 0.0) == 77777);
}

namespace {
// The scalar definitions of the FP8/FP4 linears (one output at a time, chunk sums sequential in
// K): the tiled, multi-threaded kernels must reproduce them bit for bit.
std::vector<bf16> fp8_linear_scalar(const std::vector<bf16>& x, int64_t rows, int64_t k,
                                    const std::vector<uint8_t>& w, const std::vector<uint8_t>& ws,
                                    int64_t n) {
  const int64_t groups = k / 128;
  std::vector<uint8_t> codes(rows * k), scales(rows * groups);
  a8_quantize(x.data(), rows, k, codes.data(), scales.data());
  std::vector<bf16> y(rows * n);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n; ++o) {
      float acc = 0.0f;
      for (int64_t g = 0; g < groups; ++g) {
        float part = 0.0f;
        for (int64_t i = g * 128; i < g * 128 + 128; ++i)
          part += e4m3_to_f32(w[o * k + i]) * e4m3_to_f32(codes[r * k + i]);
        acc += part * e8m0_to_f32(scales[r * groups + g]) * e8m0_to_f32(ws[(o / 128) * groups + g]);
      }
      y[r * n + o] = f32_to_bf16(acc);
    }
  return y;
}
std::vector<bf16> fp4_linear_scalar(const std::vector<bf16>& x, int64_t rows, int64_t k,
                                    const std::vector<uint8_t>& w, const std::vector<uint8_t>& ws,
                                    int64_t n) {
  const int64_t groups = k / 128, wgroups = k / 32;
  std::vector<uint8_t> codes(rows * k), scales(rows * groups);
  a8_quantize(x.data(), rows, k, codes.data(), scales.data());
  std::vector<bf16> y(rows * n);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n; ++o) {
      float acc = 0.0f;
      for (int64_t g = 0; g < wgroups; ++g) {
        float part = 0.0f;
        for (int64_t i = g * 32; i < g * 32 + 32; ++i)
          part +=
              e2m1_to_f32(fp4_nibble(w.data() + o * (k / 2), i)) * e4m3_to_f32(codes[r * k + i]);
        acc += part * e8m0_to_f32(ws[o * wgroups + g]) * e8m0_to_f32(scales[r * groups + g / 4]);
      }
      y[r * n + o] = f32_to_bf16(acc);
    }
  return y;
}
}  // namespace

TEST_CASE("kernels: tiled FP8/FP4 linears equal their scalar definition bit for bit",
          "[kernels][ops]") {
  std::mt19937 rng(71);
  std::normal_distribution<float> nd(0, 1);
  const int64_t shapes[][3] = {{1, 256, 37}, {2, 128, 16}, {7, 384, 300}, {64, 512, 150}};
  for (const auto& sh : shapes) {
    const int64_t rows = sh[0], k = sh[1], n = sh[2];
    auto x = random_bf16(rows * k, 3.0f, static_cast<uint32_t>(rows * 1000 + n));
    std::vector<uint8_t> w(n * k), ws(((n + 127) / 128) * (k / 128));
    for (auto& c : w) c = f32_to_e4m3(nd(rng) * 50);
    for (auto& s : ws) s = static_cast<uint8_t>(115 + rng() % 10);
    std::vector<bf16> y(rows * n);
    fp8_linear(x.data(), rows, k, w.data(), ws.data(), n, y.data());
    CHECK(y == fp8_linear_scalar(x, rows, k, w, ws, n));
    std::vector<uint8_t> w4(n * k / 2), ws4(n * k / 32);
    for (auto& b : w4) b = static_cast<uint8_t>(rng() & 0xff);
    for (auto& s : ws4) s = static_cast<uint8_t>(118 + rng() % 6);
    fp4_linear(x.data(), rows, k, w4.data(), ws4.data(), n, y.data());
    CHECK(y == fp4_linear_scalar(x, rows, k, w4, ws4, n));
    // Rows are independent of their neighbours (row pairing, tiling, threads).
    std::vector<bf16> one(n);
    fp8_linear(x.data() + (rows - 1) * k, 1, k, w.data(), ws.data(), n, one.data());
    fp8_linear(x.data(), rows, k, w.data(), ws.data(), n, y.data());
    CHECK(std::equal(one.begin(), one.end(), y.begin() + (rows - 1) * n));
  }
}

TEST_CASE("kernels: attention and indexer equal the scalar recipe of ops.h bit for bit",
          "[kernels][ops]") {
  // 20 heads: one full block of 16 and a partial one; 150 key slots: three tiles, padding.
  const int64_t rows = 2, heads = 20, dim = 40, n_kv = 90, max_keys = 150;
  auto q = random_bf16(rows * heads * dim, 1.0f, 81);
  auto kv = random_bf16(n_kv * dim, 1.0f, 82);
  std::mt19937 rng(83);
  std::vector<int32_t> idx(rows * max_keys);
  for (auto& v : idx) v = rng() % 5 == 0 ? -1 : static_cast<int32_t>(rng() % n_kv);
  for (int64_t j = 64; j < 128; ++j) idx[j] = -1;  // row 0: a whole tile of padding
  std::vector<float> sink(heads);
  for (auto& v : sink) v = std::normal_distribution<float>(0, 1)(rng);
  const float scale = 0.6f;
  std::vector<bf16> out(rows * heads * dim);
  sparse_attention(q.data(), rows, heads, dim, kv.data(), idx.data(), max_keys, sink.data(), scale,
                   out.data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < heads; ++h) {
      const bf16* qh = q.data() + (r * heads + h) * dim;
      std::vector<float> acc(dim, 0.0f);
      float m = -kInf, den = 0.0f;
      for (int64_t t0 = 0; t0 < max_keys; t0 += 64) {
        const int64_t tn = std::min<int64_t>(64, max_keys - t0);
        std::vector<float> s(tn, -kInf);
        float tmax = -kInf;
        for (int64_t j = 0; j < tn; ++j) {
          const int32_t key = idx[r * max_keys + t0 + j];
          if (key < 0) continue;
          float dot = 0.0f;
          for (int64_t i = 0; i < dim; ++i) dot += f(qh[i]) * f(kv[key * dim + i]);
          s[j] = dot * scale;
          tmax = std::max(tmax, s[j]);
        }
        if (tmax == -kInf) continue;
        const float mn = std::max(m, tmax), resc = std::exp(m - mn);
        float sum = 0.0f;
        for (int64_t j = 0; j < tn; ++j) sum += (s[j] = std::exp(s[j] - mn));
        den = den * resc + sum;
        for (auto& a : acc) a *= resc;
        for (int64_t j = 0; j < tn; ++j) {
          const int32_t key = idx[r * max_keys + t0 + j];
          if (key < 0) continue;
          for (int64_t i = 0; i < dim; ++i) acc[i] += f(kv[key * dim + i]) * round_bf16(s[j]);
        }
        m = mn;
      }
      den += std::exp(sink[h] - m);
      for (int64_t i = 0; i < dim; ++i)
        REQUIRE(out[(r * heads + h) * dim + i] == f32_to_bf16(acc[i] / den));
    }

  // Indexer: per head the dot in index order, BF16 terms summed in head order.
  const int64_t n_keys = 33;
  auto keys = random_bf16(n_keys * dim, 1.0f, 84);
  auto w = random_bf16(rows * heads, 0.2f, 85);
  const int64_t vis[2] = {33, 32};
  std::vector<float> sc(rows * n_keys);
  indexer_scores(q.data(), w.data(), rows, heads, dim, keys.data(), n_keys, vis, sc.data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < vis[r]; ++b) {
      float total = 0.0f;
      for (int64_t h = 0; h < heads; ++h) {
        float dot = 0.0f;
        for (int64_t i = 0; i < dim; ++i)
          dot += f(q[(r * heads + h) * dim + i]) * f(keys[b * dim + i]);
        total += round_bf16(std::max(round_bf16(dot), 0.0f) * f(w[r * heads + h]));
      }
      REQUIRE(sc[r * n_keys + b] == round_bf16(total));
    }
  CHECK(sc[2 * n_keys - 1] == -kInf);
}

TEST_CASE("kernels: results do not depend on the number of threads", "[kernels][ops]") {
  const int64_t rows = 6, k = 512, n = 300, heads = 40, dim = 64, n_kv = 50, max_keys = 100;
  auto x = random_bf16(rows * k, 2.0f, 91);
  auto wb = random_bf16(n * k, 0.05f, 92);
  std::mt19937 rng(93);
  std::vector<uint8_t> w8(n * k), s8(3 * 4), w4(n * k / 2), s4(n * k / 32);
  for (auto& c : w8) c = f32_to_e4m3(std::normal_distribution<float>(0, 30)(rng));
  for (auto& s : s8) s = static_cast<uint8_t>(118 + rng() % 6);
  for (auto& b : w4) b = static_cast<uint8_t>(rng() & 0xff);
  for (auto& s : s4) s = static_cast<uint8_t>(118 + rng() % 6);
  auto q = random_bf16(rows * heads * dim, 1.0f, 94);
  auto kv = random_bf16(n_kv * dim, 1.0f, 95);
  std::vector<int32_t> idx(rows * max_keys);
  for (auto& v : idx) v = rng() % 7 == 0 ? -1 : static_cast<int32_t>(rng() % n_kv);
  std::vector<float> sink(heads, 0.3f);
  struct Outputs {
    std::vector<bf16> y8, y4, yb, att;
    std::vector<float> yf;
    bool operator==(const Outputs&) const = default;
  };
  auto run = [&] {
    Outputs o{std::vector<bf16>(rows * n), std::vector<bf16>(rows * n), std::vector<bf16>(rows * n),
              std::vector<bf16>(rows * heads * dim), std::vector<float>(rows * n)};
    fp8_linear(x.data(), rows, k, w8.data(), s8.data(), n, o.y8.data());
    fp4_linear(x.data(), rows, k, w4.data(), s4.data(), n, o.y4.data());
    bf16_linear(x.data(), rows, k, wb.data(), n, o.yb.data());
    f32_linear(x.data(), rows, k, wb.data(), n, o.yf.data());
    sparse_attention(q.data(), rows, heads, dim, kv.data(), idx.data(), max_keys, sink.data(),
                     0.125f, o.att.data());
    return o;
  };
  const char* before = std::getenv("V4EVAL_CPU_THREADS");
  const std::string saved = before != nullptr ? before : "";
  setenv("V4EVAL_CPU_THREADS", "1", 1);
  const Outputs one = run();
  setenv("V4EVAL_CPU_THREADS", "3", 1);
  const Outputs three = run();
  setenv("V4EVAL_CPU_THREADS", "7", 1);
  const Outputs seven = run();
  if (before != nullptr) {
    setenv("V4EVAL_CPU_THREADS", saved.c_str(), 1);
  } else {
    unsetenv("V4EVAL_CPU_THREADS");
  }
  CHECK(one == three);
  CHECK(one == seven);
}
