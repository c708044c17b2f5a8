// Attention with a sink, the lightning indexer's scores and top-k, the MoE router and token
// sampling on CUDA (v4-model.md §3.4, §3.7, §3.10, §3.14).

#include <cmath>
#include <vector>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace v4eval::kernels::cuda {
namespace {

using detail::blocks_for;
using detail::require;

// ---- Sparse attention with a sink ----------------------------------------------------------
//
// The reference's algorithm (kernels/cpu/attention_cpu.cpp, after the official sparse_attn):
// key slots in tiles of 64, online softmax; per tile the running max moves, accumulator and
// denominator are rescaled by exp(m_old − m), the unnormalised exponentials are rounded to BF16
// for P·V and summed unrounded into the denominator; the sink joins at the end.
// Block = (row, kHeads heads), 256 threads. Per tile: the 64 keys are staged in shared memory;
// a thread per (head, key) computes the dot product in index order (bit-identical to the
// reference); lane 0 of warp h does head h's softmax bookkeeping in key order; a thread per 2
// dims accumulates P·V in key order. Only expf may differ from the host's std::exp.

constexpr int kAttnThreads = 256;
constexpr int kAttnTile = 64;
constexpr int kAttnMaxDim = 1024;
constexpr int kAttnPairs = kAttnMaxDim / (2 * kAttnThreads);  // dim pairs a thread

template <int kHeads>
__global__ void __launch_bounds__(kAttnThreads) sparse_attention_kernel(
    const bf16* q, int64_t heads, int64_t dim, const bf16* kv, const int32_t* key_idx,
    int64_t max_keys, const float* sink, float scale, bf16* out) {
  extern __shared__ float smem[];
  const int pairs = static_cast<int>(dim / 2), pitch = pairs + 1;  // words; +1: no conflicts
  uint32_t* ks = reinterpret_cast<uint32_t*>(smem);                 // [64][pitch] BF16 pairs
  float* qs = smem + kAttnTile * pitch;                             // [kHeads][dim]
  float* ps = qs + kHeads * dim;                                    // [kHeads][64]
  __shared__ int32_t tile_idx[kAttnTile];
  __shared__ float run_max[kHeads], run_den[kHeads], rescale[kHeads];
  __shared__ int skip[kHeads];
  const int64_t row = blockIdx.x;
  const int64_t h0 = static_cast<int64_t>(blockIdx.y) * kHeads;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int32_t* idx = key_idx + row * max_keys;
  const uint32_t* kv32 = reinterpret_cast<const uint32_t*>(kv);

  for (int64_t i = threadIdx.x; i < kHeads * dim; i += kAttnThreads)
    qs[i] = bf16_to_f32(q[(row * heads + h0) * dim + i]);
  if (threadIdx.x < kHeads) {
    run_max[threadIdx.x] = -INFINITY;
    run_den[threadIdx.x] = 0.0f;
  }
  float acc[kHeads][2 * kAttnPairs];
#pragma unroll
  for (int h = 0; h < kHeads; ++h)
#pragma unroll
    for (int i = 0; i < 2 * kAttnPairs; ++i) acc[h][i] = 0.0f;

  for (int64_t t0 = 0; t0 < max_keys; t0 += kAttnTile) {
    const int tn = static_cast<int>(min(static_cast<int64_t>(kAttnTile), max_keys - t0));
    __syncthreads();  // the previous tile's readers are done
    if (threadIdx.x < kAttnTile) tile_idx[threadIdx.x] = threadIdx.x < tn ? idx[t0 + threadIdx.x] : -1;
    __syncthreads();
    for (int wi = threadIdx.x; wi < tn * pairs; wi += kAttnThreads) {
      const int j = wi / pairs, p = wi % pairs;
      const int32_t kj = tile_idx[j];
      ks[j * pitch + p] = kj >= 0 ? kv32[static_cast<int64_t>(kj) * pairs + p] : 0u;
    }
    __syncthreads();
    for (int t = threadIdx.x; t < kHeads * kAttnTile; t += kAttnThreads) {
      const int h = t / kAttnTile, j = t % kAttnTile;
      if (j >= tn) continue;
      float s = -INFINITY;
      if (tile_idx[j] >= 0) {
        const float* qh = qs + h * dim;
        const uint32_t* kr = ks + j * pitch;
        float dot = 0.0f;
        for (int p = 0; p < pairs; ++p) {
          const uint32_t two = kr[p];
          dot = __fmaf_rn(qh[2 * p], bf16_to_f32(static_cast<uint16_t>(two & 0xffffu)), dot);
          dot = __fmaf_rn(qh[2 * p + 1], bf16_to_f32(static_cast<uint16_t>(two >> 16)), dot);
        }
        s = dot * scale;
      }
      ps[h * kAttnTile + j] = s;
    }
    __syncthreads();
    if (warp < kHeads) {
      float* p = ps + warp * kAttnTile;
      float tmax = -INFINITY;
      for (int j = lane; j < tn; j += 32) tmax = fmaxf(tmax, p[j]);
      tmax = detail::warp_max(tmax);
      if (tmax == -INFINITY) {  // a tile of padding changes nothing
        if (lane == 0) skip[warp] = 1;
      } else {
        const float m_new = fmaxf(run_max[warp], tmax);
        float e[kAttnTile / 32];
#pragma unroll
        for (int c = 0; c < kAttnTile / 32; ++c) {
          const int j = lane + 32 * c;
          e[c] = j < tn ? expf(p[j] - m_new) : 0.0f;
        }
        __syncwarp();
#pragma unroll
        for (int c = 0; c < kAttnTile / 32; ++c) p[lane + 32 * c] = e[c];
        __syncwarp();
        if (lane == 0) {
          float tile_sum = 0.0f;
          for (int j = 0; j < tn; ++j) tile_sum += p[j];
          const float r = expf(run_max[warp] - m_new);
          run_den[warp] = run_den[warp] * r + tile_sum;
          run_max[warp] = m_new;
          rescale[warp] = r;
          skip[warp] = 0;
        }
        __syncwarp();
#pragma unroll
        for (int c = 0; c < kAttnTile / 32; ++c) p[lane + 32 * c] = round_bf16(e[c]);
      }
    }
    __syncthreads();
#pragma unroll
    for (int h = 0; h < kHeads; ++h) {
      if (skip[h]) continue;
      const float r = rescale[h];
#pragma unroll
      for (int i = 0; i < 2 * kAttnPairs; ++i) acc[h][i] *= r;
    }
    for (int j = 0; j < tn; ++j) {
      if (tile_idx[j] < 0) continue;
#pragma unroll
      for (int c = 0; c < kAttnPairs; ++c) {
        const int pr = threadIdx.x + c * kAttnThreads;
        if (pr < pairs) {
          const uint32_t two = ks[j * pitch + pr];
          const float k0 = bf16_to_f32(static_cast<uint16_t>(two & 0xffffu));
          const float k1 = bf16_to_f32(static_cast<uint16_t>(two >> 16));
#pragma unroll
          for (int h = 0; h < kHeads; ++h) {
            if (skip[h]) continue;
            const float pj = ps[h * kAttnTile + j];  // BF16 value: p·k is exact
            acc[h][2 * c] = __fmaf_rn(pj, k0, acc[h][2 * c]);
            acc[h][2 * c + 1] = __fmaf_rn(pj, k1, acc[h][2 * c + 1]);
          }
        }
      }
    }
  }
  __syncthreads();
#pragma unroll
  for (int h = 0; h < kHeads; ++h) {
    bf16* o = out + (row * heads + h0 + h) * dim;
    const float m = run_max[h];
    const float den = m == -INFINITY ? 1.0f : run_den[h] + expf(sink[h0 + h] - m);
#pragma unroll
    for (int c = 0; c < kAttnPairs; ++c) {
      const int pr = threadIdx.x + c * kAttnThreads;
      if (pr < pairs) {
        o[2 * pr] = m == -INFINITY ? bf16{0} : f32_to_bf16(acc[h][2 * c] / den);
        o[2 * pr + 1] = m == -INFINITY ? bf16{0} : f32_to_bf16(acc[h][2 * c + 1] / den);
      }
    }
  }
}

template <int kHeads>
void launch_attention(const bf16* q, int64_t rows, int64_t heads, int64_t dim, const bf16* kv,
                      const int32_t* key_idx, int64_t max_keys, const float* sink, float scale,
                      bf16* out) {
  const size_t smem = (static_cast<size_t>(kAttnTile) * (dim / 2 + 1) +
                       static_cast<size_t>(kHeads) * (dim + kAttnTile)) * sizeof(float);
  auto kernel = sparse_attention_kernel<kHeads>;
  if (smem > 48 * 1024)
    V4_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(smem)));
  dim3 grid(static_cast<unsigned>(rows), static_cast<unsigned>(heads / kHeads));
  kernel<<<grid, kAttnThreads, smem, current_stream()>>>(q, heads, dim, kv, key_idx, max_keys,
                                                         sink, scale, out);
  V4_LAUNCH_CHECK();
}

