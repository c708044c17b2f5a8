// Host-side runtime of kernels/cuda: the per-thread stream, scratch memory, error reporting.

#include <cuda_runtime_api.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/cuda/stream.h"

namespace v4eval::kernels::cuda {

namespace {
thread_local cudaStream_t g_stream = nullptr;
thread_local GemmMode g_gemm_mode = GemmMode::kExact;
}  // namespace

GemmMode gemm_mode() { return g_gemm_mode; }

GemmMode set_gemm_mode(GemmMode mode) {
  GemmMode previous = g_gemm_mode;
  g_gemm_mode = mode;
  return previous;
}

cudaStream_t current_stream() { return g_stream; }

cudaStream_t set_stream(cudaStream_t stream) {
  cudaStream_t previous = g_stream;
  g_stream = stream;
  return previous;
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

namespace detail {

[[noreturn]] void throw_cuda(cudaError_t err, const char* what, const char* file, int line) {
  throw std::runtime_error(std::string("CUDA error ") + cudaGetErrorName(err) + " (" +
                           cudaGetErrorString(err) + ") in " + what + " at " + file + ":" +
                           std::to_string(line));
}

}  // namespace detail
}  // namespace v4eval::kernels::cuda
