#include "backends/v4/weights.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <set>

#include "kernels/numeric.h"

namespace v4eval::v4 {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

class SpecList {
 public:
  std::vector<TensorSpec> out;
  int layer = -1;
  void plain(const std::string& name, DType t, std::vector<int64_t> shape) {
    out.push_back({name, t, std::move(shape), TensorRole::kPlain, layer});
  }
  void fp8(const std::string& name, int64_t o, int64_t i) {
    out.push_back({name + ".weight", DType::kF8E4M3, {o, i}, TensorRole::kFp8Weight, layer});
    out.push_back({name + ".scale", DType::kF8E8M0, {ceil_div(o, 128), ceil_div(i, 128)},
                   TensorRole::kScale, layer});
  }
  void fp4(const std::string& name, int64_t o, int64_t i) {
    out.push_back({name + ".weight", DType::kI8, {o, i / 2}, TensorRole::kFp4Weight, layer});
    out.push_back({name + ".scale", DType::kF8E8M0, {o, i / 32}, TensorRole::kScale, layer});
  }
};

}  // namespace

std::vector<TensorSpec> expected_tensors(const V4Config& c) {
  SpecList s;
  const int64_t d = c.hidden_size, V = c.vocab_size, hc = c.hc_mult, mix = c.hc_mix_width();
  const int64_t H = c.num_attention_heads, D = c.head_dim, G = c.o_groups, R = c.o_lora_rank;
  const int64_t I = c.moe_intermediate_size, E = c.n_routed_experts;
  s.plain("embed.weight", DType::kBF16, {V, d});
  s.plain("head.weight", DType::kBF16, {V, d});
  s.plain("norm.weight", DType::kBF16, {d});
  s.plain("hc_head_fn", DType::kF32, {hc, hc * d});
  s.plain("hc_head_base", DType::kF32, {hc});
  s.plain("hc_head_scale", DType::kF32, {1});
  const int64_t L = c.num_hidden_layers;
  for (int64_t i = 0; i < L + c.num_nextn_predict_layers; ++i) {
    s.layer = static_cast<int>(i);
    const bool mtp = i >= L;
    const std::string p = mtp ? "mtp." + std::to_string(i - L) + "." : "layers." + std::to_string(i) + ".";
    for (const char* w : {"attn", "ffn"}) {
      s.plain(p + "hc_" + w + "_fn", DType::kF32, {mix, hc * d});
      s.plain(p + "hc_" + w + "_base", DType::kF32, {mix});
      s.plain(p + "hc_" + w + "_scale", DType::kF32, {3});
    }
    s.plain(p + "attn_norm.weight", DType::kBF16, {d});
    s.plain(p + "ffn_norm.weight", DType::kBF16, {d});
    s.fp8(p + "attn.wq_a", c.q_lora_rank, d);
    s.plain(p + "attn.q_norm.weight", DType::kBF16, {c.q_lora_rank});
    s.fp8(p + "attn.wq_b", H * D, c.q_lora_rank);
    s.fp8(p + "attn.wkv", D, d);
    s.plain(p + "attn.kv_norm.weight", DType::kBF16, {D});
    s.fp8(p + "attn.wo_a", G * R, H * D / G);
    s.fp8(p + "attn.wo_b", d, G * R);
    s.plain(p + "attn.attn_sink", DType::kF32, {H});
    const int64_t ratio = c.compress_ratios[static_cast<size_t>(i)];
    if (ratio != 0) {
      const int64_t cw = (ratio == 4 ? 2 : 1) * D;
      s.plain(p + "attn.compressor.wkv.weight", DType::kBF16, {cw, d});
      s.plain(p + "attn.compressor.wgate.weight", DType::kBF16, {cw, d});
      s.plain(p + "attn.compressor.ape", DType::kF32, {ratio, cw});
      s.plain(p + "attn.compressor.norm.weight", DType::kBF16, {D});
    }
    if (ratio == 4) {
      const int64_t Hi = c.index_n_heads, Di = c.index_head_dim;
      s.fp8(p + "attn.indexer.wq_b", Hi * Di, c.q_lora_rank);
      s.plain(p + "attn.indexer.weights_proj.weight", DType::kBF16, {Hi, d});
      s.plain(p + "attn.indexer.compressor.wkv.weight", DType::kBF16, {2 * Di, d});
      s.plain(p + "attn.indexer.compressor.wgate.weight", DType::kBF16, {2 * Di, d});
      s.plain(p + "attn.indexer.compressor.ape", DType::kF32, {4, 2 * Di});
      s.plain(p + "attn.indexer.compressor.norm.weight", DType::kBF16, {Di});
    }
    s.plain(p + "ffn.gate.weight", DType::kBF16, {E, d});
    if (!mtp && i < c.num_hash_layers) {
      s.plain(p + "ffn.gate.tid2eid", DType::kI64, {V, c.num_experts_per_tok});
    } else {
      s.plain(p + "ffn.gate.bias", DType::kF32, {E});
    }
    s.fp8(p + "ffn.shared_experts.w1", I, d);
    s.fp8(p + "ffn.shared_experts.w3", I, d);
    s.fp8(p + "ffn.shared_experts.w2", d, I);
    for (int64_t e = 0; e < E; ++e) {
      const std::string x = p + "ffn.experts." + std::to_string(e) + ".";
      if (c.fp4_experts) {
        s.fp4(x + "w1", I, d);
        s.fp4(x + "w3", I, d);
        s.fp4(x + "w2", d, I);
      } else {
        s.fp8(x + "w1", I, d);
        s.fp8(x + "w3", I, d);
        s.fp8(x + "w2", d, I);
      }
    }
    if (mtp) {
      s.fp8(p + "e_proj", d, d);
      s.fp8(p + "h_proj", d, d);
      s.plain(p + "enorm.weight", DType::kBF16, {d});
      s.plain(p + "hnorm.weight", DType::kBF16, {d});
      s.plain(p + "norm.weight", DType::kBF16, {d});
      s.plain(p + "hc_head_fn", DType::kF32, {hc, hc * d});
      s.plain(p + "hc_head_base", DType::kF32, {hc});
      s.plain(p + "hc_head_scale", DType::kF32, {1});
    }
  }
  return s.out;
}

