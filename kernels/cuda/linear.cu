// Linears of v4-model.md §3.0 on CUDA: A8 quantisation, FP8 / FP4 block-scaled GEMMs (decode
// and tiled paths), BF16 and FP32 linears, and the grouped FP4 expert GEMM of moe.h.
//
// Bit-compatibility: every GEMM keeps the CPU reference's summation order per output. Products
// of two E4M3 codes, of an E2M1 and an E4M3 code and of two BF16 values are exact in FP32, so a
// fused multiply-add chain over K in order equals the reference's `part += w·x`; the per-chunk
// terms `part·s_a·s_w` are summed in chunk order. The parallelism comes from chunks (decode
// path: one thread per (output, K-chunk), a warp per output) and from outputs and rows (tiled
// path), never from splitting a chunk. The tensor cores are not used (see README.md).

#include <cuda_fp8.h>

#include <algorithm>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/moe.h"
#include "kernels/cuda/ops_cuda.h"

namespace v4eval::kernels::cuda {
namespace {

using detail::blocks_for;
using detail::require;
using detail::Scratch;

enum class Fmt { kFp8, kFp4, kBf16 };

// E4M3 pair -> two floats through the hardware converter (exact; codes are never NaN here).
__device__ __forceinline__ float2 e4m3x2_to_f32x2(uint16_t two) {
  __half2_raw h = __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(two), __NV_E4M3);
  return __half22float2(*reinterpret_cast<__half2*>(&h));
}
// Four E4M3 codes of a 32-bit word, low byte first.
__device__ __forceinline__ void e4m3x4(uint32_t word, float* out) {
  float2 lo = e4m3x2_to_f32x2(static_cast<uint16_t>(word & 0xffffu));
  float2 hi = e4m3x2_to_f32x2(static_cast<uint16_t>(word >> 16));
  out[0] = lo.x;
  out[1] = lo.y;
  out[2] = hi.x;
  out[3] = hi.y;
}
// E2M1 nibble -> float from its bits: e = 0 gives 0 or 0.5, else (1 + m/2)·2^(e-1).
__device__ __forceinline__ float e2m1_bits(uint32_t nib) {
  const uint32_t e = (nib >> 1) & 3u, m = nib & 1u;
  uint32_t bits = e ? ((e + 126u) << 23) | (m << 22) : (m ? 0x3f000000u : 0u);
  bits |= (nib & 8u) << 28;
  return __uint_as_float(bits);
}

// ---- A8 ---------------------------------------------------------------------------------

// One warp per (row, 128-group), four elements a lane. Same arithmetic as the reference.
__global__ void a8_quantize_kernel(const bf16* x, int64_t rows, int64_t k, uint8_t* codes,
                                   uint8_t* scales) {
  const int64_t groups = k / 128;
  const int64_t gw = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (gw >= rows * groups) return;  // uniform per warp
  const int64_t r = gw / groups, g = gw % groups;
  const bf16* xg = x + r * k + g * 128 + lane * 4;
  float v[4];
  float amax = 0.0f;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    v[i] = bf16_to_f32(xg[i]);
    amax = fmaxf(amax, fabsf(v[i]));
  }
  amax = detail::warp_max(amax);
  const uint8_t sb = a8_scale_e8m0(amax);
  if (lane == 0) scales[r * groups + g] = sb;
  const float inv = 1.0f / e8m0_to_f32(sb);
  uint8_t* cg = codes + r * k + g * 128 + lane * 4;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    float t = v[i] * inv;
    t = t < -448.0f ? -448.0f : (448.0f < t ? 448.0f : t);
    cg[i] = f32_to_e4m3(t);
  }
}

void launch_a8(const bf16* x, int64_t rows, int64_t k, uint8_t* codes, uint8_t* scales) {
  require(k % 128 == 0, "a8_quantize: k must be a multiple of 128");
  const int64_t warps = rows * (k / 128);
  if (warps == 0) return;
  a8_quantize_kernel<<<blocks_for(warps * 32, 256), 256, 0, current_stream()>>>(x, rows, k,
                                                                              codes, scales);
  V4_LAUNCH_CHECK();
}

// ---- GEMM arguments ---------------------------------------------------------------------

// Grouped mode (tile_count != nullptr): blockIdx.y is a tile of rows that all use one
// expert's weight; otherwise blockIdx.y * BM is the first row.
struct GemmArgs {
  const void* x;             // A8 codes [M, k] (FP8/FP4) or BF16 [M, k]
  const uint8_t* x_scales;   // [M, k/128] (FP8/FP4)
  int64_t m, k, n;
  const void* w;             // [n, k] codes / [n, k/2] packed / [n, k] BF16
  const uint8_t* w_scales;   // FP8 [ceil(n/128), k/128], FP4 [n, k/32]
  void* y;                   // [M, n] BF16 or FP32
  const int32_t* tile_count;
  const int32_t* tile_expert;
  const int32_t* tile_row0;
  const int32_t* tile_rows;
  const uint8_t* const* w_ptrs;
  const uint8_t* const* ws_ptrs;
};

// Resolves the block's rows and weights; false when the block has no work.
template <int BM>
__device__ __forceinline__ bool block_rows(const GemmArgs& a, int64_t& row0, int& rows,
                                           const void*& w, const uint8_t*& ws) {
  if (a.tile_count != nullptr) {
    const int t = blockIdx.y;
    if (t >= *a.tile_count) return false;
    const int e = a.tile_expert[t];
    row0 = a.tile_row0[t];
    rows = a.tile_rows[t];
    w = a.w_ptrs[e];
    ws = a.ws_ptrs[e];
    return w != nullptr;
  }
  row0 = static_cast<int64_t>(blockIdx.y) * BM;
  rows = static_cast<int>(min(static_cast<int64_t>(BM), a.m - row0));
  w = a.w;
  ws = a.w_scales;
  return rows > 0;
}

