// Attention-side ops (v4-model.md §3.4, §3.6, §3.7): the BF16 query norm, sparse attention with
// a sink, compressor pooling, indexer scores and top-k.

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"
#include "kernels/numeric.h"
#include "kernels/ops.h"

namespace v4eval::kernels {

void head_rms_norm_bf16(bf16* x, int64_t rows, int64_t heads, int64_t dim, float eps) {
  // The reference's in-place `q *= rsqrt(q.square().mean(-1) + eps)` on a BF16 tensor: every
  // elementwise result is rounded to BF16; the mean accumulates in FP32 and rounds once.
  cpu::parallel_for(rows * heads, dim, [&](int64_t v0, int64_t v1) {
    for (int64_t v = v0; v < v1; ++v) {
      bf16* q = x + v * dim;
      float sum = 0.0f;
      for (int64_t i = 0; i < dim; ++i) {
        const float a = bf16_to_f32(q[i]);
        sum += round_bf16(a * a);
      }
      const float mean = round_bf16(sum / static_cast<float>(dim));
      const float r = round_bf16(1.0f / std::sqrt(round_bf16(mean + eps)));
      for (int64_t i = 0; i < dim; ++i) q[i] = f32_to_bf16(bf16_to_f32(q[i]) * r);
    }
  });
}

namespace {

constexpr int64_t kHeadLanes = 16;  // heads per vector block

// A block of up to 16 heads' FP32 vectors transposed to [dim][16] (absent heads zero), so that
// one key's dot products with all of them run as 16 lanes, each summing in index order.
void transpose_heads(const bf16* q, int64_t heads_in_block, int64_t dim, float* qt) {
  std::fill(qt, qt + dim * kHeadLanes, 0.0f);
  for (int64_t h = 0; h < heads_in_block; ++h)
    for (int64_t i = 0; i < dim; ++i) qt[i * kHeadLanes + h] = bf16_to_f32(q[h * dim + i]);
}

// dot[h] = Σ_i qt[i][h] · fp32(k[i]), sequential in i for every head (the scalar order).
void head_dots(const float* qt, const bf16* k, int64_t dim, float* dot) {
  cpu::Lanes16 a;
  for (int64_t i = 0; i < dim; ++i, qt += kHeadLanes) {
    const float kv = bf16_to_f32(k[i]);
    a.v0 += cpu::load4(qt) * kv;
    a.v1 += cpu::load4(qt + 4) * kv;
    a.v2 += cpu::load4(qt + 8) * kv;
    a.v3 += cpu::load4(qt + 12) * kv;
  }
  a.store(dot);
}
// The same for two keys at once (independent chains hide the add latency).
void head_dots2(const float* qt, const bf16* k0, const bf16* k1, int64_t dim, float* dot0,
                float* dot1) {
  cpu::Lanes16 a, b;
  for (int64_t i = 0; i < dim; ++i, qt += kHeadLanes) {
    const cpu::v4f q0 = cpu::load4(qt), q1 = cpu::load4(qt + 4), q2 = cpu::load4(qt + 8),
                   q3 = cpu::load4(qt + 12);
    const float x0 = bf16_to_f32(k0[i]), x1 = bf16_to_f32(k1[i]);
    a.v0 += q0 * x0;
    a.v1 += q1 * x0;
    a.v2 += q2 * x0;
    a.v3 += q3 * x0;
    b.v0 += q0 * x1;
    b.v1 += q1 * x1;
    b.v2 += q2 * x1;
    b.v3 += q3 * x1;
  }
  a.store(dot0);
  b.store(dot1);
}

}  // namespace

void sparse_attention(const bf16* q, int64_t rows, int64_t heads, int64_t dim, const bf16* kv,
                      const int32_t* key_idx, int64_t max_keys, const float* sink, float scale,
                      bf16* out) {
  // The official sparse_attn kernel: key slots in tiles of 64, online softmax. Per tile the
  // running max m is updated, the accumulator and the denominator are rescaled by
  // exp(m_old − m), the unnormalised exponentials are rounded to BF16 for P·V while the
  // denominator sums them unrounded; the sink joins the denominator at the end. Dot products
  // sum in index order, P·V and the denominator in key order. Work items: (row, 16 heads).
  constexpr int64_t kTile = 64;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  const int64_t blocks = (heads + kHeadLanes - 1) / kHeadLanes;
  cpu::parallel_for(rows * blocks, max_keys * dim * kHeadLanes * 2, [&](int64_t v0, int64_t v1) {
    std::vector<float> qt(static_cast<size_t>(dim * kHeadLanes));
    std::vector<float> acc(static_cast<size_t>(kHeadLanes * dim));
    std::vector<float> s(static_cast<size_t>(kHeadLanes * kTile));  // [head][key in tile]
    float dot0[kHeadLanes], dot1[kHeadLanes], m[kHeadLanes], den[kHeadLanes];
    for (int64_t v = v0; v < v1; ++v) {
      const int64_t r = v / blocks, h0 = (v % blocks) * kHeadLanes;
      const int64_t hn = std::min(kHeadLanes, heads - h0);
      const int32_t* idx = key_idx + r * max_keys;
      transpose_heads(q + (r * heads + h0) * dim, hn, dim, qt.data());
      std::fill(acc.begin(), acc.end(), 0.0f);
      std::fill(m, m + kHeadLanes, neg_inf);
      std::fill(den, den + kHeadLanes, 0.0f);
      for (int64_t t0 = 0; t0 < max_keys; t0 += kTile) {
        const int64_t tn = std::min(kTile, max_keys - t0);
        const int32_t* ti = idx + t0;
        for (int64_t j = 0; j < tn;) {  // scores s[h][j]
          if (ti[j] < 0) {
            for (int64_t h = 0; h < hn; ++h) s[h * kTile + j] = neg_inf;
            ++j;
            continue;
          }
          int64_t j2 = j + 1;
          while (j2 < tn && ti[j2] < 0) {
            for (int64_t h = 0; h < hn; ++h) s[h * kTile + j2] = neg_inf;
            ++j2;
          }
          const bf16* k0 = kv + static_cast<int64_t>(ti[j]) * dim;
          if (j2 < tn) {
            head_dots2(qt.data(), k0, kv + static_cast<int64_t>(ti[j2]) * dim, dim, dot0, dot1);
            for (int64_t h = 0; h < hn; ++h) {
              s[h * kTile + j] = dot0[h] * scale;
              s[h * kTile + j2] = dot1[h] * scale;
            }
          } else {
            head_dots(qt.data(), k0, dim, dot0);
            for (int64_t h = 0; h < hn; ++h) s[h * kTile + j] = dot0[h] * scale;
          }
          j = j2 + 1;
        }
        for (int64_t h = 0; h < hn; ++h) {
          float* sh = &s[h * kTile];
          float tile_max = neg_inf;
          for (int64_t j = 0; j < tn; ++j) tile_max = std::max(tile_max, sh[j]);
          if (tile_max == neg_inf) continue;  // a tile of padding changes nothing
          const float m_new = std::max(m[h], tile_max);
          const float rescale = std::exp(m[h] - m_new);  // 0 for the first tile with keys
          float tile_sum = 0.0f;
          for (int64_t j = 0; j < tn; ++j) {
            sh[j] = std::exp(sh[j] - m_new);  // padding: exp(−inf) = 0
            tile_sum += sh[j];
          }
          den[h] = den[h] * rescale + tile_sum;
          float* ah = &acc[h * dim];
          for (int64_t i = 0; i < dim; ++i) ah[i] *= rescale;
          for (int64_t j = 0; j < tn; ++j)
            if (ti[j] >= 0)
              cpu::axpy_bf16(round_bf16(sh[j]), kv + static_cast<int64_t>(ti[j]) * dim, ah, dim);
          m[h] = m_new;
        }
      }
      for (int64_t h = 0; h < hn; ++h) {
        bf16* o = out + (r * heads + h0 + h) * dim;
        if (m[h] == neg_inf) {  // no keys at all
          std::fill(o, o + dim, bf16{0});
          continue;
        }
        const float total = den[h] + std::exp(sink[h0 + h] - m[h]);
        for (int64_t i = 0; i < dim; ++i) o[i] = f32_to_bf16(acc[h * dim + i] / total);
      }
    }
  });
}

void compress_pool(const float* a, const float* z, int64_t entries, int64_t slots, int64_t width,
                   bf16* v) {
  cpu::parallel_for(entries, slots * width * 4, [&](int64_t e0, int64_t e1) {
    for (int64_t e = e0; e < e1; ++e) {
      const float* ae = a + e * slots * width;
      const float* ze = z + e * slots * width;
      for (int64_t u = 0; u < width; ++u) {
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t s = 0; s < slots; ++s) m = std::max(m, ze[s * width + u]);
        if (m == -std::numeric_limits<float>::infinity()) {  // no slot present
          v[e * width + u] = 0;
          continue;
        }
        float den = 0.0f;
        for (int64_t s = 0; s < slots; ++s) den += std::exp(ze[s * width + u] - m);
        float acc = 0.0f;  // softmax first, then Σ p·a, as the reference's (a * softmax(z)).sum()
        for (int64_t s = 0; s < slots; ++s) {
          const float zs = ze[s * width + u];
          if (zs == -std::numeric_limits<float>::infinity()) continue;
          acc += std::exp(zs - m) / den * ae[s * width + u];
        }
        v[e * width + u] = f32_to_bf16(acc);
      }
    }
  });
}

