// The linears of v4-model.md §3.0: A8 activation quantisation, FP8 and FP4 block-quantised
// linears, BF16 and FP32 linears. Multi-threaded over output columns; each output element is
// computed by one thread in a fixed order, so results do not depend on the thread count.

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"
#include "kernels/numeric.h"
#include "kernels/ops.h"

namespace v4eval::kernels {

constexpr int64_t kLanes = 16;  // output columns per weight tile

void a8_quantize(const bf16* x, int64_t rows, int64_t k, uint8_t* codes, uint8_t* scales) {
  const int64_t groups = k / 128;
  cpu::parallel_for(rows, k * 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t g = 0; g < groups; ++g) {
        const bf16* xg = x + r * k + g * 128;
        float amax = 0.0f;
        for (int i = 0; i < 128; ++i) amax = std::max(amax, std::fabs(bf16_to_f32(xg[i])));
        const uint8_t sb = a8_scale_e8m0(amax);
        scales[r * groups + g] = sb;
        const float inv = 1.0f / e8m0_to_f32(sb);  // exact: a power of two
        for (int i = 0; i < 128; ++i) {
          float v = std::clamp(bf16_to_f32(xg[i]) * inv, -448.0f, 448.0f);
          codes[r * k + g * 128 + i] = f32_to_e4m3(v);
        }
      }
    }
  });
}

namespace {

// A8(x) dequantised to FP32 codes (the scales stay apart, applied per chunk as the kernel does).
struct QuantisedRows {
  std::vector<float> codes;   // [rows, k], e4m3 values
  std::vector<float> scales;  // [rows, k/128]
};

QuantisedRows quantise_rows(const bf16* x, int64_t rows, int64_t k) {
  const int64_t groups = k / 128;
  std::vector<uint8_t> codes(static_cast<size_t>(rows * k));
  std::vector<uint8_t> scales(static_cast<size_t>(rows * groups));
  a8_quantize(x, rows, k, codes.data(), scales.data());
  QuantisedRows q{std::vector<float>(codes.size()), std::vector<float>(scales.size())};
  for (size_t i = 0; i < codes.size(); ++i) q.codes[i] = e4m3_to_f32(codes[i]);
  for (size_t i = 0; i < scales.size(); ++i) q.scales[i] = e8m0_to_f32(scales[i]);
  return q;
}

// part_r[c] = Σ_i w[i][c] · x_r[i] for 16 output columns c (w a [len][16] tile) and one or two
// rows; each lane sums sequentially in i, the scalar order.
inline void tile_dot(const float* w, const float* x0, int64_t len, float* p0) {
  cpu::Lanes16 a;
  for (int64_t i = 0; i < len; ++i, w += kLanes) {
    a.v0 += cpu::load4(w) * x0[i];
    a.v1 += cpu::load4(w + 4) * x0[i];
    a.v2 += cpu::load4(w + 8) * x0[i];
    a.v3 += cpu::load4(w + 12) * x0[i];
  }
  a.store(p0);
}
inline void tile_dot2(const float* w, const float* x0, const float* x1, int64_t len, float* p0,
                      float* p1) {
  cpu::Lanes16 a, b;
  for (int64_t i = 0; i < len; ++i, w += kLanes) {
    const cpu::v4f w0 = cpu::load4(w), w1 = cpu::load4(w + 4), w2 = cpu::load4(w + 8),
                   w3 = cpu::load4(w + 12);
    a.v0 += w0 * x0[i];
    a.v1 += w1 * x0[i];
    a.v2 += w2 * x0[i];
    a.v3 += w3 * x0[i];
    b.v0 += w0 * x1[i];
    b.v1 += w1 * x1[i];
    b.v2 += w2 * x1[i];
    b.v3 += w3 * x1[i];
  }
  a.store(p0);
  b.store(p1);
}

// One row (decode): eight outputs at a time as eight scalar chains reading the weight rows in
// place. Each output keeps the tiles' order (chunk sums sequential in K), but there is no
// transposed tile to build, which is most of the work when a row has nothing to share it with.
// `weight(row, i)` gives output row's i-th weight value; lanes past n repeat the last output.
template <typename Weight, typename Combine>
void one_row_linear(const float* x, int64_t k, int64_t chunk, int64_t n, Weight weight,
                    Combine combine, bf16* y) {
  constexpr int64_t kChains = 8;
  const int64_t octets = (n + kChains - 1) / kChains;
  cpu::parallel_for(octets, k * kChains, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t o0 = b * kChains, cols = std::min(kChains, n - o0);
      int64_t o[kChains];
      for (int64_t c = 0; c < kChains; ++c) o[c] = o0 + std::min(c, cols - 1);
      float acc[kChains] = {};
      for (int64_t g = 0; g < k / chunk; ++g) {
        float p0 = 0, p1 = 0, p2 = 0, p3 = 0, p4 = 0, p5 = 0, p6 = 0, p7 = 0;
        for (int64_t i = g * chunk; i < (g + 1) * chunk; ++i) {
          const float xv = x[i];
          p0 += weight(o[0], i) * xv;
          p1 += weight(o[1], i) * xv;
          p2 += weight(o[2], i) * xv;
          p3 += weight(o[3], i) * xv;
          p4 += weight(o[4], i) * xv;
          p5 += weight(o[5], i) * xv;
          p6 += weight(o[6], i) * xv;
          p7 += weight(o[7], i) * xv;
        }
        const float p[kChains] = {p0, p1, p2, p3, p4, p5, p6, p7};
        for (int64_t c = 0; c < cols; ++c) acc[c] += combine(p[c], o[c], g);
      }
      for (int64_t c = 0; c < cols; ++c) y[o0 + c] = f32_to_bf16(acc[c]);
    }
  });
}

}  // namespace