// ---- Indexer scores: a thread per (row, key), heads in order ------------------------------

template <int kDim>
__global__ void __launch_bounds__(128) indexer_scores_kernel(
    const bf16* q, const bf16* w, int64_t heads, const bf16* keys, int64_t n_keys,
    const int64_t* n_visible, float* scores) {
  extern __shared__ float qsm[];  // [heads][kDim] then w [heads]
  float* wsm = qsm + heads * kDim;
  const int64_t row = blockIdx.x;  // rows on x (no 65535 limit), key tiles on y
  for (int64_t i = threadIdx.x; i < heads * kDim; i += blockDim.x)
    qsm[i] = bf16_to_f32(q[row * heads * kDim + i]);
  for (int64_t i = threadIdx.x; i < heads; i += blockDim.x) wsm[i] = bf16_to_f32(w[row * heads + i]);
  __syncthreads();
  const int64_t b = static_cast<int64_t>(blockIdx.y) * blockDim.x + threadIdx.x;
  if (b >= n_keys) return;
  if (b >= n_visible[row]) {
    scores[row * n_keys + b] = -INFINITY;
    return;
  }
  uint32_t kp[kDim / 2];
  const uint4* kv4 = reinterpret_cast<const uint4*>(keys + b * kDim);
#pragma unroll
  for (int i = 0; i < kDim / 8; ++i) {
    const uint4 v = __ldg(kv4 + i);
    kp[4 * i] = v.x;
    kp[4 * i + 1] = v.y;
    kp[4 * i + 2] = v.z;
    kp[4 * i + 3] = v.w;
  }
  float total = 0.0f;
  for (int64_t h = 0; h < heads; ++h) {
    const float* qh = qsm + h * kDim;
    float dot = 0.0f;
#pragma unroll
    for (int i = 0; i < kDim / 2; ++i) {
      dot = __fmaf_rn(qh[2 * i], bf16_to_f32(static_cast<uint16_t>(kp[i] & 0xffffu)), dot);
      dot = __fmaf_rn(qh[2 * i + 1], bf16_to_f32(static_cast<uint16_t>(kp[i] >> 16)), dot);
    }
    const float s = round_bf16(dot);
    const float relu = s > 0.0f ? s : 0.0f;
    total += round_bf16(relu * wsm[h]);
  }
  scores[row * n_keys + b] = round_bf16(total);
}