// ---- Decode path: FP8 / FP4, at most 8 rows per block -----------------------------------
//
// A warp owns one output o; lane c owns K-chunk c of a 32-chunk tile (chunk = one scale
// block: 128 elements for FP8, 32 for FP4) and computes its in-order partial dot product
// for up to 8 rows; the warp then adds the 32 scaled terms in chunk order. Weight bytes are
// read once with coalesced 16-byte loads (FP8 through a padded shared-memory stage).

constexpr int kDecodeRows = 8;
constexpr int kDecodeWarps = 8;
constexpr int kStagePitch = 144;  // 128 bytes + 16 of padding: conflict-free 16-byte reads

// Adds the warp's 32 chunk terms of one tile to acc (lane r: row r) in chunk order.
__device__ __forceinline__ void add_tile_terms(float (&terms)[kDecodeRows][33],
                                               const float (&part)[kDecodeRows], int rows,
                                               int live, int lane, float& acc) {
#pragma unroll
  for (int r = 0; r < kDecodeRows; ++r)
    if (r < rows && lane < live) terms[r][lane] = part[r];
  __syncwarp();
  if (lane < rows) {
    for (int i = 0; i < live; ++i) acc = __fadd_rn(acc, terms[lane][i]);
  }
  __syncwarp();
}

template <Fmt F>
__global__ void __launch_bounds__(kDecodeWarps * 32) decode_gemm(GemmArgs a) {
  constexpr int kChunk = F == Fmt::kFp8 ? 128 : 32;
  constexpr int kPrefetch = F == Fmt::kFp8 ? 1 : 4;  // FP4: 4 tiles of 16-byte loads in flight
  __shared__ float terms[kDecodeWarps][kDecodeRows][33];
  __shared__ __align__(16) uint8_t stage[F == Fmt::kFp8 ? kDecodeWarps : 1][32 * kStagePitch];

  int64_t row0;
  int rows;
  const void* wv;
  const uint8_t* ws;
  if (!block_rows<kDecodeRows>(a, row0, rows, wv, ws)) return;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t o = static_cast<int64_t>(blockIdx.x) * kDecodeWarps + warp;
  if (o >= a.n) return;  // uniform per warp; no block-wide barrier below
  const int64_t k = a.k, nchunks = k / kChunk, groups = k / 128;
  const uint8_t* xc = static_cast<const uint8_t*>(a.x);
  const uint8_t* w = static_cast<const uint8_t*>(wv);
  float acc = 0.0f;  // lane r < rows: output (row0 + r, o)

  for (int64_t c00 = 0; c00 < nchunks; c00 += 32 * kPrefetch) {
    uint4 wpre[kPrefetch];
    if constexpr (F == Fmt::kFp4) {
#pragma unroll
      for (int t = 0; t < kPrefetch; ++t) {
        const int64_t c = c00 + t * 32 + lane;
        wpre[t] = c < nchunks ? __ldg(reinterpret_cast<const uint4*>(w + o * (k / 2) + c * 16))
                              : make_uint4(0u, 0u, 0u, 0u);
      }
    }
#pragma unroll
    for (int t = 0; t < kPrefetch; ++t) {
      const int64_t c0 = c00 + t * 32;
      if (c0 >= nchunks) break;  // uniform per warp
      const int64_t c = c0 + lane;
      const int live = static_cast<int>(min(static_cast<int64_t>(32), nchunks - c0));
      float part[kDecodeRows];
#pragma unroll
      for (int r = 0; r < kDecodeRows; ++r) part[r] = 0.0f;

      if constexpr (F == Fmt::kFp8) {
        uint8_t* st = stage[warp];
        const uint8_t* wrow = w + o * k + c0 * 128;
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          const int b = (j * 32 + lane) * 16;
          if (b / 128 < live) {
            *reinterpret_cast<uint4*>(st + (b / 128) * kStagePitch + (b % 128)) =
                __ldg(reinterpret_cast<const uint4*>(wrow + b));
          }
        }
        __syncwarp();
        if (lane < live) {
          for (int s = 0; s < 8; ++s) {
            const uint4 w16 = *reinterpret_cast<const uint4*>(st + lane * kStagePitch + s * 16);
            float wf[16];
            e4m3x4(w16.x, wf);
            e4m3x4(w16.y, wf + 4);
            e4m3x4(w16.z, wf + 8);
            e4m3x4(w16.w, wf + 12);
#pragma unroll
            for (int r = 0; r < kDecodeRows; ++r) {
              if (r < rows) {
                const uint4 x16 = __ldg(
                    reinterpret_cast<const uint4*>(xc + (row0 + r) * k + c * 128 + s * 16));
                float xf[16];
                e4m3x4(x16.x, xf);
                e4m3x4(x16.y, xf + 4);
                e4m3x4(x16.z, xf + 8);
                e4m3x4(x16.w, xf + 12);
#pragma unroll
                for (int i = 0; i < 16; ++i) part[r] = __fmaf_rn(wf[i], xf[i], part[r]);
              }
            }
          }
        }
        __syncwarp();  // the stage is rewritten next tile
      } else {
        if (lane < live) {
          const uint32_t words[4] = {wpre[t].x, wpre[t].y, wpre[t].z, wpre[t].w};
          float wf[32];
#pragma unroll
          for (int i = 0; i < 32; ++i) wf[i] = e2m1_bits((words[i / 8] >> (4 * (i % 8))) & 15u);
#pragma unroll
          for (int r = 0; r < kDecodeRows; ++r) {
            if (r < rows) {
              const uint4* xp = reinterpret_cast<const uint4*>(xc + (row0 + r) * k + c * 32);
              const uint4 xa = __ldg(xp), xb = __ldg(xp + 1);
              float xf[32];
              e4m3x4(xa.x, xf);
              e4m3x4(xa.y, xf + 4);
              e4m3x4(xa.z, xf + 8);
              e4m3x4(xa.w, xf + 12);
              e4m3x4(xb.x, xf + 16);
              e4m3x4(xb.y, xf + 20);
              e4m3x4(xb.z, xf + 24);
              e4m3x4(xb.w, xf + 28);
#pragma unroll
              for (int i = 0; i < 32; ++i) part[r] = __fmaf_rn(wf[i], xf[i], part[r]);
            }
          }
        }
      }
      // Scale each chunk's partial: FP8 part·s_a·s_w, FP4 part·s_w·s_a (the reference's order).
      if (lane < live) {
#pragma unroll
        for (int r = 0; r < kDecodeRows; ++r) {
          if (r < rows) {
            if constexpr (F == Fmt::kFp8) {
              const float sa = e8m0_to_f32(a.x_scales[(row0 + r) * groups + c]);
              const float sw = e8m0_to_f32(ws[(o / 128) * groups + c]);
              part[r] = __fmul_rn(__fmul_rn(part[r], sa), sw);
            } else {
              const float sw = e8m0_to_f32(ws[o * nchunks + c]);
              const float sa = e8m0_to_f32(a.x_scales[(row0 + r) * groups + c / 4]);
              part[r] = __fmul_rn(__fmul_rn(part[r], sw), sa);
            }
          }
        }
      }
      add_tile_terms(terms[warp], part, rows, live, lane, acc);
    }
  }
  if (lane < rows) static_cast<bf16*>(a.y)[(row0 + lane) * a.n + o] = f32_to_bf16(acc);
}