void indexer_scores(const bf16* q, const bf16* w, int64_t rows, int64_t heads, int64_t dim,
                    const bf16* keys, int64_t n_keys, const int64_t* n_visible, float* scores) {
  // Per (row, key): the head dot products (index order, 16 heads a vector), then the heads'
  // BF16 terms summed in head order.
  const int64_t blocks = (heads + kHeadLanes - 1) / kHeadLanes;
  cpu::parallel_for(rows, heads * n_keys * dim, [&](int64_t r0, int64_t r1) {
    std::vector<float> qt(static_cast<size_t>(blocks * dim * kHeadLanes));
    std::vector<float> dots(static_cast<size_t>(blocks * kHeadLanes * 2));
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t visible = std::clamp<int64_t>(n_visible[r], 0, n_keys);
      for (int64_t hb = 0; hb < blocks; ++hb)
        transpose_heads(q + (r * heads + hb * kHeadLanes) * dim,
                        std::min(kHeadLanes, heads - hb * kHeadLanes), dim,
                        &qt[hb * dim * kHeadLanes]);
      for (int64_t b = 0; b < visible; b += 2) {
        const bool pair = b + 1 < visible;
        float* d0 = dots.data();
        float* d1 = d0 + blocks * kHeadLanes;
        for (int64_t hb = 0; hb < blocks; ++hb) {
          if (pair) {
            head_dots2(&qt[hb * dim * kHeadLanes], keys + b * dim, keys + (b + 1) * dim, dim,
                       d0 + hb * kHeadLanes, d1 + hb * kHeadLanes);
          } else {
            head_dots(&qt[hb * dim * kHeadLanes], keys + b * dim, dim, d0 + hb * kHeadLanes);
          }
        }
        for (int64_t e = 0; e < (pair ? 2 : 1); ++e) {
          const float* d = e == 0 ? d0 : d1;
          float total = 0.0f;
          for (int64_t h = 0; h < heads; ++h) {
            const float relu = std::max(round_bf16(d[h]), 0.0f);
            total += round_bf16(relu * bf16_to_f32(w[r * heads + h]));
          }
          scores[r * n_keys + b + e] = round_bf16(total);
        }
      }
      for (int64_t b = visible; b < n_keys; ++b)
        scores[r * n_keys + b] = -std::numeric_limits<float>::infinity();
    }
  });
}

