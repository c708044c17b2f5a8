// bench_v4_tokenizer: encoding speed of v4::Tokenizer (the DeepSeek byte-level BPE),
// single-threaded, on real text: the SimpleQA CSV (English), the Chinese SimpleQA JSONL
// (Chinese) and LiveCodeBench statements (English + code/maths), each file encoded whole.
//
//   bench_v4_tokenizer [--repeats R]
//
// Prints, per file and in total, bytes, tokens, MB/s and tokens/s (best of R runs).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "backends/v4/tokenizer.h"

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 3;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--repeats") repeats = std::max(1, std::atoi(argv[i + 1]));
  const char* env = std::getenv("V4EVAL_SHARED_DIR");
  const std::string data = std::string(env ? env : V4EVAL_SHARED_DIR) + "/data";
  auto load_start = std::chrono::steady_clock::now();
  auto tok = v4eval::v4::Tokenizer::load(v4eval::v4::Tokenizer::default_path());
  if (!tok.ok()) {
    std::fprintf(stderr, "bench_v4_tokenizer: %s\n", tok.status().message().c_str());
    return 1;
  }
  double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  std::printf("tokenizer.json load: %.2f s\n", load_s);
  const std::vector<std::string> files = {
      data + "/simpleqa/simple_qa_test_set.csv",
      data + "/chinese_simpleqa/chinese_simpleqa.jsonl",
      data + "/livecodebench/lcb_release_v1_rows_public_tests_only.jsonl"};
  double total_bytes = 0, total_tokens = 0, total_s = 0;
  for (const auto& f : files) {
    std::string text = read_all(f);
    double best = 1e30;
    size_t n = 0;
    for (int r = 0; r < repeats; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      n = (*tok)->encode(text).size();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("%-48s %9zu bytes %8zu tokens %7.2f MB/s %10.0f tokens/s\n",
                f.substr(f.rfind('/') + 1).c_str(), text.size(), n, text.size() / best / 1e6,
                n / best);
    total_bytes += double(text.size());
    total_tokens += double(n);
    total_s += best;
  }
  std::printf("total: %.2f MB/s, %.0f tokens/s\n", total_bytes / total_s / 1e6,
              total_tokens / total_s);
  return 0;
}