// ---- Tiled path (any M): SIMT tiles through shared memory -------------------------------
//
// Block tile BM rows × BN outputs, thread tile TM × TN, K in steps of 32 decoded to FP32 in
// shared memory. Each output's chain runs over K in order; scaled formats close a chunk
// (FP8: 128, FP4: 32) with acc += part·s·s.

constexpr int kKStep = 32;

template <Fmt F, int BM, int BN, int TM, int TN, bool kOutF32>
__global__ void __launch_bounds__((BM / TM) * (BN / TN)) tile_gemm(GemmArgs a) {
  constexpr int kThreads = (BM / TM) * (BN / TN);
  constexpr bool kScaled = F != Fmt::kBf16;
  constexpr int kChunk = F == Fmt::kFp8 ? 128 : 32;
  __shared__ __align__(16) float xs[kKStep][BM + 4];
  __shared__ __align__(16) float wsm[kKStep][BN + 4];

  int64_t row0;
  int rows;
  const void* wv;
  const uint8_t* wsc;
  if (!block_rows<BM>(a, row0, rows, wv, wsc)) return;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * BN;
  const int64_t k = a.k, n = a.n;
  const int tid = threadIdx.x, ty = tid / (BN / TN), tx = tid % (BN / TN);

  float part[TM][TN], acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) part[i][j] = acc[i][j] = 0.0f;

  for (int64_t k0 = 0; k0 < k; k0 += kKStep) {
    // Stage x: BM rows × 32 values, transposed.
    if constexpr (kScaled) {
      const uint8_t* xc = static_cast<const uint8_t*>(a.x);
      for (int idx = tid; idx < BM * 8; idx += kThreads) {
        const int m = idx / 8, wi = idx % 8;
        float f[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        if (m < rows)
          e4m3x4(__ldg(reinterpret_cast<const uint32_t*>(xc + (row0 + m) * k + k0) + wi), f);
#pragma unroll
        for (int e = 0; e < 4; ++e) xs[wi * 4 + e][m] = f[e];
      }
    } else {
      const bf16* xb = static_cast<const bf16*>(a.x);
      for (int idx = tid; idx < BM * kKStep; idx += kThreads) {
        const int m = idx / kKStep, kk = idx % kKStep;
        float f = 0.0f;
        if (m < rows && k0 + kk < k) f = bf16_to_f32(xb[(row0 + m) * k + k0 + kk]);
        xs[kk][m] = f;
      }
    }
    // Stage w: BN outputs × 32 values, transposed.
    if constexpr (F == Fmt::kFp8) {
      const uint8_t* w = static_cast<const uint8_t*>(wv);
      for (int idx = tid; idx < BN * 8; idx += kThreads) {
        const int j = idx / 8, wi = idx % 8;
        float f[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        if (n0 + j < n)
          e4m3x4(__ldg(reinterpret_cast<const uint32_t*>(w + (n0 + j) * k + k0) + wi), f);
#pragma unroll
        for (int e = 0; e < 4; ++e) wsm[wi * 4 + e][j] = f[e];
      }
    } else if constexpr (F == Fmt::kFp4) {
      const uint8_t* w = static_cast<const uint8_t*>(wv);
      for (int idx = tid; idx < BN * 4; idx += kThreads) {
        const int j = idx / 4, wi = idx % 4;
        uint32_t word = 0;
        if (n0 + j < n)
          word = __ldg(reinterpret_cast<const uint32_t*>(w + (n0 + j) * (k / 2) + k0 / 2) + wi);
#pragma unroll
        for (int e = 0; e < 8; ++e) wsm[wi * 8 + e][j] = e2m1_bits((word >> (4 * e)) & 15u);
      }
    } else {
      const bf16* w = static_cast<const bf16*>(wv);
      for (int idx = tid; idx < BN * kKStep; idx += kThreads) {
        const int j = idx / kKStep, kk = idx % kKStep;
        float f = 0.0f;
        if (n0 + j < n && k0 + kk < k) f = bf16_to_f32(w[(n0 + j) * k + k0 + kk]);
        wsm[kk][j] = f;
      }
    }
    __syncthreads();
#pragma unroll 8
    for (int kk = 0; kk < kKStep; ++kk) {
      float xr[TM], wr[TN];
#pragma unroll
      for (int i = 0; i < TM; ++i) xr[i] = xs[kk][ty * TM + i];
#pragma unroll
      for (int j = 0; j < TN; ++j) wr[j] = wsm[kk][tx * TN + j];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) part[i][j] = __fmaf_rn(wr[j], xr[i], part[i][j]);
    }
    __syncthreads();
    if constexpr (kScaled) {
      if ((k0 + kKStep) % kChunk == 0) {
        const int64_t groups = k / 128, c = k0 / kChunk;
#pragma unroll
        for (int i = 0; i < TM; ++i) {
          const int m = ty * TM + i;
          const float sa =
              m < rows ? e8m0_to_f32(a.x_scales[(row0 + m) * groups + k0 / 128]) : 0.0f;
#pragma unroll
          for (int j = 0; j < TN; ++j) {
            const int64_t o = n0 + tx * TN + j;
            float t = 0.0f;
            if (o < n) {
              if constexpr (F == Fmt::kFp8) {
                t = __fmul_rn(__fmul_rn(part[i][j], sa), e8m0_to_f32(wsc[(o / 128) * groups + c]));
              } else {
                t = __fmul_rn(__fmul_rn(part[i][j], e8m0_to_f32(wsc[o * (k / 32) + c])), sa);
              }
            }
            acc[i][j] = __fadd_rn(acc[i][j], t);
            part[i][j] = 0.0f;
          }
        }
      }
    }
  }
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int m = ty * TM + i;
    if (m >= rows) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int64_t o = n0 + tx * TN + j;
      if (o >= n) continue;
      const float v = kScaled ? acc[i][j] : part[i][j];
      if constexpr (kOutF32) {
        static_cast<float*>(a.y)[(row0 + m) * n + o] = v;
      } else {
        static_cast<bf16*>(a.y)[(row0 + m) * n + o] = f32_to_bf16(v);
      }
    }
  }
}

