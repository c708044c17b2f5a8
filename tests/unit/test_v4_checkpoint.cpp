// v4 checkpoints: the tiny random checkpoint in the official format (make-tiny), opened with the
// safetensors loader and validated against its config; corrupted and truncated shards are
// errors naming the file and tensor.

#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "backends/v4/config.h"
#include "backends/v4/safetensors.h"
#include "backends/v4/weights.h"
#include "kernels/numeric.h"
#include "tests/unit/test_support.h"

namespace {

using v4eval::test::TempDir;
using v4eval::test::read_all;
using v4eval::test::write_all;

using v4eval::Json;
using v4eval::StatusCode;
using namespace v4eval::v4;
namespace fs = std::filesystem;

const char* kShard2 = "model-00002-of-00003.safetensors";

}  // namespace

TEST_CASE("v4 checkpoint: make-tiny writes a valid official-format checkpoint", "[v4][checkpoint]") {
  TempDir dir;
  REQUIRE(write_random_checkpoint(dir.str(), tiny_config_json(), 1).ok());
  auto config = load_config(dir.str() + "/config.json");
  REQUIRE(config.ok());
  auto ck = Checkpoint::open(dir.str());
  REQUIRE(ck.ok());
  CHECK(validate_checkpoint(**ck, *config).ok());
  const auto& tensors = (*ck)->tensors();
  // §6: FP8 weights with E8M0 block scales, packed FP4 experts, tid2eid, MTP block.
  auto wq_b = (*ck)->get("layers.1.attn.wq_b.scale", DType::kF8E8M0, {2, 1});
  REQUIRE(wq_b.ok());
  auto e = (*ck)->get("layers.3.ffn.experts.2.w1.weight", DType::kI8, {128, 64});
  REQUIRE(e.ok());
  CHECK((*ck)->get("layers.3.ffn.experts.2.w1.scale", DType::kF8E8M0, {128, 4}).ok());
  auto tid = (*ck)->get("layers.1.ffn.gate.tid2eid", DType::kI64, {256, 2});
  REQUIRE(tid.ok());
  for (int64_t row = 0; row < 256; ++row) {
    int64_t a, b;
    std::memcpy(&a, (*tid)->data + 16 * row, 8);
    std::memcpy(&b, (*tid)->data + 16 * row + 8, 8);
    REQUIRE(a != b);
    REQUIRE(a >= 0);
    REQUIRE(a < 4);
    REQUIRE(b >= 0);
    REQUIRE(b < 4);
  }
  CHECK(tensors.count("layers.2.ffn.gate.bias"));
  CHECK(!tensors.count("layers.2.ffn.gate.tid2eid"));
  CHECK(tensors.count("mtp.0.e_proj.weight"));
  CHECK(tensors.count("mtp.0.hc_head_fn"));
  CHECK(!tensors.count("mtp.0.attn.compressor.ape"));
  CHECK((*ck)->get("layers.2.attn.compressor.ape", DType::kF32, {128, 128}).ok());
  CHECK((*ck)->get("layers.1.attn.compressor.ape", DType::kF32, {4, 256}).ok());
  CHECK((*ck)->get("layers.1.attn.indexer.compressor.ape", DType::kF32, {4, 128}).ok());
  // Scales vary; sinks are non-zero.
  std::set<uint8_t> scale_bytes;
  for (const auto& [name, v] : tensors)
    if (v.dtype == DType::kF8E8M0)
      for (size_t i = 0; i < v.bytes; ++i) scale_bytes.insert(v.data[i]);
  CHECK(scale_bytes.size() >= 4);
  auto sink = (*ck)->get("layers.0.attn.attn_sink", DType::kF32, {2});
  REQUIRE(sink.ok());
  float s0;
  std::memcpy(&s0, (*sink)->data, 4);
  CHECK(s0 != 0.0f);
  // Parameter count of §6: about 2.4M.
  int64_t params = 0;
  for (const auto& [name, v] : tensors)
    if (v.dtype != DType::kF8E8M0) params += v.numel() * (v.dtype == DType::kI8 ? 2 : 1);
  CHECK(params > 2000000);
  CHECK(params < 3000000);
  // Same seed, same bytes.
  TempDir again;
  REQUIRE(write_random_checkpoint(again.str(), tiny_config_json(), 1).ok());
  CHECK(read_all(dir.str() + "/" + kShard2) == read_all(again.str() + "/" + kShard2));
}

TEST_CASE("v4 checkpoint: official Flash inventory size", "[v4][checkpoint]") {
  // The §2.2 table reproduces the official index's total_size exactly (v4-model.md §2.1).
  Json c = tiny_config_json();
  c["vocab_size"] = 129280; c["hidden_size"] = 4096; c["num_hidden_layers"] = 43;
  c["num_attention_heads"] = 64; c["head_dim"] = 512; c["q_lora_rank"] = 1024;
  c["o_groups"] = 8; c["o_lora_rank"] = 1024; c["n_routed_experts"] = 256;
  c["num_experts_per_tok"] = 6; c["moe_intermediate_size"] = 2048; c["num_hash_layers"] = 3;
  c["sliding_window"] = 128; c["index_n_heads"] = 64; c["index_head_dim"] = 128;
  c["index_topk"] = 512;
  Json ratios = Json::array({0, 0});
  for (int i = 0; i < 20; ++i) ratios.push_back(4), ratios.push_back(128);
  ratios.push_back(4);
  ratios.push_back(0);
  c["compress_ratios"] = ratios;
  auto config = parse_config(c, "flash");
  REQUIRE(config.ok());
  uint64_t total = 0;
  for (const auto& t : expected_tensors(*config)) {
    uint64_t n = dtype_size(t.dtype);
    for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
    total += n;
  }
  CHECK(total == 159609485896ull);
}

