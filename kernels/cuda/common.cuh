#pragma once
// Internal helpers shared by the .cu files of kernels/cuda (not a public header).

#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/cuda/stream.h"
#include "kernels/numeric.h"

namespace v4eval::kernels::cuda::detail {

[[noreturn]] void throw_cuda(cudaError_t err, const char* what, const char* file, int line);

#define V4_CUDA_CHECK(expr)                                                              \
  do {                                                                                   \
    cudaError_t v4_err_ = (expr);                                                        \
    if (v4_err_ != cudaSuccess)                                                          \
      ::v4eval::kernels::cuda::detail::throw_cuda(v4_err_, #expr, __FILE__, __LINE__);   \
  } while (0)
// After every launch: configuration errors surface here, execution errors at the next sync.
#define V4_LAUNCH_CHECK() V4_CUDA_CHECK(cudaGetLastError())

inline void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(std::string("kernels::cuda: ") + what);
}

inline unsigned blocks_for(int64_t work, int threads) {
  return static_cast<unsigned>((work + threads - 1) / threads);
}

// Keeps freed stream-ordered memory in the device's pool (no release at every sync).
inline void keep_pool_cached() {
  static thread_local int done_for = -1;
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev == done_for) return;
  cudaMemPool_t pool;
  if (cudaDeviceGetDefaultMemPool(&pool, dev) == cudaSuccess) {
    uint64_t threshold = UINT64_MAX;
    (void)cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold);
  }
  done_for = dev;
}

// Stream-ordered scratch: freed on the stream when the object dies.
class Scratch {
 public:
  explicit Scratch(size_t bytes) {
    if (bytes == 0) return;
    keep_pool_cached();
    V4_CUDA_CHECK(cudaMallocAsync(&ptr_, bytes, current_stream()));
  }
  ~Scratch() {
    if (ptr_ != nullptr) (void)cudaFreeAsync(ptr_, current_stream());
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
};

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Block-wide sum (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
// `red` is 32 floats of shared memory.
__device__ __forceinline__ float block_sum(float v, float* red) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  float t = lane < warps ? red[lane] : 0.0f;
  return warp_sum(t);
}

// The Sinkhorn projection of ops.h, same operation order as the CPU reference (§3.2 step 5).
__host__ __device__ inline void sinkhorn_inplace(float* c, int hc, int iters, float eps) {
  for (int j = 0; j < hc; ++j) {
    float m = c[j * hc];
    for (int k = 1; k < hc; ++k) m = fmaxf(m, c[j * hc + k]);
    float s = 0.0f;
    for (int k = 0; k < hc; ++k) s += (c[j * hc + k] = expf(c[j * hc + k] - m));
    for (int k = 0; k < hc; ++k) c[j * hc + k] = c[j * hc + k] / s + eps;
  }
  const int passes = iters > 1 ? iters : 1;  // the CPU always runs the first column pass
  for (int it = 0; it < passes; ++it) {
    if (it > 0) {
      for (int j = 0; j < hc; ++j) {
        float s = 0.0f;
        for (int k = 0; k < hc; ++k) s += c[j * hc + k];
        for (int k = 0; k < hc; ++k) c[j * hc + k] /= s + eps;
      }
    }
    for (int k = 0; k < hc; ++k) {
      float s = 0.0f;
      for (int j = 0; j < hc; ++j) s += c[j * hc + k];
      for (int j = 0; j < hc; ++j) c[j * hc + k] /= s + eps;
    }
  }
}

}  // namespace v4eval::kernels::cuda::detail
