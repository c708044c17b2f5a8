// Normalisations, quantisation simulations, RoPE, Hadamard, mHC, compressor pooling and the
// clamped SwiGLU on CUDA (v4-model.md §3.0–§3.6, §3.10, §3.14). Element math comes from
// kernels/numeric.h; per-element operation order follows the CPU reference (the library is
// compiled with -fmad=false so that a·b + c is not contracted). Reductions over a row (RMS,
// mHC projections) are parallel trees: their FP32 sums may differ from the reference's
// sequential sums in the last bits (README.md, CUDA section).

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/ops_cuda.h"

namespace v4eval::kernels::cuda {
namespace {

using detail::blocks_for;
using detail::require;

// ---- K8 / Q4 simulation: one warp per (row, group) ---------------------------------------

template <int kGroup, bool kFp4>
__global__ void simulate_kernel(bf16* x, int64_t rows, int64_t stride, int64_t groups) {
  constexpr int kPer = kGroup / 32;
  constexpr float kMaxCode = kFp4 ? 6.0f : 448.0f;
  const int64_t gw = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (gw >= rows * groups) return;
  bf16* xg = x + (gw / groups) * stride + (gw % groups) * kGroup + lane * kPer;
  float v[kPer];
  float amax = 0.0f;
#pragma unroll
  for (int i = 0; i < kPer; ++i) {
    v[i] = bf16_to_f32(xg[i]);
    amax = fmaxf(amax, fabsf(v[i]));
  }
  amax = detail::warp_max(amax);
  const uint8_t sb = kFp4 ? q4_scale_e8m0(amax) : a8_scale_e8m0(amax);
  const float s = e8m0_to_f32(sb);
#pragma unroll
  for (int i = 0; i < kPer; ++i) {
    float t = v[i] / s;
    t = t < -kMaxCode ? -kMaxCode : (kMaxCode < t ? kMaxCode : t);
    const float q = kFp4 ? e2m1_to_f32(f32_to_e2m1(t)) : e4m3_to_f32(f32_to_e4m3(t));
    xg[i] = f32_to_bf16(q * s);
  }
}

// ---- RMSNorm: one block per row ------------------------------------------------------------

__global__ void rms_norm_kernel(const bf16* x, int64_t dim, const bf16* w, float eps, bf16* y) {
  __shared__ float red[32];
  const bf16* xr = x + static_cast<int64_t>(blockIdx.x) * dim;
  bf16* yr = y + static_cast<int64_t>(blockIdx.x) * dim;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = bf16_to_f32(xr[i]);
    ss += v * v;
  }
  ss = detail::block_sum(ss, red);
  const float inv = 1.0f / sqrtf(ss / static_cast<float>(dim) + eps);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    float v = bf16_to_f32(xr[i]) * inv;
    if (w != nullptr) v *= bf16_to_f32(w[i]);
    yr[i] = f32_to_bf16(v);
  }
}

// Per-head RMS norm in BF16 arithmetic (§3.14): every intermediate rounded to BF16, the mean's
// sum in FP32 in index order (one thread per (row, head): bit-identical to the reference).
__global__ void head_rms_norm_kernel(bf16* x, int64_t units, int64_t dim, float eps) {
  const int64_t u = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (u >= units) return;
  bf16* xr = x + u * dim;
  float ss = 0.0f;
  for (int64_t i = 0; i < dim; ++i) {
    const float v = bf16_to_f32(xr[i]);
    ss += round_bf16(v * v);
  }
  const float mean = round_bf16(ss / static_cast<float>(dim));
  const float r = round_bf16(1.0f / sqrtf(round_bf16(mean + eps)));
  for (int64_t i = 0; i < dim; ++i) xr[i] = f32_to_bf16(bf16_to_f32(xr[i]) * r);
}

// ---- RoPE: one thread per (row, pair) ------------------------------------------------------

__global__ void rope_kernel(bf16* x, int64_t rows, int64_t stride, int64_t offset, int64_t half,
                            const int64_t* positions, const float* freqs, bool inverse) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= rows * half) return;
  const int64_t r = t / half, i = t % half;
  bf16* v = x + r * stride + offset;
  const float angle = static_cast<float>(positions[r]) * freqs[i];
  const float c = cosf(angle), s = inverse ? -sinf(angle) : sinf(angle);
  const float a = bf16_to_f32(v[2 * i]), b = bf16_to_f32(v[2 * i + 1]);
  v[2 * i] = f32_to_bf16(a * c - b * s);
  v[2 * i + 1] = f32_to_bf16(a * s + b * c);
}

