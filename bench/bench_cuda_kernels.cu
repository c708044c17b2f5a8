// CUDA kernels (kernels/cuda) at V4-Flash shapes: achieved TB/s (memory-bound decode) and
// TFLOP/s (prefill) next to the H200 roofline (4.8 TB/s; 1,979 FP8 / 989 BF16 dense TFLOP/s;
// ~67 FP32 TFLOP/s for the SIMT paths), plus one decode layer timed end to end. Median of
// repeated runs timed with CUDA events after warm-up; weights rotate over several copies where
// a single copy would sit in the 60 MB L2. Without a CUDA device it says so and exits 0.
//
//   bench_cuda_kernels [--quick]     (--quick: fewer repetitions and no prefill sizes)

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kernels/cuda/moe.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/stream.h"

namespace k = v4eval::kernels::cuda;
using bf16 = uint16_t;

namespace {

constexpr double kHbmTBs = 4.8, kFp8TFlops = 1979.0, kBf16TFlops = 989.0, kFp32TFlops = 67.0;
bool g_quick = false;

#define CK(expr)                                                                  \
  do {                                                                            \
    cudaError_t e_ = (expr);                                                      \
    if (e_ != cudaSuccess) {                                                      \
      std::fprintf(stderr, "%s: %s (%s:%d)\n", #expr, cudaGetErrorString(e_), __FILE__, \
                   __LINE__);                                                     \
      std::exit(1);                                                               \
    }                                                                             \
  } while (0)

// Deterministic pseudo-random fill on the device: kinds of values that are valid inputs.
enum class Fill { kBf16, kE4m3, kE8m0, kBytes, kF32, kZeroF32 };

__device__ uint32_t hash32(uint64_t i, uint32_t seed) {
  uint64_t x = i * 0x9e3779b97f4a7c15ull + seed;
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 29;
  return static_cast<uint32_t>(x);
}

__global__ void fill_kernel(void* p, int64_t n, Fill kind, uint32_t seed) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const uint32_t h = hash32(static_cast<uint64_t>(i), seed);
    switch (kind) {
      case Fill::kBf16: {  // |x| in [2^-4, 2^2), random sign
        const uint32_t bits = ((123u + (h & 3u)) << 7) | ((h >> 8) & 0x7fu) | ((h >> 16) & 1u) << 15;
        static_cast<uint16_t*>(p)[i] = static_cast<uint16_t>(bits);
        break;
      }
      case Fill::kE4m3: {
        uint8_t c = static_cast<uint8_t>(h);
        if ((c & 0x7f) == 0x7f) c ^= 1;
        static_cast<uint8_t*>(p)[i] = c;
        break;
      }
      case Fill::kE8m0: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(115 + h % 10); break;
      case Fill::kBytes: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(h); break;
      case Fill::kF32: static_cast<float*>(p)[i] = (h % 20000) / 10000.0f - 1.0f; break;
      case Fill::kZeroF32: static_cast<float*>(p)[i] = 0.0f; break;
    }
  }
}

template <typename T>
T* alloc(int64_t n, Fill kind, uint32_t seed = 1) {
  void* p = nullptr;
  CK(cudaMalloc(&p, std::max<int64_t>(n, 1) * sizeof(T)));
  fill_kernel<<<1024, 256>>>(p, n, kind, seed);
  CK(cudaGetLastError());
  return static_cast<T*>(p);
}

// Median milliseconds of fn over reps runs (after warm-up), CUDA events on the default stream.
double time_ms(const std::function<void(int)>& fn, int reps = 0) {
  if (reps == 0) reps = g_quick ? 5 : 20;
  for (int i = 0; i < 3; ++i) fn(i);
  CK(cudaDeviceSynchronize());
  std::vector<float> ms(reps);
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  for (int i = 0; i < reps; ++i) {
    CK(cudaEventRecord(a));
    fn(i);
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    CK(cudaEventElapsedTime(&ms[i], a, b));
  }
  CK(cudaEventDestroy(a));
  CK(cudaEventDestroy(b));
  std::sort(ms.begin(), ms.end());
  return ms[reps / 2];
}

