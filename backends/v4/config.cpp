#include "backends/v4/config.h"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace v4eval::v4 {
namespace {

const std::set<std::string>& known_keys() {
  static const std::set<std::string> keys = {
      "architectures", "model_type", "vocab_size", "hidden_size", "num_hidden_layers",
      "num_attention_heads", "num_key_value_heads", "head_dim", "qk_rope_head_dim",
      "q_lora_rank", "o_groups", "o_lora_rank", "n_routed_experts", "num_experts_per_tok",
      "n_shared_experts", "moe_intermediate_size", "scoring_func", "topk_method",
      "norm_topk_prob", "routed_scaling_factor", "num_hash_layers", "swiglu_limit",
      "hidden_act", "sliding_window", "compress_ratios", "compress_rope_theta", "rope_theta",
      "rope_scaling", "max_position_embeddings", "index_n_heads", "index_head_dim",
      "index_topk", "hc_mult", "hc_sinkhorn_iters", "hc_eps", "rms_norm_eps",
      "num_nextn_predict_layers", "attention_bias", "attention_dropout", "initializer_range",
      "tie_word_embeddings", "bos_token_id", "eos_token_id", "torch_dtype", "use_cache",
      "transformers_version", "expert_dtype", "quantization_config"};
  return keys;
}

class Reader {
 public:
  Reader(const Json& doc, std::string source) : doc_(doc), source_(std::move(source)) {}
  Status error() const { return status_; }
  bool ok() const { return status_.ok(); }
  void fail(const std::string& key, const std::string& why) {
    if (status_.ok()) status_ = DataError(source_ + ": " + key + ": " + why);
  }
  int64_t integer(const std::string& key, int64_t min_value) {
    auto it = doc_.find(key);
    if (it == doc_.end()) return fail(key, "missing"), 0;
    if (!it->is_number_integer()) return fail(key, "not an integer"), 0;
    int64_t v = it->get<int64_t>();
    if (v < min_value) fail(key, "must be >= " + std::to_string(min_value));
    return v;
  }
  double number(const Json& obj, const std::string& key, const std::string& where) {
    auto it = obj.find(key);
    if (it == obj.end()) return fail(where + key, "missing"), 0;
    if (!it->is_number()) return fail(where + key, "not a number"), 0;
    return it->get<double>();
  }
  double number(const std::string& key) { return number(doc_, key, ""); }
  void expect_string(const std::string& key, const std::string& value, bool required = true) {
    auto it = doc_.find(key);
    if (it == doc_.end()) {
      if (required) fail(key, "missing");
      return;
    }
    if (!it->is_string() || it->get<std::string>() != value)
      fail(key, "must be \"" + value + "\", got " + it->dump());
  }
  void expect_bool(const std::string& key, bool value) {
    auto it = doc_.find(key);
    if (it == doc_.end()) return;
    if (!it->is_boolean() || it->get<bool>() != value)
      fail(key, std::string("must be ") + (value ? "true" : "false"));
  }

