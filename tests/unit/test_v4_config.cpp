// v4 config.json parsing and validation (v4-model.md §1): the official Flash and Pro configs
// (rebuilt from the §1.1 table), the §6 tiny config, and rejections.

#include <catch2/catch.hpp>
#include <string>

#include "backends/v4/config.h"

namespace {

using v4eval::Json;
using v4eval::StatusCode;
using namespace v4eval::v4;

Json flash_config() {
  Json c = tiny_config_json();
  c["vocab_size"] = 129280;
  c["hidden_size"] = 4096;
  c["num_hidden_layers"] = 43;
  c["num_attention_heads"] = 64;
  c["head_dim"] = 512;
  c["q_lora_rank"] = 1024;
  c["o_groups"] = 8;
  c["o_lora_rank"] = 1024;
  c["n_routed_experts"] = 256;
  c["num_experts_per_tok"] = 6;
  c["moe_intermediate_size"] = 2048;
  c["num_hash_layers"] = 3;
  c["sliding_window"] = 128;
  Json ratios = Json::array({0, 0});
  for (int i = 0; i < 20; ++i) {
    ratios.push_back(4);
    ratios.push_back(128);
  }
  ratios.push_back(4);
  ratios.push_back(0);
  c["compress_ratios"] = ratios;
  c["index_n_heads"] = 64;
  c["index_head_dim"] = 128;
  c["index_topk"] = 512;
  c["max_position_embeddings"] = 1048576;
  c["attention_bias"] = false;
  c["attention_dropout"] = 0.0;
  c["initializer_range"] = 0.02;
  c["torch_dtype"] = "bfloat16";
  c["use_cache"] = true;
  c["transformers_version"] = "4.57.1";
  return c;
}

Json pro_config() {
  Json c = flash_config();
  c["hidden_size"] = 7168;
  c["num_hidden_layers"] = 61;
  c["num_attention_heads"] = 128;
  c["q_lora_rank"] = 1536;
  c["o_groups"] = 16;
  c["n_routed_experts"] = 384;
  c["moe_intermediate_size"] = 3072;
  c["routed_scaling_factor"] = 2.5;
  c["index_topk"] = 1024;
  Json ratios = Json::array({128, 128});
  for (int i = 0; i < 29; ++i) {
    ratios.push_back(4);
    ratios.push_back(128);
  }
  ratios.push_back(4);
  ratios.push_back(0);
  c["compress_ratios"] = ratios;
  return c;
}

}  // namespace

TEST_CASE("v4 config: official Flash and Pro configs", "[v4][config]") {
  auto flash = parse_config(flash_config(), "flash");
  REQUIRE(flash.ok());
  CHECK(flash->compress_ratios.size() == 44);
  CHECK(flash->layer_kind(0) == LayerKind::kWindow);
  CHECK(flash->layer_kind(2) == LayerKind::kCsa);
  CHECK(flash->layer_kind(3) == LayerKind::kHca);
  CHECK(flash->layer_kind(43) == LayerKind::kWindow);  // MTP
  CHECK(flash->nope_dim() == 448);
  CHECK(flash->hc_mix_width() == 24);
  CHECK(flash->fp4_experts);
  auto pro = parse_config(pro_config(), "pro");
  REQUIRE(pro.ok());
  CHECK(pro->layer_kind(0) == LayerKind::kHca);
  CHECK(pro->layer_kind(60) == LayerKind::kCsa);
  CHECK(pro->routed_scaling_factor == 2.5);
}

TEST_CASE("v4 config: the tiny config", "[v4][config]") {
  auto tiny = parse_config(tiny_config_json(), "tiny");
  REQUIRE(tiny.ok());
  CHECK(tiny->num_hidden_layers == 4);
  CHECK(tiny->layer_kind(1) == LayerKind::kCsa);
  CHECK(tiny->layer_kind(2) == LayerKind::kHca);
  CHECK(tiny->index_head_dim == 64);
  CHECK(tiny->yarn_factor == 16);
  CHECK(tiny->yarn_original_max_position == 65536);
  // The HCA-ratio-8 variant needs the test option.
  Json c = tiny_config_json();
  c["compress_ratios"] = Json::array({0, 4, 8, 4, 0});
  CHECK(parse_config(c, "t").status().code() == StatusCode::kDataError);
  ConfigOptions test;
  test.allow_test_ratios = true;
  auto r8 = parse_config(c, "t", test);
  REQUIRE(r8.ok());
  CHECK(r8->layer_kind(2) == LayerKind::kHca);
}

TEST_CASE("v4 config: rejections name the key", "[v4][config]") {
  auto reject = [](Json c, const std::string& key) {
    auto r = parse_config(c, "cfg.json");
    INFO(c.dump());
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kDataError);
    CHECK(r.status().message().find(key) != std::string::npos);
    CHECK(r.status().message().find("cfg.json") != std::string::npos);
  };
  Json c = tiny_config_json();
  c["dspark_num_layers"] = 3;
  reject(c, "dspark_num_layers");
  c = tiny_config_json();
  c.erase("hidden_size");
  reject(c, "hidden_size");
  c = tiny_config_json();
  c["hidden_size"] = 100;
  reject(c, "hidden_size");
  c = tiny_config_json();
  c["compress_ratios"] = Json::array({0, 4, 128, 4});
  reject(c, "compress_ratios");
  c = tiny_config_json();
  c["model_type"] = "deepseek_v3";
  reject(c, "model_type");
  c = tiny_config_json();
  c["num_key_value_heads"] = 2;
  reject(c, "num_key_value_heads");
  c = tiny_config_json();
  c["quantization_config"]["weight_block_size"] = Json::array({64, 64});
  reject(c, "weight_block_size");
  c = tiny_config_json();
  c["index_head_dim"] = 96;
  reject(c, "index_head_dim");
  c = tiny_config_json();
  c["vocab_size"] = "256";
  reject(c, "vocab_size");
  CHECK(load_config("/nonexistent/config.json").status().code() == StatusCode::kNotFound);
}