void row(const char* name, double ms, double bytes, double flops, double peak_tflops,
         const char* peak_name) {
  const double tbs = bytes / (ms * 1e-3) / 1e12, tflops = flops / (ms * 1e-3) / 1e12;
  std::printf("%-44s %9.3f ms %7.2f TB/s (%5.1f%% of %.1f) %8.1f TFLOP/s (%5.1f%% of %s %.0f)\n",
              name, ms, tbs, 100.0 * tbs / kHbmTBs, kHbmTBs, tflops, 100.0 * tflops / peak_tflops,
              peak_name, peak_tflops);
}

// FP8 linear y = W·A8(x): bytes = weights + scales + x + y; copies rotate past the L2.
void bench_fp8(const char* label, int64_t m, int64_t kdim, int64_t n) {
  const int copies = (n * kdim < 64ll << 20) ? 4 : 1;
  std::vector<uint8_t*> w, ws;
  for (int c = 0; c < copies; ++c) {
    w.push_back(alloc<uint8_t>(n * kdim, Fill::kE4m3, 10 + c));
    ws.push_back(alloc<uint8_t>(((n + 127) / 128) * (kdim / 128), Fill::kE8m0, 20 + c));
  }
  bf16* x = alloc<bf16>(m * kdim, Fill::kBf16, 3);
  bf16* y = alloc<bf16>(m * n, Fill::kBf16, 4);
  for (k::GemmMode mode : {k::GemmMode::kExact, k::GemmMode::kTensorCore}) {
    if (mode == k::GemmMode::kTensorCore && m <= 8) continue;  // decode is always exact
    k::set_gemm_mode(mode);
    const double ms = time_ms([&](int i) {
      k::fp8_linear(x, m, kdim, w[i % copies], ws[i % copies], n, y);
    });
    const bool tc = mode == k::GemmMode::kTensorCore;
    char name[128];
    std::snprintf(name, sizeof name, "fp8_linear %s%s M=%lld K=%lld N=%lld", label,
                  tc ? " [tensor core]" : "", static_cast<long long>(m),
                  static_cast<long long>(kdim), static_cast<long long>(n));
    row(name, ms, static_cast<double>(n * kdim + m * kdim * 2 + m * n * 2), 2.0 * m * n * kdim,
        m > 8 && !tc ? kFp32TFlops : kFp8TFlops, m > 8 && !tc ? "FP32(SIMT)" : "FP8");
  }
  k::set_gemm_mode(k::GemmMode::kExact);
  for (auto* p : w) cudaFree(p);
  for (auto* p : ws) cudaFree(p);
  cudaFree(x);
  cudaFree(y);
}