void topk_indices(const float* scores, int64_t rows, int64_t n, const int64_t* n_visible, int64_t k,
                  int32_t* idx) {
  cpu::parallel_for(rows, n * 8, [&](int64_t r0, int64_t r1) {
    std::vector<int32_t> order;
    for (int64_t r = r0; r < r1; ++r) {
      const float* s = scores + r * n;
      const int64_t visible = std::clamp<int64_t>(n_visible[r], 0, n);
      const int64_t take = std::min(k, visible);
      order.resize(static_cast<size_t>(visible));
      std::iota(order.begin(), order.end(), 0);
      // Larger score first, lower index first among equals (a strict weak order; NaN last).
      auto before = [s](int32_t x, int32_t y) {
        const bool xn = std::isnan(s[x]), yn = std::isnan(s[y]);
        if (xn != yn) return yn;
        if (!xn && s[x] != s[y]) return s[x] > s[y];
        return x < y;
      };
      // Left in that order: torch.topk's, which the official sparse attention sees (its tiles
      // of 64 keys round per tile, so the order of keys changes low bits).
      std::partial_sort(order.begin(), order.begin() + take, order.end(), before);
      int32_t* out = idx + r * k;
      for (int64_t i = 0; i < k; ++i) out[i] = i < take ? order[static_cast<size_t>(i)] : -1;
    }
  });
}

}  // namespace v4eval::kernels
