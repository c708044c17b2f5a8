#pragma once
// V4Config: a DeepSeek-V4 `config.json` (v4-model.md §1.1), parsed and validated. Accepts the
// official V4-Flash and V4-Pro configs and the §6 tiny test config; refuses unknown top-level
// keys (e.g. the out-of-scope Flash-0731 `dspark_*` fields, §1.5) rather than ignoring them.

#include <cstdint>
#include <string>
#include <vector>

#include "harness/status.h"
#include "harness/types.h"

namespace v4eval::v4 {

// Per-layer attention type, from compress_ratios (§1.2).
enum class LayerKind {
  kWindow,  // ratio 0: sliding window only
  kCsa,     // ratio 4: overlapping compressor + lightning indexer + top-k
  kHca,     // ratio 128 (or another test ratio > 4): non-overlapping compressor, all entries
};

struct V4Config {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;          // d
  int64_t num_hidden_layers = 0;    // L (MTP not counted)
  int64_t num_attention_heads = 0;  // H
  int64_t head_dim = 0;             // D
  int64_t qk_rope_head_dim = 0;     // r
  int64_t q_lora_rank = 0;
  int64_t o_groups = 0;     // G
  int64_t o_lora_rank = 0;  // R
  int64_t n_routed_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t n_shared_experts = 0;
  int64_t moe_intermediate_size = 0;  // I
  int64_t num_hash_layers = 0;
  double routed_scaling_factor = 0;
  double swiglu_limit = 0;
  int64_t sliding_window = 0;
  std::vector<int64_t> compress_ratios;  // L + num_nextn_predict_layers entries
  double compress_rope_theta = 0;
  double rope_theta = 0;
  double yarn_factor = 0;
  int64_t yarn_original_max_position = 0;
  double yarn_beta_fast = 0;
  double yarn_beta_slow = 0;
  int64_t max_position_embeddings = 0;
  int64_t index_n_heads = 0;
  int64_t index_head_dim = 0;
  int64_t index_topk = 0;
  int64_t hc_mult = 0;
  int64_t hc_sinkhorn_iters = 0;
  double hc_eps = 0;
  double rms_norm_eps = 0;
  int64_t num_nextn_predict_layers = 0;
  int64_t bos_token_id = 0;
  int64_t eos_token_id = 1;
  bool fp4_experts = true;  // expert_dtype "fp4"; absent: FP8 experts (the -Base checkpoints)

  LayerKind layer_kind(int64_t layer) const;  // layer in [0, L + num_nextn_predict_layers)
  int64_t nope_dim() const { return head_dim - qk_rope_head_dim; }
  int64_t hc_mix_width() const { return (2 + hc_mult) * hc_mult; }
};

struct ConfigOptions {
  // Real checkpoints have ratios in {0, 4, 128}; tests may use other HCA ratios (v4-model §6).
  bool allow_test_ratios = false;
};

// Parses and validates. Errors are DataError naming `source` and the offending key.
Result<V4Config> parse_config(const Json& doc, const std::string& source,
                              const ConfigOptions& options = {});
Result<V4Config> load_config(const std::string& path, const ConfigOptions& options = {});

// The §6 tiny test configuration, as config.json text would hold it.
Json tiny_config_json();

}  // namespace v4eval::v4
