#pragma once
// Safetensors checkpoints: one file or shards listed by model.safetensors.index.json, memory-
// mapped read-only. Every header is validated when opened (JSON, dtypes, offsets inside the
// file, sizes matching shapes, no overlaps), so a truncated or corrupted shard is an error value
// naming the file and tensor, never a crash. Also writes files (make-tiny, tests).

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness/status.h"

namespace v4eval::v4 {

enum class DType { kBF16, kF32, kF8E4M3, kF8E8M0, kI8, kI64, kU8, kF16, kI32 };
const char* dtype_name(DType t);  // as in safetensors headers: "BF16", "F8_E4M3", ...
size_t dtype_size(DType t);

struct TensorView {
  std::string name;
  std::string file;  // shard file name (for messages)
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // into the mapping; valid while the Checkpoint lives
  size_t bytes = 0;
  int64_t numel() const;
};

class Checkpoint {
 public:
  // Opens DIR: with model.safetensors.index.json, the shards of its weight_map (every tensor
  // must be in the shard the index names); otherwise every *.safetensors file in DIR.
  // Errors: NotFound (no checkpoint), DataError (a malformed index or shard; names the file).
  static Result<std::unique_ptr<Checkpoint>> open(const std::string& dir);
  ~Checkpoint();
  Checkpoint(const Checkpoint&) = delete;
  Checkpoint& operator=(const Checkpoint&) = delete;

  const TensorView* find(const std::string& name) const;
  // The tensor, checked for dtype and shape; DataError naming tensor and file otherwise.
  Result<const TensorView*> get(const std::string& name, DType dtype,
                                const std::vector<int64_t>& shape) const;
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::string& dir() const { return dir_; }

 private:
  Checkpoint() = default;
  struct Mapping;
  std::string dir_;
  std::vector<std::unique_ptr<Mapping>> maps_;
  std::map<std::string, TensorView> tensors_;
};

// A tensor to write.
struct TensorData {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

// Writes one safetensors file (tensors in name order, 8-byte aligned header).
Status write_safetensors(const std::string& path, const std::map<std::string, TensorData>& tensors,
                         const std::map<std::string, std::string>& metadata = {});

}  // namespace v4eval::v4
