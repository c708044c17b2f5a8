#pragma once
// The DeepSeek-V4 forward pass on the CPU reference ops (v4-model.md §3.1–§3.11), split into
// the immutable Model (weights, memory-mapped) and a Sequence (the per-sequence state of §4.1).
// Every number is computed by kernels/ops.h; this file only moves data between the ops.
//
// Usage: auto model = Model::load(dir); auto seq = model->new_sequence();
//        seq->prefill(prompt_ids, LogitRows::kLast); seq->decode(id); ...
// The MTP block is loaded and validated but never run (speculative decoding only, §3.12).

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backends/v4/config.h"
#include "backends/v4/safetensors.h"
#include "harness/status.h"

namespace v4eval::v4 {

struct ModelOptions {
  // Accept compress ratios other than {0, 4, 128} (test checkpoints, §6).
  bool allow_test_ratios = false;
  // Largest sequence length a Sequence accepts; 0: the config's max_position_embeddings.
  int64_t max_context = 0;
};

// Which positions of a prefill/decode call get logits.
enum class LogitRows {
  kAll,   // every position of the call (tests, `v4 forward --all-logits`)
  kLast,  // the last position only (generation: the head is the costliest op of a tiny model)
};

struct Logits {
  int64_t rows = 0;
  int64_t vocab = 0;
  std::vector<float> values;  // [rows, vocab] FP32
  const float* row(int64_t r) const { return values.data() + r * vocab; }
};

class Model;
struct SequenceForward;  // model.cpp

// The state of one sequence (§4.1): per layer the window ring, the compressor partial blocks
// (with the CSA A-halves carry) and the compressed KV / indexer key caches. Positions start at
// 0 and advance with every token passed to prefill() or decode(); chunk boundaries may fall
// anywhere and give the same logits as one call (the §3.9 visibility rule). Not thread-safe;
// one Sequence per thread. The Model must outlive it.
class Sequence {
 public:
  ~Sequence();
  Sequence(const Sequence&) = delete;
  Sequence& operator=(const Sequence&) = delete;

  // Runs the tokens at positions [length(), length() + ids.size()) and returns their logits
  // (all rows or the last). Errors: InvalidArgument for an empty call, an id >= vocab_size or
  // a sequence that would exceed max_context (the state is then unchanged).
  Result<Logits> prefill(std::span<const uint32_t> ids, LogitRows rows = LogitRows::kAll);
  // One token; the same as prefill({id}).
  Result<Logits> decode(uint32_t id);

  // Forgets everything: the next call starts at position 0.
  void reset();
  int64_t length() const { return length_; }
  const Model& model() const { return *model_; }

 private:
  friend class Model;
  friend struct SequenceForward;
  struct LayerState;
  explicit Sequence(const Model* model);
  const Model* model_;
  int64_t length_ = 0;
  std::vector<LayerState> layers_;
};

// A loaded checkpoint. Immutable after load(): any number of Sequences may run on it at once.
class Model {
 public:
  // Opens DIR (config.json + safetensors shards), validates every tensor against the config
  // (§2.2), keeps the weights memory-mapped and folds the wo_a scales into BF16 copies (§2.4 a).
  // Errors: NotFound (no config/checkpoint), DataError naming the file and tensor.
  static Result<std::unique_ptr<Model>> load(const std::string& dir,
                                             const ModelOptions& options = {});
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const V4Config& config() const { return config_; }
  int64_t max_context() const { return max_context_; }
  std::unique_ptr<Sequence> new_sequence() const;

 private:
  friend class Sequence;
  friend struct SequenceForward;
  struct Weights;
  Model();
  V4Config config_;
  int64_t max_context_ = 0;
  std::unique_ptr<Checkpoint> checkpoint_;
  std::unique_ptr<Weights> weights_;
};

}  // namespace v4eval::v4
