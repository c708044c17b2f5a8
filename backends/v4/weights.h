#pragma once
// The tensor inventory of a DeepSeek-V4 checkpoint (v4-model.md §2.2) derived from its config,
// the check of a Checkpoint against it, and the §6 tiny random checkpoint writer.

#include <cstdint>
#include <string>
#include <vector>

#include "backends/v4/config.h"
#include "backends/v4/safetensors.h"
#include "harness/status.h"

namespace v4eval::v4 {

// How a tensor is used: plain, or the code tensor of a block-scaled FP8 / group-scaled FP4
// weight (its `.scale` sibling is listed separately with role kScale).
enum class TensorRole { kPlain, kFp8Weight, kFp4Weight, kScale };

struct TensorSpec {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  TensorRole role = TensorRole::kPlain;
  int layer = -1;  // -1: global; L: the MTP block
};

// Every tensor the official format holds for `config`, MTP block included.
std::vector<TensorSpec> expected_tensors(const V4Config& config);

// Checks that `ck` holds exactly the expected tensors with the expected dtypes and shapes.
// DataError naming the first offending tensor and its file.
Status validate_checkpoint(const Checkpoint& ck, const V4Config& config);

// Writes the §6 tiny checkpoint (or another small config) with random weights in the official
// format into `dir` (created): config.json, generation_config.json, 3 shards and
// model.safetensors.index.json. FP8 weights with varied E8M0 block scales, packed FP4 experts
// with varied E8M0 group scales, tid2eid rows of distinct experts, non-zero sinks/ape/biases.
Status write_random_checkpoint(const std::string& dir, const Json& config_json, uint64_t seed);

}  // namespace v4eval::v4