// ---- Hadamard: one block per row, the reference's butterflies in shared memory -------------

__global__ void hadamard_kernel(float* x, int64_t n) {
  extern __shared__ float v[];
  float* row = x + static_cast<int64_t>(blockIdx.x) * n;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) v[i] = row[i];
  __syncthreads();
  for (int64_t h = 1; h < n; h <<= 1) {
    for (int64_t b = threadIdx.x; b < n / 2; b += blockDim.x) {
      const int64_t j = (b / h) * 2 * h + (b % h);
      const float a = v[j], c = v[j + h];
      v[j] = a + c;
      v[j + h] = a - c;
    }
    __syncthreads();
  }
  const float norm = 1.0f / sqrtf(static_cast<float>(n));
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) row[i] = v[i] * norm;
}

__global__ void sinkhorn_kernel(float* c, int hc, int iters, float eps) {
  detail::sinkhorn_inplace(c, hc, iters, eps);
}

// ---- mHC -----------------------------------------------------------------------------------

constexpr int kMhcRows = 4;     // rows a block
constexpr int kMhcMaxOut = 24;  // (2 + hc)·hc for hc = 4
constexpr int kMhcThreads = 256;

__device__ __forceinline__ float sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }

constexpr int kMhcVals = kMhcMaxOut + 1;  // 24 projections + the sum of squares

// Stage 1: partial sums of m = fn · f and of f² for kMhcRows rows over one slice of the flat
// hc·d axis (blockIdx.y), so that a decode step (one row) still spreads over many blocks.
// partial [splits][rows][kMhcVals].
__global__ void __launch_bounds__(kMhcThreads) mhc_partial_kernel(
    const bf16* h, int64_t rows, int nout, int64_t flat, int64_t slice, const float* fn,
    float* partial) {
  __shared__ float part[kMhcThreads / 32][kMhcRows * kMhcVals];
  const int64_t r0 = static_cast<int64_t>(blockIdx.x) * kMhcRows;
  const int nrows = static_cast<int>(min(static_cast<int64_t>(kMhcRows), rows - r0));
  const int64_t i0 = static_cast<int64_t>(blockIdx.y) * slice;
  const int64_t i1 = min(flat, i0 + slice);
  float acc[kMhcRows][kMhcMaxOut], ss[kMhcRows];
#pragma unroll
  for (int r = 0; r < kMhcRows; ++r) {
    ss[r] = 0.0f;
#pragma unroll
    for (int j = 0; j < kMhcMaxOut; ++j) acc[r][j] = 0.0f;
  }
  for (int64_t i = i0 + threadIdx.x; i < i1; i += kMhcThreads) {
    float f[kMhcRows];
#pragma unroll
    for (int r = 0; r < kMhcRows; ++r) {
      f[r] = r < nrows ? bf16_to_f32(h[(r0 + r) * flat + i]) : 0.0f;
      ss[r] += f[r] * f[r];
    }
#pragma unroll
    for (int j = 0; j < kMhcMaxOut; ++j) {
      if (j < nout) {
        const float wv = fn[j * flat + i];
#pragma unroll
        for (int r = 0; r < kMhcRows; ++r) acc[r][j] += wv * f[r];
      }
    }
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int r = 0; r < kMhcRows; ++r) {
#pragma unroll
    for (int j = 0; j < kMhcMaxOut; ++j) {
      const float v = detail::warp_sum(acc[r][j]);
      if (lane == 0) part[warp][r * kMhcVals + j] = v;
    }
    const float v = detail::warp_sum(ss[r]);
    if (lane == 0) part[warp][r * kMhcVals + kMhcMaxOut] = v;
  }
  __syncthreads();
  for (int t = threadIdx.x; t < nrows * kMhcVals; t += kMhcThreads) {
    float sum = 0.0f;
    for (int w = 0; w < kMhcThreads / 32; ++w) sum += part[w][t];
    partial[(static_cast<int64_t>(blockIdx.y) * rows + r0) * kMhcVals + t] = sum;
  }
}