// ---- Top-k: radix select on (score, index) then an ordered compaction ---------------------

constexpr int kTopkThreads = 512;

// Monotone map of scores to unsigned keys; NaN below everything (the reference sorts NaN
// last), -0 equal to +0.
__device__ __forceinline__ uint32_t order_key(float v) {
  if (isnan(v)) return 0u;
  uint32_t u = __float_as_uint(v == 0.0f ? 0.0f : v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// Exclusive block scan of v; returns the prefix, *total gets the block sum. `red`: 32 ints.
__device__ __forceinline__ int block_exclusive_scan(int v, int* red, int* total) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  int incl = v;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const int t = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += t;
  }
  __syncthreads();
  if (lane == 31) red[warp] = incl;
  __syncthreads();
  if (warp == 0) {
    int w = lane < warps ? red[lane] : 0;
    int wi = w;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const int t = __shfl_up_sync(0xffffffffu, wi, o);
      if (lane >= o) wi += t;
    }
    if (lane < warps) red[lane] = wi - w;  // exclusive warp offsets
    if (lane == warps - 1) red[31] = wi;
  }
  __syncthreads();
  const int result = red[warp] + incl - v;
  *total = red[31];
  return result;
}

__global__ void __launch_bounds__(kTopkThreads) topk_kernel(const float* scores, int64_t n,
                                                            const int64_t* n_visible, int64_t k,
                                                            int32_t* idx) {
  __shared__ int hist[256];
  __shared__ int red[32];
  __shared__ uint32_t sh_prefix, sh_mask;
  __shared__ int sh_remaining;
  const int64_t row = blockIdx.x;
  const float* s = scores + row * n;
  int32_t* out = idx + row * k;
  int64_t nvis = n_visible[row];
  nvis = nvis < 0 ? 0 : (nvis > n ? n : nvis);
  const int64_t keff = nvis < k ? nvis : k;
  for (int64_t i = keff + threadIdx.x; i < k; i += blockDim.x) out[i] = -1;
  if (keff == 0) return;

  if (threadIdx.x == 0) {
    sh_prefix = 0;
    sh_mask = 0;
    sh_remaining = static_cast<int>(keff);
  }
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int i = threadIdx.x; i < 256; i += blockDim.x) hist[i] = 0;
    __syncthreads();
    const uint32_t prefix = sh_prefix, mask = sh_mask;
    for (int64_t i = threadIdx.x; i < nvis; i += blockDim.x) {
      const uint32_t key = order_key(s[i]);
      if ((key & mask) == prefix) atomicAdd(&hist[(key >> shift) & 255u], 1);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      int cum = 0, digit = 0;
      for (int dgt = 255; dgt >= 0; --dgt) {
        if (cum + hist[dgt] >= sh_remaining) {
          digit = dgt;
          break;
        }
        cum += hist[dgt];
      }
      sh_remaining -= cum;
      sh_prefix = prefix | (static_cast<uint32_t>(digit) << shift);
      sh_mask = mask | (255u << shift);
    }
    __syncthreads();
  }
  const uint32_t threshold = sh_prefix;
  const int need = sh_remaining;  // how many entries equal to the threshold are taken
  int gt_base = 0, eq_base = 0;
  for (int64_t c0 = 0; c0 < nvis; c0 += blockDim.x) {
    const int64_t i = c0 + threadIdx.x;
    int gt = 0, eq = 0;
    if (i < nvis) {
      const uint32_t key = order_key(s[i]);
      gt = key > threshold;
      eq = key == threshold;
    }
    int total = 0;
    const int excl = block_exclusive_scan(gt + (eq << 16), red, &total);
    const int gt_before = gt_base + (excl & 0xffff), eq_before = eq_base + (excl >> 16);
    if (gt || (eq && eq_before < need))
      out[gt_before + (eq_before < need ? eq_before : need)] = static_cast<int32_t>(i);
    gt_base += total & 0xffff;
    eq_base += total >> 16;
  }
  // Order the selection as torch.topk does (larger score first, lower index first among
  // equals), as the CPU reference: each entry counts the entries that go before it.
  __syncthreads();  // the compaction's writes to `out` are visible to the block
  extern __shared__ uint32_t topk_sel[];  // [keff] indices, then [keff] keys
  uint32_t* sel_key = topk_sel + keff;
  for (int64_t i = threadIdx.x; i < keff; i += blockDim.x) {
    const int32_t j = out[i];
    topk_sel[i] = static_cast<uint32_t>(j);
    sel_key[i] = order_key(s[j]);
  }
  __syncthreads();
  for (int64_t i = threadIdx.x; i < keff; i += blockDim.x) {
    const uint32_t ki = sel_key[i], ii = topk_sel[i];
    int rank = 0;
    for (int64_t j = 0; j < keff; ++j) {
      const uint32_t kj = sel_key[j];
      rank += (kj > ki || (kj == ki && topk_sel[j] < ii)) ? 1 : 0;
    }
    out[rank] = static_cast<int32_t>(ii);
  }
}