void fp8_linear(const bf16* x, int64_t rows, int64_t k, const uint8_t* w_codes,
                const uint8_t* w_scales, int64_t n, bf16* y) {
  // Per output: acc = Σ_chunk (Σ_{i in chunk} w_i·x_i) · s_x · s_w, the chunk sum sequential.
  // Tiles of 16 output columns: the [128][16] dequantised weight tile is shared by all rows.
  const int64_t groups = k / 128;
  const QuantisedRows xq = quantise_rows(x, rows, k);
  float table[256];
  for (int c = 0; c < 256; ++c) table[c] = e4m3_to_f32(static_cast<uint8_t>(c));
  if (rows == 1) {
    one_row_linear(
        xq.codes.data(), k, 128, n, [&](int64_t o, int64_t i) { return table[w_codes[o * k + i]]; },
        [&](float part, int64_t o, int64_t g) {
          return part * xq.scales[g] * e8m0_to_f32(w_scales[(o / 128) * groups + g]);
        },
        y);
    return;
  }
  const int64_t tiles = (n + kLanes - 1) / kLanes;
  cpu::parallel_for(tiles, rows * k * kLanes, [&](int64_t t0, int64_t t1) {
    std::vector<float> wt(128 * kLanes), acc(static_cast<size_t>(rows * kLanes));
    float sw[kLanes], p0[kLanes], p1[kLanes];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o0 = t * kLanes, cols = std::min<int64_t>(kLanes, n - o0);
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t g = 0; g < groups; ++g) {
        for (int64_t c = 0; c < kLanes; ++c) {  // transpose the weight tile
          sw[c] = 0.0f;
          if (c >= cols) {
            for (int64_t i = 0; i < 128; ++i) wt[i * kLanes + c] = 0.0f;
            continue;
          }
          const uint8_t* wr = w_codes + (o0 + c) * k + g * 128;
          for (int64_t i = 0; i < 128; ++i) wt[i * kLanes + c] = table[wr[i]];
          sw[c] = e8m0_to_f32(w_scales[((o0 + c) / 128) * groups + g]);
        }
        for (int64_t r = 0; r < rows; r += 2) {
          const float* x0 = &xq.codes[r * k + g * 128];
          const bool pair = r + 1 < rows;
          if (pair) {
            tile_dot2(wt.data(), x0, x0 + k, 128, p0, p1);
          } else {
            tile_dot(wt.data(), x0, 128, p0);
          }
          const float s0 = xq.scales[r * groups + g];
          for (int64_t c = 0; c < kLanes; ++c) acc[r * kLanes + c] += p0[c] * s0 * sw[c];
          if (!pair) continue;
          const float s1 = xq.scales[(r + 1) * groups + g];
          for (int64_t c = 0; c < kLanes; ++c) acc[(r + 1) * kLanes + c] += p1[c] * s1 * sw[c];
        }
      }
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) y[r * n + o0 + c] = f32_to_bf16(acc[r * kLanes + c]);
    }
  });
}