// ---- BF16 / FP32 linears: the CPU reference's 16-lane order --------------------------------
//
// The reference sums each output over 16 lanes, lane l taking K indices i ≡ l (mod 16) in
// order, then adds the lanes from lane 0 up (kernels/cpu/linear_cpu.cpp). Here 16 consecutive
// threads play the 16 lanes of one output tile, so the result is bit-identical.

constexpr int kLanes = 16;

__device__ __forceinline__ float lane_sum16(float v) {
  const int base = threadIdx.x & 16;  // the half-warp's first lane
  float s = __shfl_sync(0xffffffffu, v, base);
#pragma unroll
  for (int l = 1; l < kLanes; ++l) s = __fadd_rn(s, __shfl_sync(0xffffffffu, v, base + l));
  return s;
}

template <bool kOutF32>
__device__ __forceinline__ void store_out(void* y, int64_t i, float v) {
  if constexpr (kOutF32) {
    static_cast<float*>(y)[i] = v;
  } else {
    static_cast<bf16*>(y)[i] = f32_to_bf16(v);
  }
}

// Decode (at most kDenseRows rows): 16 outputs a block, one half-warp each, weights read once.
constexpr int kDenseRows = 8;

template <bool kOutF32>
__global__ void __launch_bounds__(256) dense_decode(const bf16* x, int64_t m, int64_t k,
                                                    const bf16* w, int64_t n, void* y) {
  const int l = threadIdx.x & 15;
  const int64_t o = static_cast<int64_t>(blockIdx.x) * 16 + (threadIdx.x >> 4);
  const bool live = o < n;  // dead threads still join the shuffles
  float acc[kDenseRows];
#pragma unroll
  for (int r = 0; r < kDenseRows; ++r) acc[r] = 0.0f;
  if (live) {
    const bf16* wr = w + o * k;
    for (int64_t i = l; i < k; i += kLanes) {
      const float wv = bf16_to_f32(wr[i]);
#pragma unroll
      for (int r = 0; r < kDenseRows; ++r)
        if (r < m) acc[r] = __fmaf_rn(wv, bf16_to_f32(x[r * k + i]), acc[r]);  // exact product
    }
  }
#pragma unroll
  for (int r = 0; r < kDenseRows; ++r) {
    if (r < m) {
      const float s = lane_sum16(acc[r]);
      if (live && l == 0) store_out<kOutF32>(y, r * n + o, s);
    }
  }
}

// Tiled: 32 rows × 32 outputs a block; thread (lane l, ty, tx) owns an 8 × 8 tile of lane-l
// partial sums over K steps of 32 staged in shared memory.
constexpr int kDenseBM = 32, kDenseBN = 32, kDenseT = 8;