Status validate_checkpoint(const Checkpoint& ck, const V4Config& config) {
  std::set<std::string> expected;
  for (const TensorSpec& t : expected_tensors(config)) {
    auto got = ck.get(t.name, t.dtype, t.shape);
    if (!got.ok()) return got.status();
    expected.insert(t.name);
  }
  for (const auto& [name, view] : ck.tensors()) {
    if (!expected.count(name))
      return DataError("checkpoint " + ck.dir() + ": unexpected tensor " + name + " in " +
                       view.file + " (not part of this config's model)");
  }
  return Status::Ok();
}

namespace {

template <class T>
void put(std::vector<uint8_t>* bytes, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  bytes->insert(bytes->end(), p, p + sizeof(T));
}

// Random contents for one tensor. `fan_in` sets the effective weight scale of linears.
TensorData random_tensor(const TensorSpec& t, const V4Config& c, std::mt19937_64& rng) {
  using namespace v4eval::kernels;
  TensorData out;
  out.dtype = t.dtype;
  out.shape = t.shape;
  int64_t n = 1;
  for (int64_t x : t.shape) n *= x;
  out.bytes.reserve(static_cast<size_t>(n) * dtype_size(t.dtype));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> u4(0, 3);
  auto ends_with = [&](const char* suffix) {
    std::string s(suffix);
    return t.name.size() >= s.size() && t.name.compare(t.name.size() - s.size(), s.size(), s) == 0;
  };
  const int64_t fan_in = t.shape.size() == 2 ? t.shape[1] : 1;
  switch (t.role) {
    case TensorRole::kFp8Weight:
      for (int64_t i = 0; i < n; ++i) put(&out.bytes, f32_to_e4m3(normal(rng) * 32.0f));
      return out;
    case TensorRole::kFp4Weight:
      for (int64_t i = 0; i < n; ++i) put(&out.bytes, static_cast<uint8_t>(rng() & 0xff));
      return out;
    case TensorRole::kScale: {
      // Effective std = code std * 2^(b - 127) ~ 1/sqrt(fan in); codes have std ~32 (FP8) or
      // ~3 (FP4), so b is centred accordingly and varied by up to 3 between blocks/groups.
      const bool fp4 = c.fp4_experts && t.name.find(".experts.") != std::string::npos;
      const int64_t in = fp4 ? t.shape[1] * 32 : t.shape[1] * 128;
      const double code_std = fp4 ? 3.0 : 32.0;
      int base = 127 - static_cast<int>(std::lround(std::log2(code_std * std::sqrt(double(in))))) - 1;
      for (int64_t i = 0; i < n; ++i) put(&out.bytes, static_cast<uint8_t>(base + u4(rng)));
      return out;
    }
    case TensorRole::kPlain:
      break;
  }
  if (t.dtype == DType::kI64) {  // tid2eid: each row k distinct experts
    std::vector<int64_t> experts(static_cast<size_t>(c.n_routed_experts));
    for (int64_t row = 0; row < t.shape[0]; ++row) {
      std::iota(experts.begin(), experts.end(), 0);
      std::shuffle(experts.begin(), experts.end(), rng);
      for (int64_t k = 0; k < t.shape[1]; ++k) put(&out.bytes, experts[static_cast<size_t>(k)]);
    }
    return out;
  }
  // Floats: norms around 1, control tensors small and non-zero, linears ~ 1/sqrt(fan in).
  float mean = 0.0f, stddev = 1.0f / std::sqrt(float(fan_in));
  if (ends_with("norm.weight")) mean = 1.0f, stddev = 0.1f;
  else if (ends_with("embed.weight")) stddev = 1.0f;
  else if (ends_with("_fn")) stddev = 0.05f;
  else if (ends_with("_base")) stddev = 0.5f;
  else if (ends_with("_scale")) mean = 1.0f, stddev = 0.25f;
  else if (ends_with("attn_sink")) stddev = 1.0f;
  else if (ends_with("ape")) stddev = 0.5f;
  else if (ends_with("gate.bias")) stddev = 0.1f;
  for (int64_t i = 0; i < n; ++i) {
    float v = mean + stddev * normal(rng);
    if (t.dtype == DType::kBF16) put(&out.bytes, f32_to_bf16(v));
    else put(&out.bytes, v);
  }
  return out;
}

}  // namespace