// Stage 2, a thread per row: sum the slices in order, then §3.2 steps 4–5 (kHead: §3.11's pre
// only), in the reference's operation order.
template <bool kHead>
__global__ void mhc_finish_kernel(const float* partial, int64_t rows, int splits, int hc,
                                  int64_t flat, const float* base, const float* scale, int iters,
                                  float hc_eps, float norm_eps, float* pre, float* post,
                                  float* comb) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (row >= rows) return;
  const int nout = kHead ? hc : (2 + hc) * hc;
  float m[kMhcVals];
  for (int j = 0; j < kMhcVals; ++j) m[j] = 0.0f;
  for (int sp = 0; sp < splits; ++sp) {
    const float* p = partial + (static_cast<int64_t>(sp) * rows + row) * kMhcVals;
    for (int j = 0; j < nout; ++j) m[j] += p[j];
    m[kMhcMaxOut] += p[kMhcMaxOut];
  }
  const float inv = 1.0f / sqrtf(m[kMhcMaxOut] / static_cast<float>(flat) + norm_eps);
  for (int j = 0; j < hc; ++j) pre[row * hc + j] = sigmoid(scale[0] * (m[j] * inv) + base[j]) + hc_eps;
  if constexpr (!kHead) {
    for (int j = 0; j < hc; ++j)
      post[row * hc + j] = 2.0f * sigmoid(scale[1] * (m[hc + j] * inv) + base[hc + j]);
    float* c = comb + row * hc * hc;
    for (int j = 0; j < hc * hc; ++j) c[j] = scale[2] * (m[2 * hc + j] * inv) + base[2 * hc + j];
    detail::sinkhorn_inplace(c, hc, iters, hc_eps);
  }
}

// Both stages; `splits` slices of the flat axis so that about two blocks per SM are busy.
template <bool kHead>
void launch_mhc(const bf16* h, int64_t rows, int64_t hc, int64_t d, const float* fn,
                const float* base, const float* scale, int iters, float hc_eps, float norm_eps,
                float* pre, float* post, float* comb) {
  const int64_t flat = hc * d, row_blocks = (rows + kMhcRows - 1) / kMhcRows;
  int sms = 132, dev = 0;
  if (cudaGetDevice(&dev) == cudaSuccess)
    (void)cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  int64_t splits = std::max<int64_t>(1, std::min<int64_t>(64, (2 * sms) / row_blocks));
  splits = std::min<int64_t>(splits, (flat + kMhcThreads - 1) / kMhcThreads);
  const int64_t slice = (flat + splits - 1) / splits;
  detail::Scratch partial(static_cast<size_t>(splits * rows * kMhcVals) * sizeof(float));
  const int nout = kHead ? static_cast<int>(hc) : static_cast<int>((2 + hc) * hc);
  mhc_partial_kernel<<<dim3(static_cast<unsigned>(row_blocks), static_cast<unsigned>(splits)),
                       kMhcThreads, 0, current_stream()>>>(h, rows, nout, flat, slice, fn,
                                                           partial.as<float>());
  V4_LAUNCH_CHECK();
  mhc_finish_kernel<kHead><<<blocks_for(rows, 128), 128, 0, current_stream()>>>(
      partial.as<float>(), rows, static_cast<int>(splits), static_cast<int>(hc), flat, base,
      scale, iters, hc_eps, norm_eps, pre, post, comb);
  V4_LAUNCH_CHECK();
}

__global__ void mhc_collapse_kernel(const bf16* h, int64_t rows, int hc, int64_t d,
                                    const float* pre, bf16* x) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= rows * d) return;
  const int64_t r = t / d, e = t % d;
  float acc = 0.0f;
  for (int j = 0; j < hc; ++j) acc += pre[r * hc + j] * bf16_to_f32(h[(r * hc + j) * d + e]);
  x[t] = f32_to_bf16(acc);
}