template <bool kOutF32>
__global__ void __launch_bounds__(256) dense_tiled(const bf16* x, int64_t m, int64_t k,
                                                   const bf16* w, int64_t n, void* y) {
  __shared__ float xs[kKStep][kDenseBM + 1];
  __shared__ float wsm[kKStep][kDenseBN + 1];
  const int tid = threadIdx.x, l = tid & 15, tile = tid >> 4;
  const int ty = tile / (kDenseBN / kDenseT), tx = tile % (kDenseBN / kDenseT);
  const int64_t row0 = static_cast<int64_t>(blockIdx.y) * kDenseBM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * kDenseBN;
  float acc[kDenseT][kDenseT];
#pragma unroll
  for (int i = 0; i < kDenseT; ++i)
#pragma unroll
    for (int j = 0; j < kDenseT; ++j) acc[i][j] = 0.0f;
  for (int64_t k0 = 0; k0 < k; k0 += kKStep) {
    for (int idx = tid; idx < kDenseBM * kKStep; idx += 256) {
      const int r = idx / kKStep, kk = idx % kKStep;
      xs[kk][r] = (row0 + r < m && k0 + kk < k) ? bf16_to_f32(x[(row0 + r) * k + k0 + kk]) : 0.0f;
      wsm[kk][r] = (n0 + r < n && k0 + kk < k) ? bf16_to_f32(w[(n0 + r) * k + k0 + kk]) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int half = 0; half < 2; ++half) {  // K indices k0 + l, then k0 + l + 16: lane order
      const int kk = l + half * kLanes;
      float xr[kDenseT], wr[kDenseT];
#pragma unroll
      for (int i = 0; i < kDenseT; ++i) xr[i] = xs[kk][ty * kDenseT + i];
#pragma unroll
      for (int j = 0; j < kDenseT; ++j) wr[j] = wsm[kk][tx * kDenseT + j];
#pragma unroll
      for (int i = 0; i < kDenseT; ++i)
#pragma unroll
        for (int j = 0; j < kDenseT; ++j) acc[i][j] = __fmaf_rn(wr[j], xr[i], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < kDenseT; ++i) {
#pragma unroll
    for (int j = 0; j < kDenseT; ++j) {
      const float s = lane_sum16(acc[i][j]);
      const int64_t r = row0 + ty * kDenseT + i, o = n0 + tx * kDenseT + j;
      if (l == 0 && r < m && o < n) store_out<kOutF32>(y, r * n + o, s);
    }
  }
}

template <bool kOutF32>
void launch_dense(const bf16* x, int64_t rows, int64_t k, const bf16* w, int64_t n, void* y) {
  if (rows == 0 || n == 0) return;
  if (rows <= kDenseRows) {
    dense_decode<kOutF32><<<blocks_for(n, 16), 256, 0, current_stream()>>>(x, rows, k, w, n, y);
  } else {
    dim3 grid(blocks_for(n, kDenseBN), blocks_for(rows, kDenseBM));
    dense_tiled<kOutF32><<<grid, 256, 0, current_stream()>>>(x, rows, k, w, n, y);
  }
  V4_LAUNCH_CHECK();
}


constexpr int kBigBM = 64, kBigBN = 64, kBigTM = 4, kBigTN = 4;     // 256 threads

template <Fmt F, bool kOutF32>
void launch_tiled(const GemmArgs& a, int64_t row_tiles) {
  {
    dim3 grid(blocks_for(a.n, kBigBN), static_cast<unsigned>(row_tiles));
    tile_gemm<F, kBigBM, kBigBN, kBigTM, kBigTN, kOutF32>
        <<<grid, (kBigBM / kBigTM) * (kBigBN / kBigTN), 0, current_stream()>>>(a);
  }
  V4_LAUNCH_CHECK();
}

template <Fmt F>
void launch_decode(const GemmArgs& a, int64_t row_tiles) {
  dim3 grid(blocks_for(a.n, kDecodeWarps), static_cast<unsigned>(row_tiles));
  decode_gemm<F><<<grid, kDecodeWarps * 32, 0, current_stream()>>>(a);
  V4_LAUNCH_CHECK();
}

// ---- Tensor-core path (opt-in: GemmMode::kTensorCore), more than 8 rows ---------------------
//
// mma.sync m16n8k32 E4M3 (sm_89+), FP32 accumulators. Block tile 128 rows × 128 outputs (one
// FP8 weight scale block), 8 warps as 2 × 4, warp tile 64 × 32; K in 128-byte steps staged in
// shared memory (rows padded to 144 bytes: conflict-free fragment loads). As in the reference,
// every scale chunk (FP8: 128, FP4: 32 = one k32 MMA) is summed in a fresh accumulator and then
// added with its scales in FP32; only the order and precision inside a chunk differ (the tensor
// core's), hence a tolerance instead of bit-exactness. FP4 weights are widened to E4M3 codes
// exactly while staged.

constexpr int kTcBM = 128, kTcBN = 128, kTcPitch = 144;

__device__ __forceinline__ void mma_e4m3(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// E2M1 nibble -> the E4M3 byte of the same value (every E2M1 value is an E4M3 value).
__device__ __forceinline__ uint32_t e2m1_to_e4m3(uint32_t nib) {
  const uint32_t e = (nib >> 1) & 3u, m = nib & 1u;
  const uint32_t mag = e ? (((e + 6u) << 3) | (m << 2)) : (m ? 0x30u : 0u);
  return mag | ((nib & 8u) << 4);
}

template <Fmt F>
__global__ void __launch_bounds__(256) tc_gemm(GemmArgs a) {
  __shared__ __align__(16) uint8_t as[kTcBM * kTcPitch];
  __shared__ __align__(16) uint8_t wsm[kTcBN * kTcPitch];
  int64_t row0;
  int rows;
  const void* wv;
  const uint8_t* wsc;
  if (!block_rows<kTcBM>(a, row0, rows, wv, wsc)) return;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * kTcBN;
  const int64_t k = a.k, n = a.n, groups = k / 128;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int wm = warp >> 2, wn = warp & 3, g = lane >> 2, tg = lane & 3;
  const uint8_t* xc = static_cast<const uint8_t*>(a.x);
  const uint8_t* w = static_cast<const uint8_t*>(wv);

  float acc[4][4][4];
#pragma unroll
  for (int mi = 0; mi < 4; ++mi)
#pragma unroll
    for (int ni = 0; ni < 4; ++ni)
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[mi][ni][c] = 0.0f;

  for (int64_t k0 = 0; k0 < k; k0 += 128) {
    for (int idx = tid; idx < kTcBM * 8; idx += 256) {
      const int r = idx >> 3, v = idx & 7;
      uint4 val = make_uint4(0, 0, 0, 0);
      if (r < rows) val = __ldg(reinterpret_cast<const uint4*>(xc + (row0 + r) * k + k0) + v);
      *reinterpret_cast<uint4*>(as + r * kTcPitch + v * 16) = val;
    }
    if constexpr (F == Fmt::kFp8) {
      for (int idx = tid; idx < kTcBN * 8; idx += 256) {
        const int r = idx >> 3, v = idx & 7;
        uint4 val = make_uint4(0, 0, 0, 0);
        if (n0 + r < n) val = __ldg(reinterpret_cast<const uint4*>(w + (n0 + r) * k + k0) + v);
        *reinterpret_cast<uint4*>(wsm + r * kTcPitch + v * 16) = val;
      }
    } else {
      for (int idx = tid; idx < kTcBN * 4; idx += 256) {
        const int r = idx >> 2, v = idx & 3;  // 16 packed bytes = 32 values
        uint4 val = make_uint4(0, 0, 0, 0);
        if (n0 + r < n)
          val = __ldg(reinterpret_cast<const uint4*>(w + (n0 + r) * (k / 2) + k0 / 2) + v);
        const uint32_t in[4] = {val.x, val.y, val.z, val.w};
        uint32_t outw[8];
#pragma unroll
        for (int q = 0; q < 8; ++q) {  // output word q: values 4q .. 4q+3
          const uint32_t src = in[q / 2] >> (16 * (q % 2));
          outw[q] = e2m1_to_e4m3(src & 15u) | (e2m1_to_e4m3((src >> 4) & 15u) << 8) |
                    (e2m1_to_e4m3((src >> 8) & 15u) << 16) |
                    (e2m1_to_e4m3((src >> 12) & 15u) << 24);
        }
        uint4* dst = reinterpret_cast<uint4*>(wsm + r * kTcPitch + v * 32);
        dst[0] = make_uint4(outw[0], outw[1], outw[2], outw[3]);
        dst[1] = make_uint4(outw[4], outw[5], outw[6], outw[7]);
      }
    }
    __syncthreads();

    float sa[4][2];  // activation scale of this thread's rows for this 128-chunk
#pragma unroll
    for (int mi = 0; mi < 4; ++mi)
#pragma unroll
      for (int hh = 0; hh < 2; ++hh) {
        const int r = wm * 64 + mi * 16 + g + hh * 8;
        sa[mi][hh] = r < rows ? e8m0_to_f32(a.x_scales[(row0 + r) * groups + k0 / 128]) : 0.0f;
      }
    float part[4][4][4];
#pragma unroll
    for (int ks = 0; ks < 4; ++ks) {
      const int kb = ks * 32;
      if (F == Fmt::kFp4 || ks == 0) {
#pragma unroll
        for (int mi = 0; mi < 4; ++mi)
#pragma unroll
          for (int ni = 0; ni < 4; ++ni)
#pragma unroll
            for (int c = 0; c < 4; ++c) part[mi][ni][c] = 0.0f;
      }
      uint32_t af[4][4];
#pragma unroll
      for (int mi = 0; mi < 4; ++mi) {
        const uint8_t* base = as + (wm * 64 + mi * 16 + g) * kTcPitch + kb + tg * 4;
        af[mi][0] = *reinterpret_cast<const uint32_t*>(base);
        af[mi][1] = *reinterpret_cast<const uint32_t*>(base + 8 * kTcPitch);
        af[mi][2] = *reinterpret_cast<const uint32_t*>(base + 16);
        af[mi][3] = *reinterpret_cast<const uint32_t*>(base + 8 * kTcPitch + 16);
      }
#pragma unroll
      for (int ni = 0; ni < 4; ++ni) {
        const uint8_t* base = wsm + (wn * 32 + ni * 8 + g) * kTcPitch + kb + tg * 4;
        const uint32_t b0 = *reinterpret_cast<const uint32_t*>(base);
        const uint32_t b1 = *reinterpret_cast<const uint32_t*>(base + 16);
#pragma unroll
        for (int mi = 0; mi < 4; ++mi) mma_e4m3(part[mi][ni], af[mi], b0, b1);
      }
      if constexpr (F == Fmt::kFp4) {  // close the 32-chunk: acc += part · s_w · s_a
#pragma unroll
        for (int ni = 0; ni < 4; ++ni)
#pragma unroll
          for (int cc = 0; cc < 2; ++cc) {
            const int64_t o = n0 + wn * 32 + ni * 8 + tg * 2 + cc;
            const float sw = o < n ? e8m0_to_f32(wsc[o * (k / 32) + (k0 + kb) / 32]) : 0.0f;
#pragma unroll
            for (int mi = 0; mi < 4; ++mi)
#pragma unroll
              for (int hh = 0; hh < 2; ++hh)
                acc[mi][ni][hh * 2 + cc] = __fadd_rn(
                    acc[mi][ni][hh * 2 + cc],
                    __fmul_rn(__fmul_rn(part[mi][ni][hh * 2 + cc], sw), sa[mi][hh]));
          }
      }
    }
    if constexpr (F == Fmt::kFp8) {  // close the 128-chunk: acc += part · s_a · s_w
      const float sw = e8m0_to_f32(wsc[(n0 / 128) * groups + k0 / 128]);
#pragma unroll
      for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni)
#pragma unroll
          for (int c = 0; c < 4; ++c)
            acc[mi][ni][c] = __fadd_rn(
                acc[mi][ni][c], __fmul_rn(__fmul_rn(part[mi][ni][c], sa[mi][c / 2]), sw));
    }
    __syncthreads();
  }
  bf16* y = static_cast<bf16*>(a.y);
#pragma unroll
  for (int mi = 0; mi < 4; ++mi)
#pragma unroll
    for (int ni = 0; ni < 4; ++ni)
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int r = wm * 64 + mi * 16 + g + (c / 2) * 8;
        const int64_t o = n0 + wn * 32 + ni * 8 + tg * 2 + (c % 2);
        if (r < rows && o < n) y[(row0 + r) * n + o] = f32_to_bf16(acc[mi][ni][c]);
      }
}

template <Fmt F>
void launch_tc(const GemmArgs& a, int64_t row_tiles) {
  dim3 grid(blocks_for(a.n, kTcBN), static_cast<unsigned>(row_tiles));
  tc_gemm<F><<<grid, 256, 0, current_stream()>>>(a);
  V4_LAUNCH_CHECK();
}


int sm_count() {
  static thread_local int count = 0;
  if (count == 0) {
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess ||
        count <= 0)
      count = 132;
  }
  return count;
}