// ---- MoE router: a block per row -----------------------------------------------------------

constexpr int kRouteThreads = 128;
constexpr int kRouteMaxK = 32;

__global__ void __launch_bounds__(kRouteThreads) moe_route_kernel(
    const float* logits, int64_t n_experts, int64_t k, const float* bias,
    const int64_t* hash_ids, float route_scale, int32_t* experts, float* weights) {
  extern __shared__ float sig[];  // [n_experts] σ, then [n_experts] σ + bias
  float* biased = sig + n_experts;
  __shared__ int sel[kRouteMaxK];
  __shared__ float best_v[kRouteThreads / 32];
  __shared__ int best_i[kRouteThreads / 32];
  const int64_t row = blockIdx.x;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int64_t e = threadIdx.x; e < n_experts; e += blockDim.x) {
    const float l = logits[row * n_experts + e];
    const float sp = l > 20.0f ? l : log1pf(expf(l));
    sig[e] = sqrtf(sp);
    biased[e] = sig[e] + (bias != nullptr ? bias[e] : 0.0f);
  }
  __syncthreads();
  if (hash_ids != nullptr) {
    if (threadIdx.x < k) sel[threadIdx.x] = static_cast<int>(hash_ids[row * k + threadIdx.x]);
  } else {
    for (int64_t t = 0; t < k; ++t) {
      float bv = -INFINITY;
      int bi = 0x7fffffff;
      for (int64_t e = threadIdx.x; e < n_experts; e += blockDim.x) {
        bool taken = false;
        for (int64_t u = 0; u < t; ++u) taken = taken || sel[u] == e;
        const float v = biased[e];
        if (!taken && (v > bv || (v == bv && e < bi))) {
          bv = v;
          bi = static_cast<int>(e);
        }
      }
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
        const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
        if (ov > bv || (ov == bv && oi < bi)) {
          bv = ov;
          bi = oi;
        }
      }
      if (lane == 0) {
        best_v[warp] = bv;
        best_i[warp] = bi;
      }
      __syncthreads();
      if (threadIdx.x == 0) {
        for (int w = 1; w < kRouteThreads / 32; ++w) {
          if (best_v[w] > bv || (best_v[w] == bv && best_i[w] < bi)) {
            bv = best_v[w];
            bi = best_i[w];
          }
        }
        sel[t] = bi;
      }
      __syncthreads();
    }
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    float sum = 0.0f;
    for (int64_t t = 0; t < k; ++t) sum += sig[sel[t]];
    for (int64_t t = 0; t < k; ++t) {
      experts[row * k + t] = sel[t];
      weights[row * k + t] = sig[sel[t]] / sum * route_scale;
    }
  }
}