TEST_CASE("v4 checkpoint: corrupted and truncated shards are clear errors", "[v4][checkpoint]") {
  TempDir dir;
  REQUIRE(write_random_checkpoint(dir.str(), tiny_config_json(), 2).ok());
  const std::string shard = dir.str() + "/" + kShard2;
  const std::string good = read_all(shard);
  auto expect_error = [&](const std::string& what, const std::string& needle) {
    auto ck = Checkpoint::open(dir.str());
    INFO(what);
    REQUIRE_FALSE(ck.ok());
    CHECK(ck.status().code() == StatusCode::kDataError);
    CHECK(ck.status().message().find(needle) != std::string::npos);
    CHECK(ck.status().message().find(kShard2) != std::string::npos);
  };
  write_all(shard, good.substr(0, good.size() - 100));
  expect_error("truncated data", "outside");
  write_all(shard, good.substr(0, 5));
  expect_error("truncated header", "truncated");
  std::string bad_len = good;
  uint64_t huge = uint64_t{1} << 40;
  std::memcpy(bad_len.data(), &huge, 8);
  write_all(shard, bad_len);
  expect_error("header length", "header length");
  std::string garbage = good;
  garbage[10] = '\x01';
  garbage[11] = '{';
  write_all(shard, garbage);
  expect_error("garbage header", "header");
  write_all(shard, good);
  REQUIRE(Checkpoint::open(dir.str()).ok());

  // Index naming a tensor that is not in the shard.
  const std::string index_path = dir.str() + "/model.safetensors.index.json";
  const std::string index = read_all(index_path);
  Json idx = Json::parse(index);
  idx["weight_map"]["layers.9.attn.wkv.weight"] = kShard2;
  write_all(index_path, idx.dump());
  expect_error("index", "layers.9.attn.wkv.weight");
  write_all(index_path, index);

  // A shape that does not match the config: the validator names tensor and file.
  auto ck = Checkpoint::open(dir.str());
  REQUIRE(ck.ok());
  Json other = tiny_config_json();
  other["moe_intermediate_size"] = 256;
  auto config = parse_config(other, "other");
  REQUIRE(config.ok());
  v4eval::Status st = validate_checkpoint(**ck, *config);
  CHECK(st.code() == StatusCode::kDataError);
  CHECK(st.message().find("expected") != std::string::npos);
  CHECK((st.message().find(".safetensors") != std::string::npos ||
         st.message().find("missing") != std::string::npos));
  auto wrong = (*ck)->get("layers.0.attn.wkv.weight", DType::kBF16, {128, 128});
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.status().message().find("layers.0.attn.wkv.weight") != std::string::npos);
  CHECK(wrong.status().message().find("model-00001-of-00003.safetensors") != std::string::npos);

  // A missing shard.
  fs::remove(shard);
  auto missing = Checkpoint::open(dir.str());
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message().find(kShard2) != std::string::npos);
  CHECK(Checkpoint::open(dir.str() + "/nope").status().code() == StatusCode::kNotFound);
}

TEST_CASE("v4 checkpoint: safetensors round trip of every dtype", "[v4][checkpoint]") {
  TempDir dir;
  std::map<std::string, TensorData> t;
  t["a"] = {DType::kBF16, {2, 3}, std::vector<uint8_t>(12, 1)};
  t["b"] = {DType::kF32, {1}, std::vector<uint8_t>(4, 2)};
  t["c"] = {DType::kF8E4M3, {4}, {1, 2, 3, 4}};
  t["d"] = {DType::kF8E8M0, {2}, {127, 128}};
  t["e"] = {DType::kI8, {3}, {5, 6, 7}};
  t["f"] = {DType::kI64, {1}, std::vector<uint8_t>(8, 9)};
  REQUIRE(write_safetensors(dir.str() + "/model.safetensors", t).ok());
  auto ck = Checkpoint::open(dir.str());
  REQUIRE(ck.ok());
  REQUIRE((*ck)->tensors().size() == 6);
  for (const auto& [name, data] : t) {
    const TensorView* v = (*ck)->find(name);
    REQUIRE(v != nullptr);
    CHECK(v->dtype == data.dtype);
    CHECK(v->shape == data.shape);
    CHECK(std::vector<uint8_t>(v->data, v->data + v->bytes) == data.bytes);
  }
  TensorData wrong{DType::kF32, {3}, std::vector<uint8_t>(4)};
  CHECK(write_safetensors(dir.str() + "/x.safetensors", {{"w", wrong}}).code() ==
        StatusCode::kInvalidArgument);
}
