#pragma once
// CUDA implementations of kernels/ops.h: the same ops with the same signatures, in namespace
// v4eval::kernels::cuda. Every pointer is device memory, except that sample_token returns its
// token on the host. Work is enqueued on the stream of kernels/cuda/stream.h (default: the
// legacy default stream) and is asynchronous unless noted; errors (bad launch, bad argument)
// throw std::runtime_error. Contracts and rounding points are those of ops.h; README.md
// (CUDA section) lists where a kernel's accumulation order differs from the CPU reference.

#include <cstdint>

#include "kernels/ops.h"

namespace v4eval::kernels::cuda {

using bf16 = uint16_t;

// The same declarations as ops.h. Notes for the device versions: rope_frequencies computes the
// table on the host with the CPU reference (bit-identical) and copies it to `freqs`;
// sample_token synchronises the stream (logits on the device, the token back on the host).
#include "kernels/ops_decls.inc"

}  // namespace v4eval::kernels::cuda