// The decode kernel (8-row tiles, weights re-read per tile from L2) for few rows, and for up to
// 64 rows when the tiled kernels would leave most multiprocessors idle. Both are bit-exact.
bool use_decode_path(int64_t rows, int64_t n, int bm, int bn) {
  if (rows <= kDecodeRows) return true;
  const int64_t tiles = ((n + bn - 1) / bn) * ((rows + bm - 1) / bm);
  return rows <= 64 && tiles < 2 * sm_count();
}

template <Fmt F>
void block_scaled_linear(const bf16* x, int64_t rows, int64_t k, const uint8_t* w,
                         const uint8_t* w_scales, int64_t n, bf16* y) {
  require(k % 128 == 0, "FP8/FP4 linear: k must be a multiple of 128");
  if (rows == 0 || n == 0) return;
  Scratch codes(static_cast<size_t>(rows * k)), scales(static_cast<size_t>(rows * (k / 128)));
  launch_a8(x, rows, k, codes.as<uint8_t>(), scales.as<uint8_t>());
  GemmArgs a{};
  a.x = codes.as<uint8_t>();
  a.x_scales = scales.as<uint8_t>();
  a.m = rows;
  a.k = k;
  a.n = n;
  a.w = w;
  a.w_scales = w_scales;
  a.y = y;
  const bool tensor_core = gemm_mode() == GemmMode::kTensorCore;
  if (use_decode_path(rows, n, tensor_core ? kTcBM : kBigBM, tensor_core ? kTcBN : kBigBN)) {
    launch_decode<F>(a, (rows + kDecodeRows - 1) / kDecodeRows);
  } else if (tensor_core) {
    launch_tc<F>(a, (rows + kTcBM - 1) / kTcBM);
  } else {
    launch_tiled<F, false>(a, (rows + kBigBM - 1) / kBigBM);
  }
}