 private:
  const Json& doc_;
  std::string source_;
  Status status_;
};

bool is_power_of_two(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

}  // namespace

LayerKind V4Config::layer_kind(int64_t layer) const {
  int64_t r = compress_ratios.at(static_cast<size_t>(layer));
  return r == 0 ? LayerKind::kWindow : r == 4 ? LayerKind::kCsa : LayerKind::kHca;
}

Result<V4Config> parse_config(const Json& doc, const std::string& source,
                              const ConfigOptions& options) {
  if (!doc.is_object()) return DataError(source + ": not a JSON object");
  for (const auto& [key, value] : doc.items()) {
    if (!known_keys().count(key))
      return DataError(source + ": unknown key \"" + key +
                       "\" (not a DeepSeek-V4 Flash/Pro config; variants such as Flash-0731 are "
                       "not supported)");
  }
  Reader r(doc, source);
  V4Config c;
  r.expect_string("model_type", "deepseek_v4");
  if (auto it = doc.find("architectures"); it != doc.end() &&
      (*it != Json::array({"DeepseekV4ForCausalLM"})))
    r.fail("architectures", "must be [\"DeepseekV4ForCausalLM\"]");
  c.vocab_size = r.integer("vocab_size", 3);
  c.hidden_size = r.integer("hidden_size", 128);
  c.num_hidden_layers = r.integer("num_hidden_layers", 1);
  c.num_attention_heads = r.integer("num_attention_heads", 1);
  if (r.integer("num_key_value_heads", 1) != 1) r.fail("num_key_value_heads", "must be 1");
  c.head_dim = r.integer("head_dim", 1);
  c.qk_rope_head_dim = r.integer("qk_rope_head_dim", 2);
  c.q_lora_rank = r.integer("q_lora_rank", 128);
  c.o_groups = r.integer("o_groups", 1);
  c.o_lora_rank = r.integer("o_lora_rank", 1);
  c.n_routed_experts = r.integer("n_routed_experts", 1);
  c.num_experts_per_tok = r.integer("num_experts_per_tok", 1);
  c.n_shared_experts = r.integer("n_shared_experts", 1);
  c.moe_intermediate_size = r.integer("moe_intermediate_size", 128);
  c.num_hash_layers = r.integer("num_hash_layers", 0);
  c.routed_scaling_factor = r.number("routed_scaling_factor");
  c.swiglu_limit = r.number("swiglu_limit");
  c.sliding_window = r.integer("sliding_window", 1);
  c.compress_rope_theta = r.number("compress_rope_theta");
  c.rope_theta = r.number("rope_theta");
  c.max_position_embeddings = r.integer("max_position_embeddings", 1);
  c.index_n_heads = r.integer("index_n_heads", 1);
  c.index_head_dim = r.integer("index_head_dim", 32);
  c.index_topk = r.integer("index_topk", 1);
  c.hc_mult = r.integer("hc_mult", 1);
  c.hc_sinkhorn_iters = r.integer("hc_sinkhorn_iters", 1);
  c.hc_eps = r.number("hc_eps");
  c.rms_norm_eps = r.number("rms_norm_eps");
  c.num_nextn_predict_layers = r.integer("num_nextn_predict_layers", 0);
  c.bos_token_id = r.integer("bos_token_id", 0);
  c.eos_token_id = r.integer("eos_token_id", 0);
  r.expect_string("scoring_func", "sqrtsoftplus");
  r.expect_string("topk_method", "noaux_tc");
  r.expect_string("hidden_act", "silu");
  r.expect_bool("norm_topk_prob", true);
  r.expect_bool("tie_word_embeddings", false);
  r.expect_bool("attention_bias", false);

  if (auto it = doc.find("expert_dtype"); it != doc.end()) {
    if (*it != "fp4") r.fail("expert_dtype", "must be \"fp4\" (or absent: FP8 experts)");
  } else {
    c.fp4_experts = false;
  }
  if (auto it = doc.find("rope_scaling"); it == doc.end() || !it->is_object()) {
    r.fail("rope_scaling", "missing");
  } else {
    const Json& rs = *it;
    std::string type = rs.value("type", rs.value("rope_type", ""));
    if (type != "yarn") r.fail("rope_scaling.type", "must be \"yarn\"");
    c.yarn_factor = r.number(rs, "factor", "rope_scaling.");
    c.yarn_beta_fast = r.number(rs, "beta_fast", "rope_scaling.");
    c.yarn_beta_slow = r.number(rs, "beta_slow", "rope_scaling.");
    auto om = rs.find("original_max_position_embeddings");
    if (om == rs.end() || !om->is_number_integer() || om->get<int64_t>() < 1)
      r.fail("rope_scaling.original_max_position_embeddings", "missing or not a positive integer");
    else
      c.yarn_original_max_position = om->get<int64_t>();
  }
  if (auto it = doc.find("quantization_config"); it == doc.end() || !it->is_object()) {
    r.fail("quantization_config", "missing");
  } else {
    const Json& q = *it;
    if (q.value("quant_method", "") != "fp8") r.fail("quantization_config.quant_method", "must be fp8");
    if (q.value("fmt", "") != "e4m3") r.fail("quantization_config.fmt", "must be e4m3");
    if (q.value("scale_fmt", "") != "ue8m0") r.fail("quantization_config.scale_fmt", "must be ue8m0");
    if (q.value("activation_scheme", "") != "dynamic")
      r.fail("quantization_config.activation_scheme", "must be dynamic");
    if (!q.contains("weight_block_size") || q["weight_block_size"] != Json::array({128, 128}))
      r.fail("quantization_config.weight_block_size", "must be [128, 128]");
  }
  if (auto it = doc.find("compress_ratios"); it == doc.end() || !it->is_array()) {
    r.fail("compress_ratios", "missing or not an array");
  } else {
    for (const auto& v : *it) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0) {
        r.fail("compress_ratios", "entries must be non-negative integers");
        break;
      }
      c.compress_ratios.push_back(v.get<int64_t>());
    }
  }
  if (!r.ok()) return r.error();

  // Structural constraints (block sizes of the FP8/FP4 formats, shapes of §2.2).
  auto check = [&](bool ok, const std::string& key, const std::string& why) {
    if (!ok) r.fail(key, why);
  };
  const int64_t L = c.num_hidden_layers;
  check(static_cast<int64_t>(c.compress_ratios.size()) == L + c.num_nextn_predict_layers,
        "compress_ratios", "must have num_hidden_layers + num_nextn_predict_layers entries");
  for (size_t i = 0; i < c.compress_ratios.size(); ++i) {
    int64_t ratio = c.compress_ratios[i];
    bool real = ratio == 0 || ratio == 4 || ratio == 128;
    bool test = ratio == 0 || ratio >= 2;
    if (!(options.allow_test_ratios ? test : real))
      r.fail("compress_ratios[" + std::to_string(i) + "]",
             std::to_string(ratio) + " is not 0, 4 or 128");
  }
  if (c.num_nextn_predict_layers > 0 && !c.compress_ratios.empty())
    check(c.compress_ratios.back() == 0, "compress_ratios", "the MTP block must be window-only");
  check(c.hidden_size % 128 == 0, "hidden_size", "must be a multiple of 128");
  check(c.q_lora_rank % 128 == 0, "q_lora_rank", "must be a multiple of 128");
  check(c.qk_rope_head_dim % 2 == 0 && c.qk_rope_head_dim < c.head_dim, "qk_rope_head_dim",
        "must be even and smaller than head_dim");
  check(c.nope_dim() % 64 == 0, "head_dim", "head_dim - qk_rope_head_dim must be a multiple of 64");
  check(c.num_attention_heads % c.o_groups == 0, "o_groups", "must divide num_attention_heads");
  check(c.num_attention_heads * c.head_dim / c.o_groups % 128 == 0, "o_groups",
        "group width H*D/G must be a multiple of 128");
  check(c.o_groups * c.o_lora_rank % 128 == 0, "o_lora_rank", "G*R must be a multiple of 128");
  check(c.moe_intermediate_size % 128 == 0, "moe_intermediate_size", "must be a multiple of 128");
  check(c.n_shared_experts == 1, "n_shared_experts", "must be 1");
  check(c.num_experts_per_tok <= c.n_routed_experts, "num_experts_per_tok",
        "must be <= n_routed_experts");
  check(c.num_hash_layers <= L, "num_hash_layers", "must be <= num_hidden_layers");
  check(is_power_of_two(c.index_head_dim) && c.index_head_dim >= c.qk_rope_head_dim,
        "index_head_dim", "must be a power of two (Hadamard) >= qk_rope_head_dim");
  check(c.index_head_dim * c.index_n_heads % 128 == 0, "index_n_heads",
        "index_n_heads * index_head_dim must be a multiple of 128");
  check(c.bos_token_id < c.vocab_size && c.eos_token_id < c.vocab_size, "eos_token_id",
        "BOS/EOS ids must be < vocab_size");
  check(c.hc_eps > 0 && c.rms_norm_eps > 0, "hc_eps", "epsilons must be positive");
  check(c.yarn_factor >= 1, "rope_scaling.factor", "must be >= 1");
  if (!r.ok()) return r.error();
  return c;
}