// Routed experts of one V4-Flash MoE layer: W1 (and W3, same shape) for `tokens` tokens.
void bench_moe(int64_t tokens, int64_t experts, int64_t topk, int64_t d, int64_t inter) {
  const int64_t pairs = tokens * topk;
  std::vector<uint8_t*> w(experts), ws(experts);
  for (int64_t e = 0; e < experts; ++e) {
    w[e] = alloc<uint8_t>(inter * d / 2, Fill::kBytes, 100 + e);
    ws[e] = alloc<uint8_t>(inter * d / 32, Fill::kE8m0, 500 + e);
  }
  const uint8_t** dw = nullptr;
  const uint8_t** dws = nullptr;
  CK(cudaMalloc(&dw, experts * sizeof(void*)));
  CK(cudaMalloc(&dws, experts * sizeof(void*)));
  CK(cudaMemcpy(dw, w.data(), experts * sizeof(void*), cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dws, ws.data(), experts * sizeof(void*), cudaMemcpyHostToDevice));
  std::vector<int32_t> ex(pairs);
  uint32_t h = 12345;
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t s = 0; s < topk; ++s) {
      h = h * 1664525u + 1013904223u;
      ex[t * topk + s] = static_cast<int32_t>((h >> 8) % experts);  // duplicates are harmless
    }
  int32_t *dex, *sorted, *pos, *off;
  CK(cudaMalloc(&dex, pairs * 4));
  CK(cudaMalloc(&sorted, pairs * 4));
  CK(cudaMalloc(&pos, pairs * 4));
  CK(cudaMalloc(&off, (experts + 1) * 4));
  CK(cudaMemcpy(dex, ex.data(), pairs * 4, cudaMemcpyHostToDevice));
  bf16* x = alloc<bf16>(tokens * d, Fill::kBf16, 7);
  bf16* xs = alloc<bf16>(pairs * d, Fill::kBf16, 8);
  bf16* y = alloc<bf16>(pairs * inter, Fill::kBf16, 9);
  k::moe_plan(dex, tokens, topk, experts, sorted, pos, off);
  k::moe_gather(x, d, sorted, tokens, topk, nullptr, xs, nullptr);
  std::vector<int32_t> offs(experts + 1);
  CK(cudaMemcpy(offs.data(), off, (experts + 1) * 4, cudaMemcpyDeviceToHost));
  int64_t used = 0;
  for (int64_t e = 0; e < experts; ++e) used += offs[e + 1] > offs[e];
  const bool decode_path = pairs <= 4 * experts;
  for (k::GemmMode mode : {k::GemmMode::kExact, k::GemmMode::kTensorCore}) {
    if (mode == k::GemmMode::kTensorCore && decode_path) continue;
    k::set_gemm_mode(mode);
    const bool tc = mode == k::GemmMode::kTensorCore;
    const double ms = time_ms([&](int) {
      k::fp4_grouped_linear(xs, pairs, d, off, experts, dw, dws, inter, y);
    });
    char name[128];
    std::snprintf(name, sizeof name, "fp4 grouped experts%s T=%lld (%lld hit)",
                  tc ? " [tensor core]" : "", static_cast<long long>(tokens),
                  static_cast<long long>(used));
    const double bytes =
        used * (inter * d / 2.0 + inter * d / 32.0) + pairs * d * 2.0 + pairs * inter * 2.0;
    row(name, ms, bytes, 2.0 * pairs * inter * d, !decode_path && !tc ? kFp32TFlops : kFp8TFlops,
        !decode_path && !tc ? "FP32(SIMT)" : "FP8");
  }
  k::set_gemm_mode(k::GemmMode::kExact);
  for (int64_t e = 0; e < experts; ++e) {
    cudaFree(w[e]);
    cudaFree(ws[e]);
  }
  cudaFree(dw);
  cudaFree(dws);
  cudaFree(dex);
  cudaFree(sorted);
  cudaFree(pos);
  cudaFree(off);
  cudaFree(x);
  cudaFree(xs);
  cudaFree(y);
}

// Sparse attention: rows queries × 64 heads × 512 dims over `keys` keys each.
void bench_attention(int64_t rows, int64_t keys, int64_t n_kv) {
  const int64_t heads = 64, dim = 512;
  bf16* q = alloc<bf16>(rows * heads * dim, Fill::kBf16, 1);
  bf16* kv = alloc<bf16>(n_kv * dim, Fill::kBf16, 2);
  float* sink = alloc<float>(heads, Fill::kF32, 3);
  bf16* out = alloc<bf16>(rows * heads * dim, Fill::kBf16, 4);
  std::vector<int32_t> idx(rows * keys);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < keys; ++j) idx[r * keys + j] = static_cast<int32_t>((r * 7 + j * 13) % n_kv);
  int32_t* didx;
  CK(cudaMalloc(&didx, idx.size() * 4));
  CK(cudaMemcpy(didx, idx.data(), idx.size() * 4, cudaMemcpyHostToDevice));
  const double ms = time_ms([&](int) {
    k::sparse_attention(q, rows, heads, dim, kv, didx, keys, sink, 0.0441942f, out);
  });
  char name[128];
  std::snprintf(name, sizeof name, "sparse_attention T=%lld keys=%lld", static_cast<long long>(rows),
                static_cast<long long>(keys));
  const double bytes = rows * keys * dim * 2.0 + 2.0 * rows * heads * dim * 2.0;
  row(name, ms, bytes, 4.0 * rows * heads * keys * dim, kFp32TFlops, "FP32(SIMT)");
  cudaFree(q);
  cudaFree(kv);
  cudaFree(sink);
  cudaFree(out);
  cudaFree(didx);
}

