#pragma once
// The numeric ops of the DeepSeek-V4 model (v4-model.md §3), one signature per op, with a CPU
// reference implementation in kernels/cpu/. Plain pointers and sizes, row-major, so that a CUDA
// implementation can keep the signatures. Activations are BF16 stored as uint16_t.
//
// Conventions: every pointer is host memory for the CPU reference (kernels/cpu/) and device
// memory for the CUDA implementation (kernels/cuda/, namespace v4eval::kernels::cuda, same
// signatures). Shapes are row-major; "rows" are tokens. FP32 scratch is the callee's business.

#include <cstdint>

namespace v4eval::kernels {

using bf16 = uint16_t;

#include "kernels/ops_decls.inc"  // every op, with its contract

}  // namespace v4eval::kernels
