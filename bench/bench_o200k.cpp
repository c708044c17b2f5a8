// bench_o200k: o200k_base encoding speed of text::O200k against the npm package `tiktoken`
// (WASM), single-threaded, on ~1M tokens of real English text (SimpleQA questions and answers,
// LiveCodeBench problem statements, concatenated and repeated).
//
//   bench_o200k [--tokens N] [--repeats R] [--no-node]
//
// Prints tokens/s and MB/s of both and the ratio C++/tiktoken, and checks that both produced
// the same ids (count and FNV-1a hash). Needs V4EVAL_SHARED_DIR (or the compiled-in default)
// and, for the comparison, node with tools/node/node_modules/tiktoken (scripts/setup.sh).
//
// Link: v4eval_text (and through it v4eval_types, nlohmann_json, PCRE2); compile definitions
// V4EVAL_SOURCE_DIR and V4EVAL_SHARED_DIR as for the unit tests.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "suites/text/csv.h"
#include "suites/text/o200k.h"

namespace {

using v4eval::text::O200k;

std::string shared_dir() {
  if (const char* env = std::getenv("V4EVAL_SHARED_DIR")) return env;
  return V4EVAL_SHARED_DIR;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "bench_o200k: cannot open " << path << "\n";
    std::exit(1);
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// One pass over the English sources.
std::string english_corpus() {
  std::string out;
  const std::string csv_path = shared_dir() + "/data/simpleqa/simple_qa_test_set.csv";
  auto csv = v4eval::text::parse_csv(read_all(csv_path), csv_path);
  if (csv.ok()) {
    for (size_t i = 1; i < csv->size(); ++i) {
      const auto& f = (*csv)[i].fields;
      if (f.size() >= 3) out += f[1] + " " + f[2] + "\n";
    }
  }
  std::istringstream lcb(
      read_all(shared_dir() + "/data/livecodebench/lcb_release_v1_rows_public_tests_only.jsonl"));
  for (std::string line; std::getline(lcb, line);) {
    auto row = nlohmann::json::parse(line, nullptr, false);
    if (row.is_object() && row.contains("question_content") && row["question_content"].is_string())
      out += row["question_content"].get<std::string>() + "\n\n";
  }
  return out;
}

uint32_t fnv1a(const std::vector<uint32_t>& ids) {
  uint32_t h = 0x811c9dc5u;
  for (uint32_t id : ids) {
    for (int k = 0; k < 4; ++k) {
      h ^= (id >> (8 * k)) & 0xffu;
      h *= 0x01000193u;
    }
  }
  return h;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int run(int argc, char** argv) {
  size_t target_tokens = 1'000'000;
  int repeats = 5;
  bool run_node = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--tokens" && i + 1 < argc) {
      target_tokens = std::stoul(argv[++i]);
    } else if (a == "--repeats" && i + 1 < argc) {
      repeats = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--no-node") {
      run_node = false;
    } else {
      std::cerr << "usage: bench_o200k [--tokens N] [--repeats R] [--no-node]\n";
      return 2;
    }
  }

  auto t_load = std::chrono::steady_clock::now();
  auto tok = O200k::load(O200k::default_path());
  if (!tok.ok()) {
    std::cerr << "bench_o200k: " << tok.status().message() << "\n";
    return 1;
  }
  double load_s = seconds_since(t_load);
  const O200k& o200k = **tok;

  const std::string corpus = english_corpus();
  const size_t corpus_tokens = o200k.count(corpus);
  const size_t passes = std::max<size_t>(1, (target_tokens + corpus_tokens - 1) / corpus_tokens);
  std::string text;
  text.reserve(corpus.size() * passes);
  for (size_t i = 0; i < passes; ++i) text += corpus;

  std::vector<uint32_t> ids;
  std::vector<double> encode_s, count_s;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    ids = o200k.encode(text);
    encode_s.push_back(seconds_since(t0));
    t0 = std::chrono::steady_clock::now();
    volatile size_t n = o200k.count(text);
    (void)n;
    count_s.push_back(seconds_since(t0));
  }
  std::sort(encode_s.begin(), encode_s.end());
  std::sort(count_s.begin(), count_s.end());
  const double mb = static_cast<double>(text.size()) / 1e6;
  const double tokens = static_cast<double>(ids.size());

  std::printf("o200k_base, single thread, %zu bytes (%.2f MB), %zu tokens (%zu passes of %zu)\n",
              text.size(), mb, ids.size(), passes, corpus_tokens);
  std::printf("  C++ load ranks          %8.1f ms\n", load_s * 1e3);
  std::printf("  C++ encode   best %7.1f ms  median %7.1f ms  %6.2f M tokens/s  %6.1f MB/s\n",
              encode_s.front() * 1e3, encode_s[encode_s.size() / 2] * 1e3,
              tokens / encode_s.front() / 1e6, mb / encode_s.front());
  std::printf("  C++ count    best %7.1f ms  median %7.1f ms  %6.2f M tokens/s  %6.1f MB/s\n",
              count_s.front() * 1e3, count_s[count_s.size() / 2] * 1e3,
              tokens / count_s.front() / 1e6, mb / count_s.front());
  if (!run_node) return 0;

  // The same text through the npm package.
  auto dir = std::filesystem::temp_directory_path() /
             ("bench_o200k_" + std::to_string(static_cast<long>(getpid())));
  std::filesystem::create_directories(dir);
  const std::string text_path = (dir / "text.txt").string();
  const std::string out_path = (dir / "node.json").string();
  std::ofstream(text_path, std::ios::binary) << text;
  std::string cmd = "node '" + std::string(V4EVAL_SOURCE_DIR) + "/bench/tiktoken_bench.mjs' '" +
                    text_path + "' " + std::to_string(repeats) + " > '" + out_path + "'";
  int rc = std::system(cmd.c_str());
  std::string node_out = read_all(out_path);
  std::filesystem::remove_all(dir);
  auto node = nlohmann::json::parse(node_out, nullptr, false);
  if (rc != 0 || !node.is_object()) {
    std::fprintf(stderr, "bench_o200k: node reference failed (exit %d): %s\n", rc,
                 node_out.c_str());
    return 1;
  }
  const double node_best = node["best_s"].get<double>();
  const double node_median = node["median_s"].get<double>();
  const auto node_tokens = node["tokens"].get<size_t>();
  std::printf(
      "  tiktoken     best %7.1f ms  median %7.1f ms  %6.2f M tokens/s  %6.1f MB/s"
      "  (npm tiktoken, WASM, encode_ordinary)\n",
      node_best * 1e3, node_median * 1e3, static_cast<double>(node_tokens) / node_best / 1e6,
      mb / node_best);
  std::printf("  ratio C++/tiktoken (throughput, best): encode %.2fx, count %.2fx\n",
              node_best / encode_s.front(), node_best / count_s.front());
  char hash[16];
  std::snprintf(hash, sizeof hash, "%08x", fnv1a(ids));
  const bool same = node_tokens == ids.size() && node["ids_fnv1a"].get<std::string>() == hash;
  std::printf("  ids identical: %s (C++ %zu tokens fnv1a %s, tiktoken %zu tokens fnv1a %s)\n",
              same ? "yes" : "NO", ids.size(), hash, node_tokens,
              node["ids_fnv1a"].get<std::string>().c_str());
  return same ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {  // bad flags, unreadable data
    std::cerr << "bench_o200k: " << e.what() << "\n";
    return 1;
  }
}