// ---- MoE helpers ------------------------------------------------------------------------

// One block: counting sort of pairs by expert (stable), offsets, inverse permutation.
__global__ void moe_plan_kernel(const int32_t* experts, int64_t pairs, int64_t n_experts,
                                int32_t* sorted_pair, int32_t* pair_pos, int32_t* offsets) {
  extern __shared__ int32_t cnt[];  // n_experts + 1
  for (int64_t e = threadIdx.x; e <= n_experts; e += blockDim.x) cnt[e] = 0;
  __syncthreads();
  for (int64_t p = threadIdx.x; p < pairs; p += blockDim.x) atomicAdd(&cnt[experts[p]], 1);
  __syncthreads();
  if (threadIdx.x == 0) {
    int32_t run = 0;
    for (int64_t e = 0; e < n_experts; ++e) {
      const int32_t c = cnt[e];
      offsets[e] = run;
      cnt[e] = run;
      run += c;
    }
    offsets[n_experts] = run;
    // Stable placement in pair order (pairs is small: rows·k of one call).
    for (int64_t p = 0; p < pairs; ++p) {
      const int32_t pos = cnt[experts[p]]++;
      sorted_pair[pos] = static_cast<int32_t>(p);
      pair_pos[p] = pos;
    }
  }
}

// One thread: tiles of at most `bm` rows inside each expert's range.
__global__ void moe_tiles_kernel(const int32_t* offsets, int64_t n_experts, int bm,
                                 int32_t* count, int32_t* tile_expert, int32_t* tile_row0,
                                 int32_t* tile_rows) {
  int32_t t = 0;
  for (int64_t e = 0; e < n_experts; ++e) {
    for (int32_t r = offsets[e]; r < offsets[e + 1]; r += bm) {
      tile_expert[t] = static_cast<int32_t>(e);
      tile_row0[t] = r;
      tile_rows[t] = min(bm, offsets[e + 1] - r);
      ++t;
    }
  }
  *count = t;
}

__global__ void moe_gather_kernel(const bf16* x, int64_t d, const int32_t* sorted_pair,
                                  int64_t pairs, int64_t k, const float* weights, bf16* xs,
                                  float* sorted_weight) {
  const int64_t p = blockIdx.x;
  if (p >= pairs) return;
  const int64_t src = sorted_pair[p] / k;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) xs[p * d + i] = x[src * d + i];
  if (threadIdx.x == 0 && weights != nullptr && sorted_weight != nullptr)
    sorted_weight[p] = weights[sorted_pair[p]];
}