void fp4_linear(const bf16* x, int64_t rows, int64_t k, const uint8_t* w_packed,
                const uint8_t* w_scales, int64_t n, bf16* y) {
  // Per output: acc = Σ_chunk32 (Σ_{i in chunk} w_i·x_i) · s_w · s_x(chunk / 4).
  const int64_t groups = k / 128, wgroups = k / 32;
  const QuantisedRows xq = quantise_rows(x, rows, k);
  float lut[16];
  for (int c = 0; c < 16; ++c) lut[c] = e2m1_to_f32(static_cast<uint8_t>(c));
  if (rows == 1) {
    one_row_linear(
        xq.codes.data(), k, 32, n,
        [&](int64_t o, int64_t i) { return lut[fp4_nibble(w_packed + o * (k / 2), i)]; },
        [&](float part, int64_t o, int64_t g) {
          return part * e8m0_to_f32(w_scales[o * wgroups + g]) * xq.scales[g / 4];
        },
        y);
    return;
  }
  const int64_t tiles = (n + kLanes - 1) / kLanes;
  cpu::parallel_for(tiles, rows * k * kLanes, [&](int64_t t0, int64_t t1) {
    std::vector<float> wt(32 * kLanes), acc(static_cast<size_t>(rows * kLanes));
    float sw[kLanes], p0[kLanes], p1[kLanes];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o0 = t * kLanes, cols = std::min<int64_t>(kLanes, n - o0);
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t g = 0; g < wgroups; ++g) {
        for (int64_t c = 0; c < kLanes; ++c) {
          sw[c] = 0.0f;
          if (c >= cols) {
            for (int64_t i = 0; i < 32; ++i) wt[i * kLanes + c] = 0.0f;
            continue;
          }
          const uint8_t* wg = w_packed + (o0 + c) * (k / 2) + g * 16;
          for (int64_t j = 0; j < 16; ++j) {  // element 2j: low nibble, 2j + 1: high nibble
            wt[2 * j * kLanes + c] = lut[wg[j] & 15];
            wt[(2 * j + 1) * kLanes + c] = lut[wg[j] >> 4];
          }
          sw[c] = e8m0_to_f32(w_scales[(o0 + c) * wgroups + g]);
        }
        for (int64_t r = 0; r < rows; r += 2) {
          const float* x0 = &xq.codes[r * k + g * 32];
          const bool pair = r + 1 < rows;
          if (pair) {
            tile_dot2(wt.data(), x0, x0 + k, 32, p0, p1);
          } else {
            tile_dot(wt.data(), x0, 32, p0);
          }
          const float s0 = xq.scales[r * groups + g / 4];
          for (int64_t c = 0; c < kLanes; ++c) acc[r * kLanes + c] += p0[c] * sw[c] * s0;
          if (!pair) continue;
          const float s1 = xq.scales[(r + 1) * groups + g / 4];
          for (int64_t c = 0; c < kLanes; ++c) acc[(r + 1) * kLanes + c] += p1[c] * sw[c] * s1;
        }
      }
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) y[r * n + o0 + c] = f32_to_bf16(acc[r * kLanes + c]);
    }
  });
}

namespace {

// y[r, o] = Σ_i fp32(w[o, i])·fp32(x[r, i]) in the order of cpu::dot_bf16: element i goes to
// lane i mod 16, each lane sums sequentially, then the lanes are summed from lane 0 up. Blocks of
// 32 outputs keep their weights in cache while pairs of rows stream past; one thread per output.
template <typename Store>
void dense_linear(const bf16* x, int64_t rows, int64_t k, const bf16* w, int64_t n, Store store) {
  constexpr int64_t kOutBlock = 32;
  std::vector<float> xf(static_cast<size_t>(rows * k));
  for (size_t i = 0; i < xf.size(); ++i) xf[i] = bf16_to_f32(x[i]);
  const int64_t body = k / kLanes * kLanes;
  const int64_t blocks = (n + kOutBlock - 1) / kOutBlock;
  cpu::parallel_for(blocks, rows * k * kOutBlock, [&](int64_t b0, int64_t b1) {
    float tail0[kLanes], tail1[kLanes];
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t o_end = std::min(n, (b + 1) * kOutBlock);
      for (int64_t r = 0; r < rows; r += 2) {
        const bool pair = r + 1 < rows;
        const float* x0 = &xf[r * k];
        const float* x1 = pair ? x0 + k : x0;  // a lone last row is computed twice, stored once
        for (int64_t o = b * kOutBlock; o < o_end; ++o) {
          const bf16* wr = w + o * k;
          cpu::Lanes16 a, c;
          for (int64_t i = 0; i < body; i += kLanes) {
            const cpu::v4f w0 = cpu::load4_bf16(wr + i), w1 = cpu::load4_bf16(wr + i + 4),
                           w2 = cpu::load4_bf16(wr + i + 8), w3 = cpu::load4_bf16(wr + i + 12);
            a.v0 += w0 * cpu::load4(x0 + i);
            a.v1 += w1 * cpu::load4(x0 + i + 4);
            a.v2 += w2 * cpu::load4(x0 + i + 8);
            a.v3 += w3 * cpu::load4(x0 + i + 12);
            c.v0 += w0 * cpu::load4(x1 + i);
            c.v1 += w1 * cpu::load4(x1 + i + 4);
            c.v2 += w2 * cpu::load4(x1 + i + 8);
            c.v3 += w3 * cpu::load4(x1 + i + 12);
          }
          a.store(tail0);
          c.store(tail1);
          for (int64_t i = body; i < k; ++i) {
            tail0[i - body] += bf16_to_f32(wr[i]) * x0[i];
            tail1[i - body] += bf16_to_f32(wr[i]) * x1[i];
          }
          float s0 = tail0[0], s1 = tail1[0];
          for (int64_t l = 1; l < kLanes; ++l) {
            s0 += tail0[l];
            s1 += tail1[l];
          }
          store(r, o, s0);
          if (pair) store(r + 1, o, s1);
        }
      }
    }
  });
}

}  // namespace

void bf16_linear(const bf16* x, int64_t rows, int64_t k, const bf16* w, int64_t n, bf16* y) {
  dense_linear(x, rows, k, w, n,
               [&](int64_t r, int64_t o, float v) { y[r * n + o] = f32_to_bf16(v); });
}

void f32_linear(const bf16* x, int64_t rows, int64_t k, const bf16* w, int64_t n, float* y) {
  dense_linear(x, rows, k, w, n, [&](int64_t r, int64_t o, float v) { y[r * n + o] = v; });
}

}  // namespace v4eval::kernels
