#pragma once
// The CUDA stream every kernels::cuda op enqueues on, per host thread. Default: the legacy
// default stream (0). Ops are stream-ordered; scratch memory comes from the stream-ordered
// allocator (cudaMallocAsync) on the same stream, so no op synchronises except sample_token.

#include <cuda_runtime_api.h>

namespace v4eval::kernels::cuda {

// The stream of the calling host thread.
cudaStream_t current_stream();
// Sets the calling thread's stream; returns the previous one. The caller owns the stream.
cudaStream_t set_stream(cudaStream_t stream);

// How FP8/FP4 linears with more than 8 rows run (decode-sized calls always take the exact
// path). kExact (default): SIMT FP32, bit-identical to the CPU reference. kTensorCore:
// mma.sync E4M3 tensor cores, per-chunk scaling as the reference but the tensor core's order
// and precision inside a 128- (FP8) or 32-value (FP4) chunk: close, not bit-exact.
enum class GemmMode { kExact, kTensorCore };
GemmMode gemm_mode();                     // the calling thread's mode
GemmMode set_gemm_mode(GemmMode mode);    // returns the previous one

// Number of visible CUDA devices, 0 when there is no driver or no device (never throws).
int device_count();

// RAII: sets a stream for the lifetime of the object.
class StreamScope {
 public:
  explicit StreamScope(cudaStream_t stream) : previous_(set_stream(stream)) {}
  ~StreamScope() { set_stream(previous_); }
  StreamScope(const StreamScope&) = delete;
  StreamScope& operator=(const StreamScope&) = delete;

 private:
  cudaStream_t previous_;
};

}  // namespace v4eval::kernels::cuda