__global__ void mhc_expand_kernel(const bf16* h, const bf16* y, int64_t rows, int hc, int64_t d,
                                  const float* post, const float* comb, bf16* out) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= rows * hc * d) return;
  const int64_t e = t % d, k = (t / d) % hc, r = t / (d * hc);
  const float* c = comb + r * hc * hc;
  float mix = 0.0f;  // Σ_j comb[j][k]·h[j] first, then the post term (the reference's order)
  for (int j = 0; j < hc; ++j) mix += c[j * hc + k] * bf16_to_f32(h[(r * hc + j) * d + e]);
  out[t] = f32_to_bf16(post[r * hc + k] * bf16_to_f32(y[r * d + e]) + mix);
}

// ---- Compressor softmax pooling: one thread per (entry, channel) ---------------------------

__global__ void compress_pool_kernel(const float* a, const float* z, int64_t entries,
                                     int64_t slots, int64_t width, bf16* v) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= entries * width) return;
  const int64_t e = t / width, u = t % width;
  const float* ze = z + e * slots * width + u;
  const float* ae = a + e * slots * width + u;
  float m = -INFINITY;
  for (int64_t s = 0; s < slots; ++s) m = fmaxf(m, ze[s * width]);
  float out = 0.0f;
  if (m != -INFINITY) {
    float sum = 0.0f;
    for (int64_t s = 0; s < slots; ++s) {
      if (ze[s * width] != -INFINITY) sum += expf(ze[s * width] - m);
    }
    for (int64_t s = 0; s < slots; ++s) {
      if (ze[s * width] == -INFINITY) continue;
      out += (expf(ze[s * width] - m) / sum) * ae[s * width];
    }
  }
  v[t] = f32_to_bf16(out);
}

__global__ void swiglu_kernel(const bf16* a, const bf16* b, int64_t rows, int64_t n, float limit,
                              const float* row_weight, bf16* u) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= rows * n) return;
  float av = bf16_to_f32(a[t]), bv = bf16_to_f32(b[t]);
  av = fminf(av, limit);
  bv = bv < -limit ? -limit : (limit < bv ? limit : bv);
  float v = av / (1.0f + expf(-av)) * bv;
  if (row_weight != nullptr) v *= row_weight[t / n];
  u[t] = f32_to_bf16(v);
}

template <int kGroup, bool kFp4>
void launch_simulate(bf16* x, int64_t rows, int64_t stride, int64_t dims) {
  require(dims % kGroup == 0, "k8/q4_simulate: dims must be a multiple of the group");
  const int64_t groups = dims / kGroup;
  if (rows * groups == 0) return;
  simulate_kernel<kGroup, kFp4>
      <<<blocks_for(rows * groups * 32, 256), 256, 0, current_stream()>>>(x, rows, stride, groups);
  V4_LAUNCH_CHECK();
}

}  // namespace

void k8_simulate(bf16* x, int64_t rows, int64_t row_stride, int64_t dims) {
  launch_simulate<64, false>(x, rows, row_stride, dims);
}
void q4_simulate(bf16* x, int64_t rows, int64_t row_stride, int64_t dims) {
  launch_simulate<32, true>(x, rows, row_stride, dims);
}

void rms_norm(const bf16* x, int64_t rows, int64_t dim, const bf16* w, float eps, bf16* y) {
  if (rows == 0) return;
  const int threads = dim >= 2048 ? 512 : (dim >= 512 ? 256 : 128);
  rms_norm_kernel<<<static_cast<unsigned>(rows), threads, 0, current_stream()>>>(x, dim, w, eps, y);
  V4_LAUNCH_CHECK();
}

void head_rms_norm_bf16(bf16* x, int64_t rows, int64_t heads, int64_t dim, float eps) {
  const int64_t units = rows * heads;
  if (units == 0) return;
  head_rms_norm_kernel<<<blocks_for(units, 64), 64, 0, current_stream()>>>(x, units, dim, eps);
  V4_LAUNCH_CHECK();
}

void hadamard(float* x, int64_t rows, int64_t n) {
  require(n > 0 && (n & (n - 1)) == 0 && n <= 8192, "hadamard: n must be a power of two <= 8192");
  if (rows == 0) return;
  const int threads = n >= 256 ? 128 : 64;
  hadamard_kernel<<<static_cast<unsigned>(rows), threads, n * sizeof(float), current_stream()>>>(
      x, n);
  V4_LAUNCH_CHECK();
}