// ---- Greedy sampling: argmax, lowest index among equal maxima ------------------------------

__global__ void argmax_kernel(const float* logits, int64_t vocab, int64_t* result) {
  __shared__ float best_v[32];
  __shared__ int64_t best_i[32];
  float bv = -INFINITY;
  int64_t bi = -1;
  for (int64_t i = threadIdx.x; i < vocab; i += blockDim.x) {
    const float v = logits[i];
    if (bi < 0 || v > bv) {
      bv = v;
      bi = i;
    }
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
    const int64_t oi = __shfl_xor_sync(0xffffffffu, bi, o);
    if (oi >= 0 && (bi < 0 || ov > bv || (ov == bv && oi < bi))) {
      bv = ov;
      bi = oi;
    }
  }
  if (lane == 0) {
    best_v[warp] = bv;
    best_i[warp] = bi;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < static_cast<int>(blockDim.x >> 5); ++w) {
      if (best_i[w] >= 0 && (bi < 0 || best_v[w] > bv || (best_v[w] == bv && best_i[w] < bi))) {
        bv = best_v[w];
        bi = best_i[w];
      }
    }
    *result = bi < 0 ? 0 : bi;
  }
}

}  // namespace

void sparse_attention(const bf16* q, int64_t rows, int64_t heads, int64_t dim, const bf16* kv,
                      const int32_t* key_idx, int64_t max_keys, const float* sink, float scale,
                      bf16* out) {
  require(dim % 2 == 0 && dim <= kAttnMaxDim, "sparse_attention: dim must be even and <= 1024");
  if (rows * heads == 0) return;
  int sms = 132, dev = 0;
  if (cudaGetDevice(&dev) == cudaSuccess)
    (void)cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  // As many heads a block (keys staged once for all of them) as still fills the chip.
  int hb = 8;
  while (hb > 1 && (heads % hb != 0 || rows * (heads / hb) < 2 * sms)) hb /= 2;
  if (heads % hb != 0) hb = 1;
  switch (hb) {
    case 8: launch_attention<8>(q, rows, heads, dim, kv, key_idx, max_keys, sink, scale, out); break;
    case 4: launch_attention<4>(q, rows, heads, dim, kv, key_idx, max_keys, sink, scale, out); break;
    case 2: launch_attention<2>(q, rows, heads, dim, kv, key_idx, max_keys, sink, scale, out); break;
    default: launch_attention<1>(q, rows, heads, dim, kv, key_idx, max_keys, sink, scale, out); break;
  }
}