Status write_random_checkpoint(const std::string& dir, const Json& config_json, uint64_t seed) {
  namespace fs = std::filesystem;
  ConfigOptions options;
  options.allow_test_ratios = true;
  auto config = parse_config(config_json, "make-tiny config", options);
  if (!config.ok()) return config.status();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir + ": " + ec.message());
  auto write_text = [&](const std::string& name, const std::string& text) -> Status {
    std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    return out ? Status::Ok() : IoError("cannot write " + dir + "/" + name);
  };
  if (Status s = write_text("config.json", config_json.dump(2) + "\n"); !s.ok()) return s;
  Json gen = {{"bos_token_id", config->bos_token_id}, {"eos_token_id", config->eos_token_id},
              {"do_sample", true}, {"temperature", 1.0}, {"top_p", 1.0}};
  if (Status s = write_text("generation_config.json", gen.dump(2) + "\n"); !s.ok()) return s;

  // Shards by layer as the official files are ordered: embed + first half of the layers,
  // second half, then head-of-model tensors and the MTP block.
  const int64_t L = config->num_hidden_layers;
  auto shard_of = [&](const TensorSpec& t) {
    if (t.layer < 0) return t.name == "embed.weight" ? 0 : 2;
    if (t.layer >= L) return 2;
    return t.layer < (L + 1) / 2 ? 0 : 1;
  };
  const int kShards = 3;
  std::vector<std::map<std::string, TensorData>> shards(kShards);
  std::mt19937_64 rng(seed * 0x9e3779b97f4a7c15ull + 12345);
  Json weight_map = Json::object();
  uint64_t total = 0;
  for (const TensorSpec& t : expected_tensors(*config)) {
    TensorData data = random_tensor(t, *config, rng);
    total += data.bytes.size();
    int k = shard_of(t);
    char name[64];
    std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", k + 1, kShards);
    weight_map[t.name] = name;
    shards[static_cast<size_t>(k)].emplace(t.name, std::move(data));
  }
  for (int k = 0; k < kShards; ++k) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", k + 1, kShards);
    Status s = write_safetensors(dir + "/" + name, shards[static_cast<size_t>(k)], {{"format", "pt"}});
    if (!s.ok()) return s;
  }
  Json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  return write_text("model.safetensors.index.json", index.dump(2) + "\n");
}

}  // namespace v4eval::v4