void rope_frequencies(int64_t rope_dim, double base, double yarn_factor,
                      int64_t original_max_position, double beta_fast, double beta_slow,
                      float* freqs) {
  std::vector<float> host(static_cast<size_t>(rope_dim / 2));
  v4eval::kernels::rope_frequencies(rope_dim, base, yarn_factor, original_max_position,
                                    beta_fast, beta_slow, host.data());
  V4_CUDA_CHECK(cudaMemcpyAsync(freqs, host.data(), host.size() * sizeof(float),
                                cudaMemcpyHostToDevice, current_stream()));
  V4_CUDA_CHECK(cudaStreamSynchronize(current_stream()));  // `host` dies here
}

void rope_rotate(bf16* x, int64_t rows, int64_t row_stride, int64_t dim, int64_t rope_dim,
                 const int64_t* positions, const float* freqs, bool inverse) {
  const int64_t half = rope_dim / 2;
  if (rows * half == 0) return;
  rope_kernel<<<blocks_for(rows * half, 256), 256, 0, current_stream()>>>(
      x, rows, row_stride, dim - rope_dim, half, positions, freqs, inverse);
  V4_LAUNCH_CHECK();
}

void sinkhorn(float* c, int64_t hc, int64_t iters, float eps) {
  sinkhorn_kernel<<<1, 1, 0, current_stream()>>>(c, static_cast<int>(hc), static_cast<int>(iters),
                                                 eps);
  V4_LAUNCH_CHECK();
}

void mhc_pre(const bf16* h, int64_t rows, int64_t hc, int64_t d, const float* fn,
             const float* base, const float* scale, int64_t sinkhorn_iters, float hc_eps,
             float norm_eps, float* pre, float* post, float* comb) {
  require((2 + hc) * hc <= kMhcMaxOut, "mhc_pre: hc must be at most 4");
  if (rows == 0) return;
  launch_mhc<false>(h, rows, hc, d, fn, base, scale, static_cast<int>(sinkhorn_iters), hc_eps,
                    norm_eps, pre, post, comb);
}

void mhc_head_pre(const bf16* h, int64_t rows, int64_t hc, int64_t d, const float* fn,
                  const float* base, const float* scale, float hc_eps, float norm_eps,
                  float* pre) {
  require(hc <= kMhcMaxOut, "mhc_head_pre: hc too large");
  if (rows == 0) return;
  launch_mhc<true>(h, rows, hc, d, fn, base, scale, 0, hc_eps, norm_eps, pre, nullptr,
                   nullptr);
}

void mhc_collapse(const bf16* h, int64_t rows, int64_t hc, int64_t d, const float* pre,
                  bf16* x) {
  if (rows * d == 0) return;
  mhc_collapse_kernel<<<blocks_for(rows * d, 256), 256, 0, current_stream()>>>(
      h, rows, static_cast<int>(hc), d, pre, x);
  V4_LAUNCH_CHECK();
}

void mhc_expand(const bf16* h, const bf16* y, int64_t rows, int64_t hc, int64_t d,
                const float* post, const float* comb, bf16* out) {
  if (rows * hc * d == 0) return;
  mhc_expand_kernel<<<blocks_for(rows * hc * d, 256), 256, 0, current_stream()>>>(
      h, y, rows, static_cast<int>(hc), d, post, comb, out);
  V4_LAUNCH_CHECK();
}

void compress_pool(const float* a, const float* z, int64_t entries, int64_t slots,
                   int64_t width, bf16* v) {
  if (entries * width == 0) return;
  compress_pool_kernel<<<blocks_for(entries * width, 256), 256, 0, current_stream()>>>(
      a, z, entries, slots, width, v);
  V4_LAUNCH_CHECK();
}

void swiglu_clamped(const bf16* a, const bf16* b, int64_t rows, int64_t n, float limit,
                    const float* row_weight, bf16* u) {
  if (rows * n == 0) return;
  swiglu_kernel<<<blocks_for(rows * n, 256), 256, 0, current_stream()>>>(a, b, rows, n, limit,
                                                                       row_weight, u);
  V4_LAUNCH_CHECK();
}

}  // namespace v4eval::kernels::cuda