__global__ void moe_combine_kernel(const bf16* ys, const int32_t* pair_pos, int64_t rows,
                                   int64_t k, int64_t d, const bf16* shared, bf16* y) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= rows * d) return;
  const int64_t r = i / d, c = i % d;
  float acc = 0.0f;
  for (int64_t s = 0; s < k; ++s) acc += bf16_to_f32(ys[pair_pos[r * k + s] * d + c]);
  if (shared != nullptr) acc += bf16_to_f32(shared[i]);
  y[i] = f32_to_bf16(acc);
}

}  // namespace

void a8_quantize(const bf16* x, int64_t rows, int64_t k, uint8_t* codes, uint8_t* scales) {
  launch_a8(x, rows, k, codes, scales);
}

void fp8_linear(const bf16* x, int64_t rows, int64_t k, const uint8_t* w_codes,
                const uint8_t* w_scales, int64_t n, bf16* y) {
  block_scaled_linear<Fmt::kFp8>(x, rows, k, w_codes, w_scales, n, y);
}

void fp4_linear(const bf16* x, int64_t rows, int64_t k, const uint8_t* w_packed,
                const uint8_t* w_scales, int64_t n, bf16* y) {
  block_scaled_linear<Fmt::kFp4>(x, rows, k, w_packed, w_scales, n, y);
}

void bf16_linear(const bf16* x, int64_t rows, int64_t k, const bf16* w, int64_t n, bf16* y) {
  launch_dense<false>(x, rows, k, w, n, y);
}

void f32_linear(const bf16* x, int64_t rows, int64_t k, const bf16* w, int64_t n, float* y) {
  launch_dense<true>(x, rows, k, w, n, y);
}

void moe_plan(const int32_t* experts, int64_t rows, int64_t k, int64_t n_experts,
              int32_t* sorted_pair, int32_t* pair_pos, int32_t* expert_offsets) {
  require(n_experts > 0 && n_experts < 8192, "moe_plan: n_experts out of range");
  const size_t smem = static_cast<size_t>(n_experts + 1) * sizeof(int32_t);
  moe_plan_kernel<<<1, 256, smem, current_stream()>>>(experts, rows * k, n_experts, sorted_pair,
                                                      pair_pos, expert_offsets);
  V4_LAUNCH_CHECK();
}

void moe_gather(const bf16* x, int64_t d, const int32_t* sorted_pair, int64_t rows, int64_t k,
                const float* weights, bf16* xs, float* sorted_weight) {
  const int64_t pairs = rows * k;
  if (pairs == 0) return;
  moe_gather_kernel<<<static_cast<unsigned>(pairs), 256, 0, current_stream()>>>(
      x, d, sorted_pair, pairs, k, weights, xs, sorted_weight);
  V4_LAUNCH_CHECK();
}

void fp4_grouped_linear(const bf16* x, int64_t pairs, int64_t k, const int32_t* expert_offsets,
                        int64_t n_experts, const uint8_t* const* w_packed,
                        const uint8_t* const* w_scales, int64_t n, bf16* y) {
  require(k % 128 == 0, "fp4_grouped_linear: k must be a multiple of 128");
  if (pairs == 0 || n == 0) return;
  const bool decode = pairs <= 4 * n_experts;  // a few rows per expert: memory-bound path
  const bool tensor_core = !decode && gemm_mode() == GemmMode::kTensorCore;
  const int bm = decode ? kDecodeRows : (tensor_core ? kTcBM : kBigBM);
  const int64_t max_tiles = std::min(pairs, (pairs + bm - 1) / bm + n_experts);
  Scratch codes(static_cast<size_t>(pairs * k)), scales(static_cast<size_t>(pairs * (k / 128)));
  Scratch tiles(static_cast<size_t>(3 * max_tiles + 1) * sizeof(int32_t));
  int32_t* count = tiles.as<int32_t>();
  int32_t* tile_expert = count + 1;
  launch_a8(x, pairs, k, codes.as<uint8_t>(), scales.as<uint8_t>());
  moe_tiles_kernel<<<1, 1, 0, current_stream()>>>(expert_offsets, n_experts, bm, count,
                                                  tile_expert, tile_expert + max_tiles,
                                                  tile_expert + 2 * max_tiles);
  V4_LAUNCH_CHECK();
  GemmArgs a{};
  a.x = codes.as<uint8_t>();
  a.x_scales = scales.as<uint8_t>();
  a.m = pairs;
  a.k = k;
  a.n = n;
  a.y = y;
  a.tile_count = count;
  a.tile_expert = tile_expert;
  a.tile_row0 = tile_expert + max_tiles;
  a.tile_rows = tile_expert + 2 * max_tiles;
  a.w_ptrs = w_packed;
  a.ws_ptrs = w_scales;
  if (decode) {
    launch_decode<Fmt::kFp4>(a, max_tiles);
  } else if (tensor_core) {
    launch_tc<Fmt::kFp4>(a, max_tiles);
  } else {
    launch_tiled<Fmt::kFp4, false>(a, max_tiles);
  }
}

void moe_combine(const bf16* ys, const int32_t* pair_pos, int64_t rows, int64_t k, int64_t d,
                 const bf16* shared, bf16* y) {
  if (rows * d == 0) return;
  moe_combine_kernel<<<blocks_for(rows * d, 256), 256, 0, current_stream()>>>(
      ys, pair_pos, rows, k, d, shared, y);
  V4_LAUNCH_CHECK();
}

}  // namespace v4eval::kernels::cuda