Result<V4Config> load_config(const std::string& path, const ConfigOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("v4 config: cannot open " + path);
  std::ostringstream buf;
  buf << in.rdbuf();
  Json doc = Json::parse(buf.str(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return DataError(path + ": not valid JSON");
  return parse_config(doc, path, options);
}

Json tiny_config_json() {
  return Json::parse(R"({
  "architectures": ["DeepseekV4ForCausalLM"], "model_type": "deepseek_v4",
  "vocab_size": 256, "hidden_size": 128, "num_hidden_layers": 4,
  "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 128, "qk_rope_head_dim": 64,
  "q_lora_rank": 128, "o_groups": 2, "o_lora_rank": 128,
  "n_routed_experts": 4, "num_experts_per_tok": 2, "n_shared_experts": 1,
  "moe_intermediate_size": 128, "num_hash_layers": 2,
  "scoring_func": "sqrtsoftplus", "topk_method": "noaux_tc", "norm_topk_prob": true,
  "routed_scaling_factor": 1.5, "swiglu_limit": 10.0, "hidden_act": "silu",
  "sliding_window": 8, "compress_ratios": [0, 4, 128, 4, 0],
  "compress_rope_theta": 160000, "rope_theta": 10000,
  "rope_scaling": {"type": "yarn", "factor": 16, "original_max_position_embeddings": 65536,
                   "beta_fast": 32, "beta_slow": 1},
  "index_n_heads": 2, "index_head_dim": 64, "index_topk": 4,
  "hc_mult": 4, "hc_sinkhorn_iters": 20, "hc_eps": 1e-6, "rms_norm_eps": 1e-6,
  "num_nextn_predict_layers": 1, "max_position_embeddings": 4096,
  "bos_token_id": 0, "eos_token_id": 1, "tie_word_embeddings": false,
  "expert_dtype": "fp4",
  "quantization_config": {"quant_method": "fp8", "fmt": "e4m3", "scale_fmt": "ue8m0",
                          "activation_scheme": "dynamic", "weight_block_size": [128, 128]}
})");
}

}  // namespace v4eval::v4