void indexer_scores(const bf16* q, const bf16* w, int64_t rows, int64_t heads, int64_t dim,
                    const bf16* keys, int64_t n_keys, const int64_t* n_visible, float* scores) {
  require(dim == 64 || dim == 128, "indexer_scores: dim must be 64 or 128");
  if (rows * n_keys == 0) return;
  const size_t smem = static_cast<size_t>(heads * (dim + 1)) * sizeof(float);
  require(smem <= 200 * 1024, "indexer_scores: heads·dim too large");
  require(n_keys <= 65535ll * 128, "indexer_scores: too many keys");
  dim3 grid(static_cast<unsigned>(rows), blocks_for(n_keys, 128));
  if (dim == 128) {
    if (smem > 48 * 1024)
      V4_CUDA_CHECK(cudaFuncSetAttribute(indexer_scores_kernel<128>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(smem)));
    indexer_scores_kernel<128><<<grid, 128, smem, current_stream()>>>(q, w, heads, keys, n_keys,
                                                                      n_visible, scores);
  } else {
    if (smem > 48 * 1024)
      V4_CUDA_CHECK(cudaFuncSetAttribute(indexer_scores_kernel<64>,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(smem)));
    indexer_scores_kernel<64><<<grid, 128, smem, current_stream()>>>(q, w, heads, keys, n_keys,
                                                                     n_visible, scores);
  }
  V4_LAUNCH_CHECK();
}

void topk_indices(const float* scores, int64_t rows, int64_t n, const int64_t* n_visible,
                  int64_t k, int32_t* idx) {
  if (rows == 0 || k == 0) return;
  // The ordering step keeps the selection in shared memory: 8 bytes per entry.
  require(k <= 4096, "topk_indices: k must be <= 4096");
  const size_t shared = static_cast<size_t>(k) * 2 * sizeof(uint32_t);
  topk_kernel<<<static_cast<unsigned>(rows), kTopkThreads, shared, current_stream()>>>(
      scores, n, n_visible, k, idx);
  V4_LAUNCH_CHECK();
}

void moe_route(const float* logits, int64_t rows, int64_t n_experts, int64_t k,
               const float* bias, const int64_t* hash_ids, float route_scale, int32_t* experts,
               float* weights) {
  require(k >= 1 && k <= kRouteMaxK && k <= n_experts, "moe_route: bad k");
  if (rows == 0) return;
  const size_t smem = static_cast<size_t>(2 * n_experts) * sizeof(float);
  moe_route_kernel<<<static_cast<unsigned>(rows), kRouteThreads, smem, current_stream()>>>(
      logits, n_experts, k, bias, hash_ids, route_scale, experts, weights);
  V4_LAUNCH_CHECK();
}

int64_t sample_token(const float* logits, int64_t vocab, float temperature, float top_p,
                     double u) {
  require(vocab > 0, "sample_token: empty vocabulary");
  if (temperature <= 0.0f) {
    detail::Scratch result(sizeof(int64_t));
    argmax_kernel<<<1, 1024, 0, current_stream()>>>(logits, vocab, result.as<int64_t>());
    V4_LAUNCH_CHECK();
    int64_t token = 0;
    V4_CUDA_CHECK(cudaMemcpyAsync(&token, result.as<int64_t>(), sizeof(token),
                                  cudaMemcpyDeviceToHost, current_stream()));
    V4_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
    return token;
  }
  // Nucleus sampling: the logits come to the host and the CPU reference draws the token, so
  // that a given u picks the same token on both backends (one vocab-sized copy per token).
  std::vector<float> host(static_cast<size_t>(vocab));
  V4_CUDA_CHECK(cudaMemcpyAsync(host.data(), logits, host.size() * sizeof(float),
                                cudaMemcpyDeviceToHost, current_stream()));
  V4_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
  return v4eval::kernels::sample_token(host.data(), vocab, temperature, top_p, u);
}

}  // namespace v4eval::kernels::cuda