// One V4-Flash CSA layer for one decode token (attention + MoE), weights random, caches of
// 640 keys: the ops in the order the model calls them. Indexer and compressor omitted.
void bench_decode_layer() {
  const int64_t d = 4096, hc = 4, heads = 64, dim = 512, qr = 1024, G = 8, R = 1024;
  const int64_t E = 256, topk = 6, inter = 2048, keys = 640;
  const int64_t mix = (2 + hc) * hc;
  bf16* h = alloc<bf16>(hc * d, Fill::kBf16, 1);
  bf16* h2 = alloc<bf16>(hc * d, Fill::kBf16, 2);
  float* fn = alloc<float>(mix * hc * d, Fill::kF32, 3);
  float* base = alloc<float>(mix, Fill::kF32, 4);
  float* scale = alloc<float>(3, Fill::kF32, 5);
  float *pre = alloc<float>(hc, Fill::kF32), *post = alloc<float>(hc, Fill::kF32),
        *comb = alloc<float>(hc * hc, Fill::kF32);
  bf16* x = alloc<bf16>(d, Fill::kBf16, 6);
  bf16* xn = alloc<bf16>(d, Fill::kBf16, 7);
  bf16* normw = alloc<bf16>(std::max(d, qr), Fill::kBf16, 8);
  uint8_t* wqa = alloc<uint8_t>(qr * d, Fill::kE4m3, 9);
  uint8_t* wqa_s = alloc<uint8_t>((qr / 128) * (d / 128), Fill::kE8m0, 10);
  uint8_t* wqb = alloc<uint8_t>(heads * dim * qr, Fill::kE4m3, 11);
  uint8_t* wqb_s = alloc<uint8_t>((heads * dim / 128) * (qr / 128), Fill::kE8m0, 12);
  uint8_t* wkv = alloc<uint8_t>(dim * d, Fill::kE4m3, 13);
  uint8_t* wkv_s = alloc<uint8_t>((dim / 128) * (d / 128), Fill::kE8m0, 14);
  bf16* woa = alloc<bf16>(G * R * (heads * dim / G), Fill::kBf16, 15);
  uint8_t* wob = alloc<uint8_t>(d * G * R, Fill::kE4m3, 16);
  uint8_t* wob_s = alloc<uint8_t>((d / 128) * (G * R / 128), Fill::kE8m0, 17);
  bf16* c = alloc<bf16>(qr, Fill::kBf16, 18);
  bf16* q = alloc<bf16>(heads * dim, Fill::kBf16, 19);
  bf16* kvn = alloc<bf16>(dim, Fill::kBf16, 20);
  bf16* cache = alloc<bf16>(keys * dim, Fill::kBf16, 21);
  float* freqs = alloc<float>(32, Fill::kF32, 22);
  float* sink = alloc<float>(heads, Fill::kF32, 23);
  bf16* o = alloc<bf16>(heads * dim, Fill::kBf16, 24);
  bf16* z = alloc<bf16>(G * R, Fill::kBf16, 25);
  bf16* y = alloc<bf16>(d, Fill::kBf16, 26);
  bf16* gate = alloc<bf16>(E * d, Fill::kBf16, 27);
  float* logits = alloc<float>(E, Fill::kF32, 28);
  float* bias = alloc<float>(E, Fill::kF32, 29);
  int32_t* ex;
  float* ew;
  int32_t *sorted, *pos, *off;
  CK(cudaMalloc(&ex, topk * 4));
  CK(cudaMalloc(&ew, topk * 4));
  CK(cudaMalloc(&sorted, topk * 4));
  CK(cudaMalloc(&pos, topk * 4));
  CK(cudaMalloc(&off, (E + 1) * 4));
  std::vector<uint8_t*> w1(E), w1s(E), w3(E), w3s(E), w2(E), w2s(E);
  for (int64_t e = 0; e < E; ++e) {
    w1[e] = alloc<uint8_t>(inter * d / 2, Fill::kBytes, 1000 + e);
    w1s[e] = alloc<uint8_t>(inter * d / 32, Fill::kE8m0, 2000 + e);
    w3[e] = alloc<uint8_t>(inter * d / 2, Fill::kBytes, 3000 + e);
    w3s[e] = alloc<uint8_t>(inter * d / 32, Fill::kE8m0, 4000 + e);
    w2[e] = alloc<uint8_t>(d * inter / 2, Fill::kBytes, 5000 + e);
    w2s[e] = alloc<uint8_t>(d * inter / 32, Fill::kE8m0, 6000 + e);
  }
  auto table = [&](const std::vector<uint8_t*>& v) {
    const uint8_t** p;
    CK(cudaMalloc(&p, E * sizeof(void*)));
    CK(cudaMemcpy(p, v.data(), E * sizeof(void*), cudaMemcpyHostToDevice));
    return p;
  };
  const uint8_t **t1 = table(w1), **t1s = table(w1s), **t3 = table(w3), **t3s = table(w3s),
                **t2 = table(w2), **t2s = table(w2s);
  uint8_t* sh1 = alloc<uint8_t>(inter * d, Fill::kE4m3, 30);
  uint8_t* sh3 = alloc<uint8_t>(inter * d, Fill::kE4m3, 31);
  uint8_t* sh2 = alloc<uint8_t>(d * inter, Fill::kE4m3, 32);
  uint8_t* shs = alloc<uint8_t>((inter / 128) * (d / 128), Fill::kE8m0, 33);
  bf16 *xs = alloc<bf16>(topk * d, Fill::kBf16), *a = alloc<bf16>(topk * inter, Fill::kBf16),
       *b = alloc<bf16>(topk * inter, Fill::kBf16), *u = alloc<bf16>(topk * inter, Fill::kBf16),
       *ys = alloc<bf16>(topk * d, Fill::kBf16), *sa = alloc<bf16>(inter, Fill::kBf16),
       *sb = alloc<bf16>(inter, Fill::kBf16), *su = alloc<bf16>(inter, Fill::kBf16),
       *sy = alloc<bf16>(d, Fill::kBf16);
  float* sw = alloc<float>(topk, Fill::kF32);
  std::vector<int32_t> idx(keys);
  for (int64_t j = 0; j < keys; ++j) idx[j] = static_cast<int32_t>(j);
  int32_t* didx;
  CK(cudaMalloc(&didx, keys * 4));
  CK(cudaMemcpy(didx, idx.data(), keys * 4, cudaMemcpyHostToDevice));
  int64_t* dpos;  // the token's position, once per head row (rope_rotate takes one a row)
  const std::vector<int64_t> positions(heads, 5000);
  CK(cudaMalloc(&dpos, heads * 8));
  CK(cudaMemcpy(dpos, positions.data(), heads * 8, cudaMemcpyHostToDevice));

  auto layer = [&](int) {
    // Attention sub-layer.
    k::mhc_pre(h, 1, hc, d, fn, base, scale, 20, 1e-6f, 1e-6f, pre, post, comb);
    k::mhc_collapse(h, 1, hc, d, pre, x);
    k::rms_norm(x, 1, d, normw, 1e-6f, xn);
    k::fp8_linear(xn, 1, d, wqa, wqa_s, qr, c);
    k::rms_norm(c, 1, qr, normw, 1e-6f, c);
    k::fp8_linear(c, 1, qr, wqb, wqb_s, heads * dim, q);
    k::head_rms_norm_bf16(q, 1, heads, dim, 1e-6f);
    k::rope_rotate(q, heads, dim, dim, 64, dpos, freqs, false);
    k::fp8_linear(xn, 1, d, wkv, wkv_s, dim, kvn);
    k::rms_norm(kvn, 1, dim, normw, 1e-6f, kvn);
    k::rope_rotate(kvn, 1, dim, dim, 64, dpos, freqs, false);
    k::k8_simulate(kvn, 1, dim, 448);
    k::sparse_attention(q, 1, heads, dim, cache, didx, keys, sink, 0.0441942f, o);
    k::rope_rotate(o, heads, dim, dim, 64, dpos, freqs, true);
    for (int64_t g = 0; g < G; ++g)
      k::bf16_linear(o + g * (heads * dim / G), 1, heads * dim / G, woa + g * R * (heads * dim / G), R,
                     z + g * R);
    k::fp8_linear(z, 1, G * R, wob, wob_s, d, y);
    k::mhc_expand(h, y, 1, hc, d, post, comb, h2);
    // MoE sub-layer.
    k::mhc_pre(h2, 1, hc, d, fn, base, scale, 20, 1e-6f, 1e-6f, pre, post, comb);
    k::mhc_collapse(h2, 1, hc, d, pre, x);
    k::rms_norm(x, 1, d, normw, 1e-6f, xn);
    k::f32_linear(xn, 1, d, gate, E, logits);
    k::moe_route(logits, 1, E, topk, bias, nullptr, 1.5f, ex, ew);
    k::moe_plan(ex, 1, topk, E, sorted, pos, off);
    k::moe_gather(xn, d, sorted, 1, topk, ew, xs, sw);
    k::fp4_grouped_linear(xs, topk, d, off, E, t1, t1s, inter, a);
    k::fp4_grouped_linear(xs, topk, d, off, E, t3, t3s, inter, b);
    k::swiglu_clamped(a, b, topk, inter, 10.0f, sw, u);
    k::fp4_grouped_linear(u, topk, inter, off, E, t2, t2s, d, ys);
    k::fp8_linear(xn, 1, d, sh1, shs, inter, sa);
    k::fp8_linear(xn, 1, d, sh3, shs, inter, sb);
    k::swiglu_clamped(sa, sb, 1, inter, 10.0f, nullptr, su);
    k::fp8_linear(su, 1, inter, sh2, shs, d, sy);
    k::moe_combine(ys, pos, 1, topk, d, sy, y);
    k::mhc_expand(h2, y, 1, hc, d, post, comb, h);
  };
  const double ms = time_ms(layer);
  // Bytes a decode layer must read at least: its FP8 weights, wo_a, the 6 routed experts
  // (W1, W3, W2), the shared expert, the router, mHC fn twice, the KV keys.
  const double bytes = qr * d + heads * dim * qr + dim * d + G * R * (heads * dim / G) * 2.0 +
                       d * G * R + 6 * 3 * (inter * d / 2.0) + 3.0 * inter * d + E * d * 2.0 +
                       2.0 * mix * hc * d * 4 + keys * dim * 2.0;
  row("decode layer (CSA attention + MoE), T=1", ms, bytes, 0.0, kFp8TFlops, "FP8");
  std::printf("  -> x 43 layers ~ %.2f ms/token (weights-only floor %.2f ms)\n", 43 * ms,
              43 * bytes / (kHbmTBs * 1e12) * 1e3);
  CK(cudaDeviceSynchronize());
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) g_quick = g_quick || std::strcmp(argv[i], "--quick") == 0;
  if (k::device_count() == 0) {
    std::printf("bench_cuda_kernels: no CUDA device visible; nothing measured.\n");
    return 0;
  }
  cudaDeviceProp prop{};
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s, %d SMs, %.0f MB L2; roofline %.1f TB/s, FP8 %.0f / BF16 %.0f TFLOP/s "
              "(SIMT FP32 ~%.0f)\n",
              prop.name, prop.multiProcessorCount, prop.l2CacheSize / 1e6, kHbmTBs, kFp8TFlops,
              kBf16TFlops, kFp32TFlops);
  std::printf("FP8/FP4 GEMMs: exact path on FP32 SIMT cores (bit-identical to the CPU); "
              "[tensor core] = opt-in mma.sync E4M3 path (close, not bit-exact).\n");
  // FP8 linears at V4-Flash shapes: wq_b (1024 -> 32768), wo_b (8192 -> 4096).
  bench_fp8("wq_b decode", 1, 1024, 32768);
  bench_fp8("wo_b decode", 1, 8192, 4096);
  bench_fp8("wq_b decode", 64, 1024, 32768);
  bench_fp8("wo_b decode", 64, 8192, 4096);
  if (!g_quick) {
    bench_fp8("wq_b prefill", 4096, 1024, 32768);
    bench_fp8("wo_b prefill", 4096, 8192, 4096);
  }
  bench_moe(1, 256, 6, 4096, 2048);
  bench_moe(64, 256, 6, 4096, 2048);
  if (!g_quick) bench_moe(4096, 256, 6, 4096, 2048);
  bench_attention(1, 640, 4096);
  bench_attention(1, 8320, 16384);
  if (!g_quick) bench_attention(4096, 640, 8192);
  bench_decode_layer();
  return 0;
}
